// Builds the package in the current directory into dist/ (each package's `build`, which its `prepack` runs), both ways:
// - ESM, as before: tsc -b (project references, so the core is built first), one .js and one .d.ts per source file.
//   Node's ESM users and the service load exactly these (the `import` condition).
// - CommonJS, for require(), Jest's default configuration and TypeScript's `module: node16` (the `require`
//   condition): one .cjs bundle per export by esbuild, with jose inside it. jose 6 is ESM only, and Jest's module
//   system cannot load ESM without --experimental-vm-modules (jestjs/jest#15716); every other dependency and peer
//   stays a require(). Its types are the .d.ts files again as .d.cts, which TypeScript reads as CommonJS.
// docs/development.md (Packages) says why this way and what it costs in bytes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** ESM-only dependencies that a CommonJS bundle carries inside it; any other dependency is required at run time. */
const bundled = new Set(['jose']);

interface Manifest {
  engines: { node: string };
  exports: Record<string, string | Record<string, string | Record<string, string>>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
const require = createRequire(import.meta.url);

// One build at a time in a checkout. tsc -b also builds the packages this one references (the core) when they are
// not up to date, into their dist/, and changesets packs and publishes up to four packages at once: without the lock
// an adapter's build could rewrite the core's dist/ while the core's own build cleans it or npm packs it.
const lock = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.cache', 'build-package.lock');
acquire(lock);
process.on('exit', () => rmSync(lock, { recursive: true, force: true }));

function acquire(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // A lock whose builder died (killed, crashed) is taken over; a live one is waited for.
    const holder = holderOf(path);
    if (holder > 0 && !alive(holder)) rmSync(path, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`${path} is held by process ${holder}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

/** The pid in the lock, or 0 while its holder has yet to write it (or has just let go). */
function holderOf(path: string): number {
  try {
    return Number(readFileSync(join(path, 'pid'), 'utf8'));
  } catch {
    return 0;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A clean dist/ every time: tsc -b trusts its build info and would not notice an output deleted since (nor remove
// what a deleted source file left), and the tarball must hold this build and nothing else.
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b'], { stdio: 'inherit' });

/** `index` → `./src/index.ts`: esbuild names each output by its key, without the extension. */
const entryPoints: Record<string, string> = {};
for (const [subpath, conditions] of Object.entries(manifest.exports)) {
  if (typeof conditions === 'string') continue;
  const source = conditions['source'];
  const cjs = conditions['require'];
  if (typeof source !== 'string' || typeof cjs !== 'object' || !cjs['default']?.match(/^\.\/dist\/[\w-]+\.cjs$/)) {
    throw new Error(`exports['${subpath}'] needs a source and a require condition with a ./dist/*.cjs default`);
  }
  entryPoints[cjs['default'].slice('./dist/'.length, -'.cjs'.length)] = source;
}
const external = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }).filter(
  (name) => !bundled.has(name),
);
/**
 * A subpath that imports the package's own public surface (`./index.js`: the adapter kit does) requires the main
 * bundle for it (`./index.cjs`) rather than carrying a second copy of the core, jose included: one copy on disk, and
 * one instance, as the ESM build has it.
 */
const oneCore: Plugin = {
  name: 'one-core',
  setup(builder) {
    builder.onResolve({ filter: /^\.\/index\.js$/ }, ({ kind }) =>
      kind === 'entry-point' ? undefined : { path: './index.cjs', external: true },
    );
  },
};
const result = await build({
  entryPoints,
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  // The oldest Node the package supports (`>=22.12` → node22.12): nothing is emitted that it cannot run.
  target: `node${manifest.engines.node.replace(/^>=/, '')}`,
  external: [...external, ...external.map((name) => `${name}/*`)],
  metafile: true,
  write: false,
  plugins: [oneCore],
  logLevel: 'warning',
});
// A bundled package's licence travels with each file that holds a copy of its code, as MIT asks; a file that holds
// none (dist/defaults.cjs) gets none.
for (const output of result.outputFiles) {
  const inputs = Object.keys(result.metafile.outputs[relative(process.cwd(), output.path)]?.inputs ?? {});
  const copied = [...bundled].filter((name) => inputs.some((input) => input.includes(`node_modules/${name}/`)));
  const notices = copied.map(licenceNotice).join('\n\n');
  writeFileSync(output.path, notices ? `/*!\n${notices}\n*/\n${output.text}` : output.text);
}

function licenceNotice(name: string): string {
  const manifestPath = require.resolve(`${name}/package.json`);
  const { version, license } = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string; license: string };
  const dir = dirname(manifestPath);
  const file = readdirSync(dir).find((entry) => /^licen[cs]e(\.md|\.txt)?$/i.test(entry));
  if (!file) throw new Error(`${name} has no licence file to bundle with it`);
  const text = readFileSync(join(dir, file), 'utf8').trim().replaceAll('*/', '* /');
  return `This file bundles ${name} ${version} (${license}):\n\n${text}`;
}

// The declarations again as CommonJS ones: a .d.cts beside each .d.ts, its relative imports pointing at .cjs (whose
// declarations are those .d.cts). A bundled package's types stay its own, read as the ESM they are: a type-only
// import with `resolution-mode: import` is allowed from CommonJS (TypeScript 5.3+), and nothing is required at run
// time. tsc writes such an import as `import type { A }` or, under verbatimModuleSyntax, `import { type A }`.
const bundledImport = new RegExp(`^import (type )?\\{([^}]*)\\} from '(${[...bundled].join('|')})';$`, 'gm');
function typeOnly(_line: string, typeKeyword: string | undefined, names: string, from: string): string {
  const specifiers = names
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (!typeKeyword && !specifiers.every((name) => name.startsWith('type '))) {
    throw new Error(`a declaration imports a value from ${from}, which the CommonJS build bundles: ${names}`);
  }
  const bare = specifiers.map((name) => name.replace(/^type /, '')).join(', ');
  return `import type { ${bare} } from '${from}' with { 'resolution-mode': 'import' };`;
}
const declarations = readdirSync('dist', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'));
for (const file of declarations) {
  const text = readFileSync(join('dist', file), 'utf8')
    .replace(/(from |import\()'(\.{1,2}\/[^']+)\.js'/g, "$1'$2.cjs'")
    .replace(bundledImport, typeOnly);
  writeFileSync(join('dist', file.replace(/\.d\.ts$/, '.d.cts')), text);
}
