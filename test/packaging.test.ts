import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};
const dockerfile = readFileSync('Dockerfile', 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages[stages.length - 1] ?? '';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

// No Docker engine runs here, so the image is checked against the build it packages.
describe('the Dockerfile and the build agree', () => {
  it('runs the same entry point as npm start: the compiled src/server.ts', () => {
    assert.match(pkg.scripts['start'] ?? '', /node dist\/server\.js$/);
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as {
      compilerOptions: Record<string, string>;
    };
    assert.equal(build.compilerOptions['outDir'], 'dist');
    assert.equal(build.compilerOptions['rootDir'], 'src');
    assert.match(runtime, /^CMD \["node", "dist\/server\.js"\]$/m);
  });

  it('builds in one stage and ships production dependencies only, as a non-root user on port 3000', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    assert.match(stages[0] ?? '', /RUN npm run build/);
    assert.match(runtime, /^node:\d+-[\w-]*slim AS runtime/);
    assert.match(runtime, /npm ci --omit=dev/);
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^EXPOSE 3000$/m);
    assert.match(runtime, /COPY --from=build \/app\/dist \.\/dist/);
  });

  it('lists every package that src/ imports at run time under dependencies, since the image omits devDependencies', () => {
    const missing = new Set<string>();
    for (const file of sourceFiles('src')) {
      const text = readFileSync(file, 'utf8');
      for (const [, kind, specifier = ''] of text.matchAll(/^import (type )?[^'"]*from '([^'.][^']*)'/gm)) {
        if (kind || specifier.startsWith('node:')) continue;
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : (specifier.split('/')[0] ?? '');
        if (!(name in pkg.dependencies)) missing.add(`${name} (${file})`);
      }
      for (const [, specifier = ''] of text.matchAll(/await import\('([^'.][^']*)'\)/g)) {
        if (!(specifier in pkg.dependencies)) missing.add(specifier);
      }
    }
    assert.deepEqual([...missing], []);
  });
});
