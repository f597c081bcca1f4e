import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { parse } from 'yaml';
import {
  onThePage,
  quickStartBlocks,
  quickStartPages,
  runQuickStarts,
  writeBlocks,
  type BlockRun,
  type CodeBlock,
} from './support/quick-starts.js';

const execFile = promisify(execFileCallback);

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  type?: string;
  main?: string;
  types?: string;
  engines?: Record<string, string>;
  files?: string[];
  repository?: { type: string; url: string; directory: string };
  bugs?: { url: string };
  homepage?: string;
  scripts?: Record<string, string>;
  publishConfig?: Record<string, unknown>;
  exports?: Record<string, Conditions | string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
type Conditions = { source: string } & Record<'import' | 'require', { types: string; default: string }>;
interface Packed {
  name: string;
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

const root = resolve('.');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const attw = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
const rootManifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
/** Every package under packages/, found rather than listed, so that a package added later is covered too. */
const packages = readdirSync('packages')
  .map((name) => join('packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest }));
const ours = (name: string) => name.startsWith('@product-service/');
const byName = new Map(packages.map((p) => [p.manifest.name, p]));
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js');

/** `.`, `./defaults`… with their conditions: the subpaths a consumer can import (not `./package.json`). */
function codeExports(manifest: Manifest): [string, Conditions][] {
  return Object.entries(manifest.exports ?? {}).filter((entry): entry is [string, Conditions] => {
    return typeof entry[1] === 'object';
  });
}
const specifier = (name: string, subpath: string) => (subpath === '.' ? name : `${name}/${subpath.slice(2)}`);
const ourDependencies = (manifest: Manifest) =>
  Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }).filter(ours);

/** The package and, transitively, every sibling it depends on or expects as a peer: all of them come as tarballs. */
function siblingsOf(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  const { manifest } = byName.get(name) ?? assert.fail(`${name} is not under packages/`);
  for (const dep of ourDependencies(manifest)) siblingsOf(dep, seen);
  return seen;
}

/**
 * What a consumer's package.json lists to use `names`: their tarballs and their siblings'; the peers they must bring
 * (the framework) with their declared range, and their types where the package itself types against `@types/…`;
 * `@types/node` for the type check. Nothing of the workspace's own node_modules.
 */
function consumerDependencies(names: string[], tarballs: Map<string, string>): Record<string, string> {
  const deps: Record<string, string> = {};
  const nodeTypes = rootManifest.devDependencies?.['@types/node'] ?? assert.fail('the root has @types/node');
  deps['@types/node'] = nodeTypes;
  for (const sibling of new Set(names.flatMap((name) => [...siblingsOf(name)]))) {
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

/**
 * Exactly what a tarball holds: the manifest, README and LICENSE, and from each source file its ESM module and its
 * declarations twice (`.d.ts` for `import`, `.d.cts` for `require`), and one CommonJS bundle per export. Nothing
 * else: no sources, tests, maps or build info.
 */
function expectedFiles(dir: string, manifest: Manifest): string[] {
  const sources = readdirSync(join(dir, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return [
    'LICENSE',
    'README.md',
    'package.json',
    ...sources.flatMap((f) => ['.js', '.d.ts', '.d.cts'].map((ext) => `dist/${f.replace(/\.ts$/, ext)}`)),
    ...codeExports(manifest).map(([, c]) => c.require.default.replace(/^\.\//, '')),
  ].sort();
}

/** Every file an export names, both conditions, code and types. */
function allTargets(manifest: Manifest): string[] {
  return codeExports(manifest)
    .flatMap(([, c]) => [c.import.types, c.import.default, c.require.types, c.require.default])
    .map((target) => target.replace(/^\.\//, ''));
}

/** The export targets that `files` lacks: none for a complete tarball. */
function missingTargets(manifest: Manifest, files: Set<string>): string[] {
  return allTargets(manifest).filter((target) => !files.has(target));
}

/** The files a fresh clone has: what git tracks, and new files it does not ignore (so no dist/, no node_modules). */
async function copyAsCloned(to: string): Promise<void> {
  const { stdout } = await execFile('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(root, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(root, file), join(to, file));
  }
}

async function npmPack(cwd: string, destination: string, extra: string[] = []): Promise<Packed> {
  const { stdout } = await execFile('npm', ['pack', '--json', '--pack-destination', destination, ...extra], { cwd });
  // npm prints the JSON last; the prepack's own output (`> … build`) may come before it.
  const [result] = JSON.parse(stdout.slice(stdout.search(/^\[$/m))) as Packed[];
  return result ?? assert.fail(`npm pack printed no result in ${cwd}`);
}

async function install(dir: string, manifest: object): Promise<void> {
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  await execFile('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline'], { cwd: dir });
}

/** attw's verdict on a tarball under the node16 profile (node10 resolution ignored): '' when it finds nothing. */
async function typesProblems(tarball: string): Promise<string> {
  return execFile(process.execPath, [attw, tarball, '--profile', 'node16', '--format', 'ascii']).then(
    () => '',
    (error: unknown) => (error as { stdout?: string }).stdout || String(error),
  );
}

/** publint's messages on a tarball, at every level (errors, warnings and suggestions), strict. */
async function publintMessages(tarball: string): Promise<string[]> {
  const bytes = readFileSync(tarball);
  const { messages, pkg } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: 'suggestion',
    strict: true,
  });
  return messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`);
}

/** At most two CPU-bound children at a time (tsc, attw, jest), beside the installs, which mostly wait on the disk. */
function limiter(slots: number): <T>(work: () => Promise<T>) => Promise<T> {
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else slots += 1;
  };
  return async (work) => {
    if (slots > 0) slots -= 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      release();
    }
  };
}

/** A promise started now and awaited by a test later: its rejection is that test's failure, not an unhandled one. */
function started<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

async function tscErrors(cwd: string): Promise<string> {
  return execFile(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd }).then(
    () => '',
    (error: unknown) => (error as { stdout?: string }).stdout ?? 'tsc did not run',
  );
}

interface Loaded {
  at: string;
  names: string[];
}

/**
 * Type-checks, in a consumer folder, an ES module and a CommonJS module (`.cts`) that each use every name the package
 * exports at run time: a missing or misnamed declaration, in `.d.ts` or `.d.cts`, fails here. `module: node16`, where
 * a CommonJS file cannot import ESM (TS1479), so that `.d.cts` falling back to ESM declarations fails too.
 */
async function typeCheckConsumer(cwd: string, manifest: Manifest): Promise<string> {
  const imports: string[] = [];
  const requires: string[] = [];
  const used: string[] = [];
  for (const [index, [subpath]] of codeExports(manifest).entries()) {
    const name = specifier(manifest.name, subpath);
    imports.push(`import * as m${index} from '${name}';`);
    requires.push(`import m${index} = require('${name}');`);
    for (const exported of Object.keys((await import(name)) as object)) used.push(`m${index}.${exported}`);
  }
  const usage = `export const used: readonly unknown[] = [${used.join(', ')}];`;
  writeFileSync(join(cwd, 'consumer.ts'), [...imports, usage, ''].join('\n'));
  writeFileSync(join(cwd, 'consumer.cts'), [...requires, usage, ''].join('\n'));
  writeFileSync(
    join(cwd, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
      },
      files: ['consumer.ts', 'consumer.cts'],
    }),
  );
  return tscErrors(cwd);
}

/** The node adapter's tarball with two faults: `require` given ESM types (attw) and an export with no file (publint). */
async function breakTarball(tarball: string, work: string): Promise<string> {
  const broken = join(work, 'broken');
  mkdirSync(broken);
  await execFile('tar', ['-xzf', tarball, '-C', broken]);
  const dir = join(broken, 'package');
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  const [, conditions] = codeExports(manifest)[0] ?? assert.fail('no export');
  conditions.require.types = conditions.import.types;
  (manifest.exports ?? {})['./missing'] = './dist/missing.js';
  delete manifest.scripts;
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  const result = await npmPack(dir, broken);
  return join(broken, result.filename);
}

interface JestResults {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { message: string; assertionResults: { fullName: string; status: string }[] }[];
}

/**
 * Jest (the repository's, pinned by its lockfile) run in the project folder with no configuration at all: its
 * defaults, CommonJS and babel-jest, as `npx jest` in a new project. The project's node_modules has only the tarballs
 * and the frameworks, which is where Jest resolves the test file's require() calls.
 */
async function runJest(project: string): Promise<JestResults> {
  copyFileSync(join(root, 'test', 'consumers', 'jest', 'packages.test.cjs'), join(project, 'packages.test.cjs'));
  await execFile(process.execPath, [jest, '--ci', '--json', '--outputFile=results.json'], { cwd: project }).catch(
    () => undefined, // failures are in results.json
  );
  return JSON.parse(readFileSync(join(project, 'results.json'), 'utf8')) as JestResults;
}

interface Answer {
  status: number;
  challenge?: string;
  body: string;
}
interface Node16Report {
  clockToleranceSec: number;
  answers: Record<string, Record<'withoutToken' | 'withToken', Answer>>;
}

/**
 * The TypeScript project: compiled to CommonJS (`module: node16`, a package.json without "type"), then run.
 * skipLibCheck as `tsc --init` sets it: express 5 and koa 3 in one project make @types/koa read the types that
 * content-disposition 1 (express's) ships, which lack `Options` (TS2694), none of ours. Our `.d.cts` are checked with
 * skipLibCheck off by each package's own consumer.
 */
async function buildAndRunNode16(project: string): Promise<Node16Report> {
  copyFileSync(join(root, 'test', 'consumers', 'node16', 'main.ts'), join(project, 'main.ts'));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        target: 'ES2022',
        strict: true,
        esModuleInterop: true,
        skipLibCheck: true,
        outDir: 'out',
        types: ['node'],
      },
      files: ['main.ts'],
    }),
  );
  assert.equal(await tscErrors(project), '', 'tsc found errors');
  const emitted = readFileSync(join(project, 'out', 'main.js'), 'utf8');
  assert.match(emitted, /require\("@product-service\/bearer-express"\)/, 'compiled to CommonJS');
  const { stdout } = await execFile(process.execPath, ['out/main.js'], { cwd: project });
  return JSON.parse(stdout) as Node16Report;
}

/**
 * The negative control for the code-block checks, in the same installed project: the core's first quick start (it
 * used `req`, `res` and `path` it never defined) type-checked alone, and Express's first (`/hello` listed as public
 * with no handler for it) served.
 */
async function checkBrokenQuickStart(project: string): Promise<{ errors: string; runs: BlockRun[] }> {
  const broken: CodeBlock[] = [
    {
      at: 'packages/bearer/README.md:10',
      file: 'broken-core.ts',
      mode: 'check',
      code: [
        "import { cognito, createAuthenticator } from '@product-service/bearer';",
        "const auth = createAuthenticator({ issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null })] });",
        'const outcome = await auth.authenticate({ method: req.method, path, headers: req.headers });',
        "if ('refusal' in outcome) res.writeHead(outcome.refusal.status).end();",
        '',
      ].join('\n'),
    },
    {
      at: 'packages/bearer-express/README.md:9',
      file: 'broken-express.ts',
      mode: 'serve',
      code: [
        "import express from 'express';",
        "import { cognito, createAuthenticator, createRoutePolicy, publicAccess } from '@product-service/bearer';",
        "import { bearer, requireGroups, requireScopes } from '@product-service/bearer-express';",
        "const issuers = [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: ['my-app-client'] })];",
        "const policy = createRoutePolicy([{ method: 'GET', path: '/hello', access: publicAccess }]);",
        'const app = express();',
        'app.use(bearer({ authenticator: createAuthenticator({ issuers }), policy }));',
        "app.get('/items', requireScopes('items/read'), (_req, res) => res.json({}));",
        "app.delete('/items/:id', requireGroups('admins'), (_req, res) => res.status(204).end());",
        'app.listen(3000);',
        '',
      ].join('\n'),
    },
  ];
  const [core, served] = broken as [CodeBlock, CodeBlock];
  mkdirSync(join(project, 'broken'));
  writeFileSync(join(project, 'blocks', core.file), core.code);
  writeFileSync(join(project, 'blocks', served.file), served.code);
  const tsconfig = JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8')) as { include?: string[] };
  writeFileSync(
    join(project, 'broken', 'tsconfig.json'),
    JSON.stringify({ ...tsconfig, include: [`../blocks/${core.file}`] }),
  );
  const errors = await tscErrors(join(project, 'broken'));
  return {
    errors: onThePage(errors.replaceAll('../blocks/', 'blocks/'), broken),
    runs: await runQuickStarts(project, [served]),
  };
}

// As aws-jwt-verify's pack-install test does, from what a publisher has: a fresh copy of the repository (no dist/),
// `npm ci`, then `npm pack` in each package, whose prepack builds it. The tarballs are installed where nothing of this
// repository can be reached: imported and required by plain Node (no `source` condition, no tsx), compiled against by
// tsc, and used by a CommonJS project under Jest and by a TypeScript project compiled to CommonJS.
//
// Once the tarballs exist, every check runs at once (a test awaits its own): `npm test` runs one file at a time, so
// this file may use the second core while the installs wait on the disk.
describe('every package under packages/, packed from a fresh clone and installed as a consumer would', () => {
  let work: string;
  let clone: string;
  let copiedDist: string[];
  let unbuilt: Packed;
  const packed = new Map<string, Packed & { tarball: string; paths: Set<string> }>();
  const checks = new Map<string, { attw: Promise<string>; consumer: Promise<string>; typeErrors: Promise<string> }>();
  let brokenTarball: Promise<string>;
  let jestRun: Promise<JestResults>;
  let node16Run: Promise<Node16Report>;
  const blocks = quickStartBlocks(root);
  let quickStartErrors: Promise<string>;
  let quickStartRuns: Promise<BlockRun[]>;
  let brokenQuickStart: Promise<{ errors: string; runs: BlockRun[] }>;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'product-service-publish-'));
    clone = join(work, 'clone');
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    await copyAsCloned(clone);
    copiedDist = packages.map((p) => join(p.dir, 'dist')).filter((dist) => existsSync(join(clone, dist)));
    // The packages' own dependencies, their build tools among them (each package declares the typescript and esbuild
    // its prepack runs), not the service's: a third of the root install's time. From the npm cache when it has them.
    await execFile('npm', ['ci', '--workspaces', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone });
    // What npm packed before prepack existed, for the negative control: no build, so no dist/ in the tarball.
    unbuilt = await npmPack(join(clone, 'packages', 'bearer-node'), work, ['--dry-run', '--ignore-scripts']);

    const pack = async (dir: string) => {
      const result = await npmPack(join(clone, dir), tarballs);
      const tarball = join(tarballs, result.filename);
      packed.set(result.name, { ...result, tarball, paths: new Set(result.files.map((f) => f.path)) });
    };
    // A dependent first, alone on the fresh copy, so that its prepack has to build the core it compiles against
    // (tsc -b, project references); then all the others at once, as changesets packs and publishes them (up to four
    // at a time), which the build's lock keeps from writing the core's dist/ together.
    const [first, ...rest] = [...packages].sort(
      (a, b) => ourDependencies(b.manifest).length - ourDependencies(a.manifest).length,
    );
    if (first) await pack(first.dir);
    await Promise.all(rest.map((p) => pack(p.dir)));

    const cpu = limiter(2);
    const paths = new Map([...packed].map(([name, p]) => [name, p.tarball]));
    for (const { manifest } of packages) {
      const { tarball } = packed.get(manifest.name) ?? assert.fail(`${manifest.name} not packed`);
      // One install per package, side by side: each consumer is an empty folder with only what it declares.
      const dir = join(work, `consumer-${manifest.name.replace(/\W+/g, '-')}`);
      const installed = started(
        install(dir, {
          name: 'consumer',
          private: true,
          type: 'module',
          dependencies: consumerDependencies([manifest.name], paths),
        }),
      );
      const consumer = started(installed.then(() => dir));
      checks.set(manifest.name, {
        attw: started(cpu(() => typesProblems(tarball))),
        consumer,
        typeErrors: started(consumer.then((cwd) => cpu(() => typeCheckConsumer(cwd, manifest)))),
      });
    }
    brokenTarball = started(breakTarball(packed.get('@product-service/bearer-node')?.tarball ?? '', work));
    // CommonJS projects (no "type"), with every package: one tested by Jest, one compiled by tsc and run.
    const everyPackage = packages.map((p) => p.manifest.name);
    const jestProject = join(work, 'jest-project');
    const jestInstalled = install(jestProject, {
      name: 'jest-consumer',
      private: true,
      dependencies: consumerDependencies(everyPackage, paths),
    });
    jestRun = started(jestInstalled.then(() => cpu(() => runJest(jestProject))));
    const node16Project = join(work, 'node16-project');
    const node16Installed = install(node16Project, {
      name: 'node16-consumer',
      private: true,
      dependencies: consumerDependencies(everyPackage, paths),
    });
    node16Run = started(node16Installed.then(() => cpu(() => buildAndRunNode16(node16Project))));
    // The code blocks of the READMEs and docs/authentication.md, in a project with every package and the frameworks
    // and router they use: type-checked, then the runnable ones run (one at a time: they share port 3000).
    const quickStarts = join(work, 'quick-starts');
    const quickStartsInstalled = install(quickStarts, {
      name: 'quick-starts',
      private: true,
      type: 'module',
      dependencies: {
        ...consumerDependencies(everyPackage, paths),
        '@koa/router': rootManifest.dependencies?.['@koa/router'] ?? assert.fail('the service uses @koa/router'),
      },
    }).then(() => writeBlocks(quickStarts, blocks));
    quickStartErrors = started(quickStartsInstalled.then(() => cpu(() => tscErrors(quickStarts))));
    quickStartRuns = started(quickStartErrors.then(() => runQuickStarts(quickStarts, blocks)));
    brokenQuickStart = started(quickStartRuns.then(() => checkBrokenQuickStart(quickStarts)));
    // The installs finish here or fail the hook; the checks themselves are awaited by their tests.
    await Promise.all([
      ...[...checks.values()].map((c) => c.consumer),
      jestInstalled,
      node16Installed,
      quickStartsInstalled,
    ]);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('finds the workspace packages', () => {
    assert.ok(packages.length >= 3, packages.map((p) => p.dir).join(', '));
  });

  it('packed from a fresh copy: no dist/ came with it', () => {
    assert.deepEqual(copiedDist, []);
    assert.equal(
      unbuilt.files.some((f) => f.path.startsWith('dist/')),
      false,
      'the copy had no dist/ to pack',
    );
  });

  it('negative control: without its prepack a package packs no code, and the check of exports targets says so', () => {
    const { manifest } = byName.get(unbuilt.name) ?? assert.fail(unbuilt.name);
    const missing = missingTargets(manifest, new Set(unbuilt.files.map((f) => f.path)));
    assert.deepEqual(missing, allTargets(manifest));
  });

  it('negative control: publint and attw find a broken manifest', async () => {
    const tarball = await brokenTarball;
    assert.match(await typesProblems(tarball), /Masquerading as ESM/);
    assert.match((await publintMessages(tarball)).join('\n'), /dist\/missing\.js/);
  });

  describe('the code blocks users copy: every package README and docs/authentication.md', () => {
    it('marks a quick start to run in every README: served by each adapter and the core, run by the test kit', () => {
      const marked = (mode: CodeBlock['mode']) =>
        [...new Set(blocks.filter((b) => b.mode === mode).map((b) => b.at.split(':')[0]))].sort();
      assert.deepEqual(
        marked('serve'),
        quickStartPages.filter((p) => /bearer(-koa|-express|-fastify|-node)?\//.test(p)).sort(),
      );
      assert.deepEqual(marked('run'), ['packages/bearer-testing/README.md']);
    });

    it('type-checks every TypeScript block against the packed packages (strict, as Node strips types)', async () => {
      assert.ok(blocks.length >= 10, `${blocks.length} blocks`);
      assert.equal(onThePage(await quickStartErrors, blocks), '');
    });

    it('runs the marked blocks under plain Node: a script ends well, a server answers the quick-start requests', async () => {
      const runs = await quickStartRuns;
      assert.equal(runs.length, blocks.filter((b) => b.mode !== 'check').length);
      for (const run of runs) {
        assert.equal(run.exitCode, 0, `${run.at} exited with ${run.exitCode}:\n${run.output}`);
        assert.deepEqual(
          run.answers.filter((a) => a.includes(', not ')),
          [],
          `${run.at}\n${run.output}`,
        );
      }
    });

    // The quick starts the issue found broken: the core's used `req`, `res` and `path` it never defined, and
    // Express's listed `/hello` as public without a handler for it.
    it('negative control: a block using names it never defines fails the type check; a missing route fails the run', async () => {
      const { errors, runs } = await brokenQuickStart;
      assert.match(errors, /README\.md:\d+:\d+: error TS2304: Cannot find name 'req'/);
      assert.deepEqual(
        runs.flatMap((r) => r.answers.filter((a) => a.includes(', not '))),
        ['GET /hello no token → 404, not 200'],
      );
    });
  });

  // One licence for all, as the peers have theirs: jose (which the core is built on and its CommonJS build carries),
  // the frameworks and express-oauth2-jwt-bearer are MIT; docs/development.md says why not Apache-2.0.
  it('has an MIT LICENSE at the root, the same in every package', () => {
    const licence = readFileSync('LICENSE', 'utf8');
    assert.match(licence, /^MIT License\n\nCopyright \(c\) \d{4} /);
    for (const { dir } of packages) assert.equal(readFileSync(join(dir, 'LICENSE'), 'utf8'), licence, dir);
  });

  for (const { dir, manifest } of packages) {
    describe(manifest.name, () => {
      const check = () => checks.get(manifest.name) ?? assert.fail(`${manifest.name} not checked`);

      it('declares a public MIT package: its repository, issues and page; ESM and CommonJS, Node 22.12 up', () => {
        assert.equal(manifest.private, undefined, 'not private');
        assert.equal(manifest.license, 'MIT');
        // Scoped packages are private on the registry unless published public; provenance is asked of every publish.
        assert.deepEqual(manifest.publishConfig, { access: 'public', provenance: true });
        const repo = manifest.repository ?? assert.fail('repository');
        assert.match(repo.url, /^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/);
        // One repository for all of them; npm's provenance check compares it with the one CI published from.
        assert.equal(repo.url, packages[0]?.manifest.repository?.url);
        assert.equal(repo.directory, dir);
        const base = repo.url.replace(/^git\+/, '').replace(/\.git$/, '');
        assert.equal(manifest.bugs?.url, `${base}/issues`);
        assert.equal(manifest.homepage, `${base}/tree/main/${dir}#readme`);
        assert.equal(manifest.type, 'module');
        assert.equal(manifest.engines?.['node'], '>=22.12');
        assert.equal(manifest.scripts?.['prepack'], 'npm run build');
        assert.ok(existsSync(join(dir, 'README.md')), 'README.md');
      });

      it('references every sibling it depends on in its tsconfig, so that its prepack builds them on a fresh clone', () => {
        const tsconfig = readFileSync(join(dir, 'tsconfig.json'), 'utf8');
        for (const dep of ourDependencies(manifest)) {
          const depDir = byName.get(dep)?.dir ?? assert.fail(dep);
          assert.match(tsconfig, new RegExp(`"path": "${relative(dir, depDir)}"`), `${dir} → ${depDir}`);
        }
      });

      it('packs exactly its README, LICENSE, manifest and dist/ (ESM, declarations both ways, CommonJS bundles)', () => {
        const { paths } = packed.get(manifest.name) ?? assert.fail('not packed');
        assert.deepEqual([...paths].sort(), expectedFiles(dir, manifest));
        assert.deepEqual(missingTargets(manifest, paths), []);
      });

      it('publint finds nothing (strict, down to suggestions)', async () => {
        const { tarball } = packed.get(manifest.name) ?? assert.fail('not packed');
        assert.deepEqual(await publintMessages(tarball), []);
      });

      it('@arethetypeswrong/cli finds nothing under the node16 profile', async () => {
        assert.equal(await check().attw, '');
      });

      it('imports and requires under plain Node from the installed tarball, with the names its source exports', async () => {
        const cwd = await check().consumer;
        for (const [subpath] of codeExports(manifest)) {
          const name = JSON.stringify(specifier(manifest.name, subpath));
          // This test process runs with --conditions=source: the same specifier here is the TypeScript source.
          const source = Object.keys((await import(specifier(manifest.name, subpath))) as object).sort();
          assert.ok(source.length > 0);
          // No --conditions=source and no tsx: the `import` condition, the ESM of dist/, as before the CommonJS build.
          const esm = `const m = await import(${name}); console.log(JSON.stringify({ at: import.meta.resolve(${name}), names: Object.keys(m).sort() }));`;
          const imported = JSON.parse(
            (await execFile(process.execPath, ['--input-type=module', '-e', esm], { cwd })).stdout,
          ) as Loaded;
          assert.ok(imported.at.startsWith(`file://${cwd}/node_modules/`), imported.at);
          assert.match(imported.at, /\/dist\/[\w-]+\.js$/);
          assert.deepEqual(imported.names, source, name);
          // The `require` condition: the CommonJS bundle, with the same names.
          const cjs = `console.log(JSON.stringify({ at: require.resolve(${name}), names: Object.keys(require(${name})).sort() }));`;
          const required = JSON.parse((await execFile(process.execPath, ['-e', cjs], { cwd })).stdout) as Loaded;
          assert.ok(required.at.startsWith(`${cwd}/node_modules/`), required.at);
          assert.match(required.at, /\/dist\/[\w-]+\.cjs$/);
          assert.deepEqual(required.names, source, `require(${name})`);
        }
      });

      it('type-checks consumers against its declarations: an ES module and a CommonJS one (node16, strict, libraries checked)', async () => {
        assert.equal(await check().typeErrors, '', 'tsc found errors');
      });
    });
  }

  it('a CommonJS project on Jest’s default configuration loads every package and is refused without a token', async () => {
    const results = await jestRun;
    const outcomes = results.testResults.flatMap((file) =>
      file.assertionResults.map((t) => `${t.status}: ${t.fullName}`),
    );
    assert.equal(
      results.numFailedTests,
      0,
      `${outcomes.join('\n')}\n${results.testResults.map((f) => f.message).join('\n')}`,
    );
    // Every package loaded, each of the four adapters refused and admitted, and the negative control ran.
    assert.equal(results.numPassedTests, 10, outcomes.join('\n'));
  });

  it('a TypeScript project compiled to CommonJS (module: node16) loads every package and is refused without a token', async () => {
    const report = await node16Run;
    assert.equal(report.clockToleranceSec, 5);
    assert.deepEqual(Object.keys(report.answers), ['express', 'fastify', 'koa', 'node']);
    for (const [adapter, { withoutToken, withToken }] of Object.entries(report.answers)) {
      assert.equal(withoutToken.status, 401, adapter);
      assert.equal(withoutToken.challenge, 'Bearer realm="api"', adapter);
      assert.equal(withToken.status, 200, adapter);
      assert.deepEqual(JSON.parse(withToken.body), { subject: 'node16-client' }, adapter);
    }
  });
});

// The release path of docs/development.md (Releasing the packages), which only a person starts: what it must keep
// doing, read from its files, since it cannot run here (it needs GitHub's OIDC token and the npm registry's write).
describe('the release path: Changesets, and the workflow that publishes with provenance', () => {
  const config = JSON.parse(readFileSync('.changeset/config.json', 'utf8')) as {
    access: string;
    baseBranch: string;
    fixed: string[][];
  };
  const workflow = parse(readFileSync('.github/workflows/release-packages.yml', 'utf8')) as {
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    jobs: Record<string, { steps: { run?: string; env?: Record<string, string> }[] }>;
  };
  const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
  const at = (command: RegExp) => steps.findIndex((step) => command.test(step.run ?? ''));

  it('versions the six packages as one, published public', () => {
    assert.equal(config.access, 'public');
    assert.equal(config.baseBranch, 'main');
    const [group = [], ...others] = config.fixed;
    assert.deepEqual(others, []);
    const inGroup = (name: string) =>
      group.some((pattern) =>
        new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(name),
      );
    assert.deepEqual(
      packages.map((p) => p.manifest.name).filter((name) => !inGroup(name)),
      [],
    );
  });

  it('is started by hand only, publishes what it packed after the tests pass, with provenance through OIDC', () => {
    assert.deepEqual(Object.keys(workflow.on), ['workflow_dispatch']);
    assert.equal(workflow.permissions['id-token'], 'write');
    const test = at(/^npm test$/);
    const pack = at(/^npx changeset pack --out-dir (\S+)$/);
    const publish = at(/^npx changeset publish --from-pack-dir (\S+)$/);
    assert.ok(at(/^npm ci\b/) >= 0 && at(/^npm ci\b/) < test, 'npm ci, then npm test');
    assert.ok(test >= 0 && test < pack && pack < publish, 'npm test, then pack, then publish');
    const packStep = steps[pack] ?? assert.fail('no pack step');
    const publishStep = steps[publish] ?? assert.fail('no publish step');
    assert.equal(publishStep.env?.['NPM_CONFIG_PROVENANCE'], 'true');
    // The very directory changeset pack wrote.
    const packDir = /--out-dir (\S+)$/.exec(packStep.run ?? '')?.[1];
    assert.equal(/--from-pack-dir (\S+)$/.exec(publishStep.run ?? '')?.[1], packDir);
  });
});
