import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestKey, startTestIssuer } from '@product-service/bearer-testing';
import { awsLikeEnv, startStoreProcess, stop, watchLines } from './support/processes.js';
import { bearer } from './support/service.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
/** What only a local run needs: the embedded issuer, the embedded store, pretty logs. */
const localOnly = ['dynalite', 'oidc-provider', 'pino-pretty'];
const dockerfile = readFileSync('Dockerfile', 'utf8');
/** The npm workspace's packages (packages/*), each with its own manifest and build. */
const workspaces = readdirSync('packages').map((name) => join('packages', name));
const nameOf = (dir: string) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name;
/** The packages the service runs on; the others (the test kit) are its dev dependencies, not in the image. */
const shipped = workspaces.filter((dir) => nameOf(dir) in pkg.dependencies);
const stages = dockerfile.split(/^FROM /m).slice(1);
const stage = (name: string) => stages.find((text) => text.startsWith(`\${BUILD_IMAGE} AS ${name}\n`)) ?? '';
const runtime = stages[stages.length - 1] ?? '';
const [build = ''] = stages;
const productionDependencies = stage('production-dependencies');

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
  it('runs the compiled src/server.ts; npm start runs the local entry, which adds the embedded parts', () => {
    // Both load the telemetry set-up first (it does nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
    assert.match(
      pkg.scripts['start'] ?? '',
      /exec node --import \.\/dist\/telemetry\/register\.js dist\/local\/main\.js$/,
    );
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as {
      compilerOptions: Record<string, string>;
    };
    assert.equal(build.compilerOptions['outDir'], 'dist');
    assert.equal(build.compilerOptions['rootDir'], 'src');
    assert.match(runtime, /^CMD \["node", "--import", "\.\/dist\/telemetry\/register\.js", "dist\/server\.js"\]$/m);
  });

  it('builds in one stage, installs production dependencies in another, and ships only their output, as a non-root user on port 3000', () => {
    assert.deepEqual(
      stages.map((text) => text.split('\n')[0]),
      ['${BUILD_IMAGE} AS build', '${BUILD_IMAGE} AS production-dependencies', '${NODE_IMAGE} AS runtime'],
    );
    assert.match(build, /^RUN npm run build /m);
    assert.match(productionDependencies, /^RUN npm ci --omit=dev /m);
    // The runtime stage installs nothing and runs nothing: no network, and nothing of the build stages' base.
    assert.doesNotMatch(runtime, /^RUN /m);
    assert.match(runtime, /^COPY --from=production-dependencies \/app\/node_modules \.\/node_modules$/m);
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^EXPOSE 3000$/m);
    assert.match(runtime, /COPY --from=build \/app\/dist \.\/dist/);
    // Neither the TypeScript the source maps point at nor the incremental build's state is shipped with dist/.
    assert.match(
      build,
      /^RUN npm run build && find dist packages\/\*\/dist \\\( -name '\*\.map' -o -name '\*\.tsbuildinfo' \\\) -delete$/m,
    );
  });

  it('installs and builds every workspace package, and ships the manifest and dist/ of those the service runs on', () => {
    assert.ok(workspaces.length >= 2, workspaces.join(', '));
    for (const dir of workspaces) {
      const manifest = new RegExp(`^COPY ${dir}/package\\.json \\./${dir}/$`, 'm');
      // npm ci checks the whole lockfile against every workspace's manifest.
      for (const text of [build, productionDependencies]) {
        assert.match(text, manifest, `${dir}/package.json is copied`);
        assert.ok(text.search(manifest) < text.indexOf('RUN npm ci'), `${dir}/package.json comes before npm ci`);
      }
      assert.match(build, new RegExp(`^COPY ${dir}/src \\./${dir}/src$`, 'm'));
      const dist = new RegExp(`^COPY --from=build /app/${dir}/dist \\./${dir}/dist$`, 'm');
      if (shipped.includes(dir)) {
        assert.match(runtime, dist);
        assert.match(runtime, manifest);
      } else {
        assert.doesNotMatch(runtime, dist, `${dir} is not what the service runs on: not in the image`);
        assert.doesNotMatch(runtime, manifest, `${dir} is not what the service runs on: not in the image`);
      }
    }
    // The production install covers the root and exactly the workspace packages the service depends on.
    const filter = [...productionDependencies.matchAll(/--workspace=(\S+)/g)].map((match) => match[1]);
    assert.deepEqual(filter.sort(), shipped.map(nameOf).sort());
    assert.match(productionDependencies, /--include-workspace-root/);
    // `npm run build` compiles the packages (project references) before the service, against their dist/.
    assert.match(pkg.scripts['build'] ?? '', /^tsc -b (packages\/[\w-]+ ?)+ && tsc -p tsconfig\.build\.json$/);
  });

  it('declares each package for Node 22.12 and up, its ESM from dist/ for the service, and a source condition', () => {
    for (const dir of workspaces) {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string;
        type: string;
        engines: Record<string, string>;
        sideEffects: boolean;
        files: string[];
        exports: Record<string, Record<string, string | Record<string, string>> | string>;
      };
      assert.equal(manifest.type, 'module', dir);
      assert.equal(manifest.engines['node'], '>=22.12', dir);
      assert.equal(manifest.sideEffects, false, dir);
      assert.ok(manifest.files.includes('dist/**/*.js'), dir);
      assert.ok(existsSync(join(dir, 'README.md')), `${dir}/README.md`);
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        if (typeof target === 'string') continue;
        // The custom condition comes first, so that tsx and TypeScript (customConditions) read the source; then
        // `import`, which the service (ESM) resolves to what `tsc -b` builds, and `require`, the CommonJS build
        // (test/packages-publish.test.ts checks both).
        assert.deepEqual(Object.keys(target), ['source', 'import', 'require'], `${dir} ${subpath}`);
        const esm = target['import'] as Record<string, string>;
        assert.match(esm['types'] ?? '', /^\.\/dist\/[\w-]+\.d\.ts$/);
        assert.match(esm['default'] ?? '', /^\.\/dist\/[\w-]+\.js$/);
        const source = target['source'] as string;
        assert.ok(existsSync(join(dir, source)), `${dir} ${subpath}: ${source}`);
      }
    }
  });

  it('depends on the core and the Koa adapter; the other adapters are workspace packages it does not use', () => {
    const names = workspaces.map(
      (dir) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name,
    );
    assert.deepEqual(
      names.filter((name) => name in pkg.dependencies),
      ['@product-service/bearer', '@product-service/bearer-koa'],
    );
  });

  it('lists every package that src/ imports at run time under dependencies, since the image omits devDependencies', () => {
    const missing = new Set<string>();
    // src/local/ is the local entry point's own (the embedded issuer and store): its packages are dev dependencies.
    for (const file of sourceFiles('src').filter((path) => !path.startsWith(join('src', 'local')))) {
      const text = readFileSync(file, 'utf8');
      for (const [, kind, specifier = ''] of text.matchAll(/^import (type )?[^'"]*from '([^'.][^']*)'/gm)) {
        if (kind || specifier.startsWith('node:')) continue;
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : (specifier.split('/')[0] ?? '');
        if (!(name in pkg.dependencies)) missing.add(`${name} (${file})`);
      }
      for (const [, specifier = ''] of text.matchAll(/await import\('([^'.][^']*)'\)/g)) {
        // A package's subpath (@opentelemetry/sdk-trace/…) is that package's.
        const name = specifier
          .split('/')
          .slice(0, specifier.startsWith('@') ? 2 : 1)
          .join('/');
        if (!(name in pkg.dependencies)) missing.add(specifier);
      }
    }
    assert.deepEqual([...missing], []);
  });
});

