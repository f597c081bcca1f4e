import assert from 'node:assert/strict';
import { execFile as execFileCallback, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const execFile = promisify(execFileCallback);

interface Manifest {
  name: string;
  version: string;
  type?: string;
  engines?: Record<string, string>;
  files?: string[];
  exports?: Record<string, Record<string, string> | string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const root = resolve('.');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const rootManifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
/** Every package under packages/, found rather than listed, so that a package added later is covered too. */
const packages = readdirSync('packages')
  .map((name) => join('packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest }));
const ours = (name: string) => name.startsWith('@product-service/');
const byName = new Map(packages.map((p) => [p.manifest.name, p]));

/** `.`, `./defaults`… with their conditions: the subpaths a consumer can import (not `./package.json`). */
function codeExports(manifest: Manifest): [string, Record<string, string>][] {
  return Object.entries(manifest.exports ?? {}).filter((entry): entry is [string, Record<string, string>] => {
    return typeof entry[1] === 'object';
  });
}
const specifier = (name: string, subpath: string) => (subpath === '.' ? name : `${name}/${subpath.slice(2)}`);

/** The package and, transitively, every sibling it depends on or expects as a peer: all of them come as tarballs. */
function siblingsOf(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  const { manifest } = byName.get(name) ?? assert.fail(`${name} is not under packages/`);
  for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
    if (ours(dep)) siblingsOf(dep, seen);
  }
  return seen;
}

/**
 * What a consumer's package.json lists to use `name`: the tarballs of it and of its siblings; the peers it must bring
 * (the framework) with their declared range, and their types where the package itself types against `@types/…`;
 * `@types/node` for the type check. Nothing of the workspace's own node_modules.
 */
function consumerDependencies(name: string, tarballs: Map<string, string>): Record<string, string> {
  const deps: Record<string, string> = {};
  const nodeTypes = rootManifest.devDependencies?.['@types/node'] ?? assert.fail('the root has @types/node');
  deps['@types/node'] = nodeTypes;
  for (const sibling of siblingsOf(name)) {
    deps[sibling] = `file:${tarballs.get(sibling) ?? assert.fail(`no tarball for ${sibling}`)}`;
    const { manifest } = byName.get(sibling) ?? assert.fail(sibling);
    for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (ours(peer)) continue;
      deps[peer] = range;
      const types = `@types/${peer.replace(/^@([^/]+)\//, '$1__')}`;
      const typesRange = manifest.devDependencies?.[types];
      if (typesRange) deps[types] = typesRange;
    }
  }
  return deps;
}

// As aws-jwt-verify's pack-install test does: what npm would publish, installed where nothing of this repository can
// be reached, imported by plain Node (no `source` condition, no tsx) and compiled against by tsc.
describe('every package under packages/, packed and installed as a consumer would', () => {
  let work: string;
  const packed = new Map<string, { tarball: string; files: Set<string> }>();
  const consumers = new Map<string, string>();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'product-service-publish-'));
    execFileSync(process.execPath, [tsc, '-b', ...packages.map((p) => p.dir)]);
    // One pack for all: npm pack --workspace … writes each tarball and lists its files.
    const out = execFileSync(
      'npm',
      [
        'pack',
        ...packages.flatMap((p) => ['--workspace', p.dir]),
        '--pack-destination',
        work,
        '--json',
        '--ignore-scripts',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    for (const result of JSON.parse(out) as { name: string; filename: string; files: { path: string }[] }[]) {
      packed.set(result.name, {
        tarball: join(work, result.filename),
        files: new Set(result.files.map((f) => f.path)),
      });
    }
    const tarballs = new Map([...packed].map(([name, p]) => [name, p.tarball]));
    // One install per package, side by side: each consumer is an empty folder with only what it declares.
    await Promise.all(
      packages.map(async ({ manifest }) => {
        const dir = join(work, `consumer-${manifest.name.replace(/\W+/g, '-')}`);
        mkdirSync(dir);
        const dependencies = consumerDependencies(manifest.name, tarballs);
        writeFileSync(
          join(dir, 'package.json'),
          JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }),
        );
        await execFile('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline'], {
          cwd: dir,
        });
        consumers.set(manifest.name, dir);
      }),
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('finds the workspace packages', () => {
    assert.ok(packages.length >= 3, packages.map((p) => p.dir).join(', '));
  });

  for (const { dir, manifest } of packages) {
    describe(manifest.name, () => {
      it('declares ESM only, Node 22.12 and up, its files, and typed exports; has a README', () => {
        assert.equal(manifest.type, 'module');
        assert.equal(manifest.engines?.['node'], '>=22.12');
        assert.ok(manifest.files && manifest.files.length > 0, 'files');
        assert.ok(existsSync(join(dir, 'README.md')), 'README.md');
        const entries = codeExports(manifest);
        assert.ok(entries.length > 0, 'exports');
        for (const [subpath, conditions] of entries) {
          assert.ok(conditions['types'], `${subpath}: types`);
          assert.ok(conditions['default'], `${subpath}: default`);
        }
      });

      it('packs its README, its manifest and every file its exports name, and neither sources nor tests', () => {
        const { files } = packed.get(manifest.name) ?? assert.fail('not packed');
        assert.ok(files.has('package.json') && files.has('README.md'), [...files].join(', '));
        for (const [subpath, conditions] of codeExports(manifest)) {
          for (const condition of ['types', 'default']) {
            const target = (conditions[condition] ?? '').replace(/^\.\//, '');
            assert.ok(files.has(target), `${subpath} ${condition}: ${target} is not in the tarball`);
          }
        }
        const strays = [...files].filter((f) => /^(src|test)\//.test(f) || f.endsWith('.tsbuildinfo'));
        assert.deepEqual(strays, []);
      });

      it('imports under plain Node from the installed tarball, with the names its source exports', async () => {
        const cwd = consumers.get(manifest.name) ?? assert.fail('not installed');
        for (const [subpath] of codeExports(manifest)) {
          const name = specifier(manifest.name, subpath);
          const script = `const m = await import(${JSON.stringify(name)}); console.log(JSON.stringify({ at: import.meta.resolve(${JSON.stringify(name)}), names: Object.keys(m).sort() }));`;
          // No --conditions=source and no tsx: the `default` condition, the compiled dist/.
          const { stdout } = await execFile(process.execPath, ['--input-type=module', '-e', script], { cwd });
          const installed = JSON.parse(stdout) as { at: string; names: string[] };
          assert.ok(installed.at.startsWith(`file://${cwd}/node_modules/`), installed.at);
          assert.match(installed.at, /\/dist\/[\w-]+\.js$/);
          // This test process runs with --conditions=source: the same specifier here is the TypeScript source.
          const source = Object.keys((await import(name)) as object).sort();
          assert.ok(source.length > 0);
          assert.deepEqual(installed.names, source, name);
        }
      });

      it('type-checks a consumer (NodeNext, strict, library declarations checked) against its declarations', async () => {
        const cwd = consumers.get(manifest.name) ?? assert.fail('not installed');
        const lines: string[] = [];
        const used: string[] = [];
        for (const [index, [subpath]] of codeExports(manifest).entries()) {
          const name = specifier(manifest.name, subpath);
          lines.push(`import * as m${index} from '${name}';`);
          // Every name Node exports must be declared: a missing or misnamed declaration fails here.
          for (const exported of Object.keys((await import(name)) as object)) used.push(`m${index}.${exported}`);
        }
        lines.push(`export const used: readonly unknown[] = [${used.join(', ')}];`, '');
        writeFileSync(join(cwd, 'consumer.ts'), lines.join('\n'));
        writeFileSync(
          join(cwd, 'tsconfig.json'),
          JSON.stringify({
            compilerOptions: {
              module: 'NodeNext',
              moduleResolution: 'NodeNext',
              target: 'ES2023',
              strict: true,
              noEmit: true,
              skipLibCheck: false,
              types: ['node'],
            },
            files: ['consumer.ts'],
          }),
        );
        const checked = await execFile(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd }).then(
          () => '',
          (error: unknown) => (error as { stdout?: string }).stdout ?? 'tsc did not run',
        );
        assert.equal(checked, '', 'tsc found errors');
      });
    });
  }
});
