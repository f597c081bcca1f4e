import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * What `npm run build` emits, in a directory of its own (`<dir>/dist`) beside this checkout's packages, for a test
 * that runs `node dist/server.js` as the image does. Emitted without a second type check: `npm test` type-checks the
 * same sources first. The caller removes the directory.
 */
export function buildDist(name: string): string {
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