describe('Node 24 LTS and a clean install', () => {
  it('is Node 24 everywhere: engines, and the one Node release the Dockerfile pins for every stage', () => {
    assert.equal(pkg.engines['node'], '>=24');
    // test/image.test.ts holds CI, CodeBuild and the smoke build to this same pin.
    assert.match(dockerfile, /^ARG NODE_IMAGE=public\.ecr\.aws\/docker\/library\/node:24\.\d+\.\d+-trixie-slim$/m);
  });

  // Install scripts are code from the registry run at install time; Scarf's is a telemetry call (swagger-ui-dist).
  it('leaves no install script unreviewed, denies Scarf, and runs none in the image', () => {
    const pending = JSON.parse(execFileSync('npm', ['install-scripts', 'ls', '--json'], { encoding: 'utf8' })) as {
      allowScripts: unknown[];
    };
    assert.deepEqual(pending.allowScripts, [], 'npm install-scripts ls: approve or deny each');
    assert.equal(pkg.allowScripts['@scarf/scarf'], false);
    const installs = [...dockerfile.matchAll(/^RUN npm ci[^\n&]*/gm)].map((match) => match[0]);
    assert.equal(installs.length, 2);
    for (const install of installs) assert.match(install, /--ignore-scripts/);
  });
});

// What the image does, without Docker: `npm ci --omit=dev` and the compiled code, in a directory of their own.
describe('the production install', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'product-service-production-'));
    cpSync('package.json', join(dir, 'package.json'));
    cpSync('package-lock.json', join(dir, 'package-lock.json'));
    for (const workspace of workspaces) cpSync(join(workspace, 'package.json'), join(dir, workspace, 'package.json'));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: dir,
      stdio: 'ignore',
    });
    // As the image's build stage: the packages (tsc -b), whose dist/ the runtime stage ships, then the service.
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', ...workspaces]);
    for (const workspace of shipped) cpSync(join(workspace, 'dist'), join(dir, workspace, 'dist'), { recursive: true });
    execFileSync(process.execPath, [
      'node_modules/typescript/bin/tsc',
      '-p',
      'tsconfig.build.json',
      '--outDir',
      join(dir, 'dist'),
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('carries none of the local-only packages, which are dev dependencies', () => {
    for (const name of localOnly) {
      assert.ok(name in pkg.devDependencies && !(name in pkg.dependencies), `${name} is a dev dependency`);
      assert.equal(existsSync(join(dir, 'node_modules', name)), false, `${name} is not installed`);
    }
  });

  it('starts in AWS mode and answers, and without an issuer says in one line what to set', async () => {
    const store = await startStoreProcess();
    const key = await createTestKey();
    const jwks = await startTestIssuer({ userPoolId: 'local_Production', keys: [key] });
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
    const child = spawn(process.execPath, ['dist/server.js'], {
      cwd: dir,
      env: { ...env, ...awsLikeEnv(jwks, store.endpoint) },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const listening = await watchLines(child).first((line) => line.includes('product-service listening'));
      const { port } = JSON.parse(listening) as { port: number };
      assert.equal((await fetch(`http://127.0.0.1:${port}/hello`)).status, 200);
      const products = await fetch(`http://127.0.0.1:${port}/products`, { headers: bearer(await jwks.sign(key)) });
      assert.equal(products.status, 200);
    } finally {
      await stop(child);
      await store.close();
      await jwks.close();
    }

    const bare = spawn(process.execPath, ['dist/server.js'], {
      cwd: dir,
      env: { ...env, PORT: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    bare.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => bare.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(stderr, /^product-service: no issuer is configured: set USER_POOL_ID \(Cognito\) or OIDC_ISSUER/m);
  });
});
