import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * What `npm run build` emits, in a directory of its own (`<dir>/dist`) beside this checkout's packages, for a test
 * that runs `node dist/server.js` as the image does. The workspace packages are built in place first (`tsc -b`, which
 * does nothing when they are up to date): `dist/server.js` imports them through their `dist/`, which a fresh clone
 * lacks. Emitted without a second type check: `npm test` type-checks the same sources first. The caller removes the
 * directory.
 */
export function buildDist(name: string): string {
  const packages = readdirSync('packages').map((entry) => join('packages', entry));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', ...packages]);
  const dir = mkdtempSync(join(tmpdir(), `product-service-${name}-`));
  execFileSync(process.execPath, [
    'node_modules/typescript/bin/tsc',
    '-p',
    'tsconfig.build.json',
    '--noCheck',
    '--outDir',
    join(dir, 'dist'),
  ]);
  cpSync('package.json', join(dir, 'package.json'));
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
  return dir;
}
