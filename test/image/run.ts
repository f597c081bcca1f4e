// `npm run test:image` (docs/development.md, "The image test"): builds the image from the real Dockerfile with podman
// and runs it as ECS runs the task definition in infra/service.template.yml (its environment, read-only root
// filesystem, the image's own user, its health check, its stop timeout) against a Cognito-shaped issuer, dynalite and
// an SNS recorder on this machine; then `npm run smoke` with writes on, then SIGTERM. Not part of `npm test`: it
// needs podman, runc and mmdebstrap (Debian's packages; .ci/run installs them), and minutes.
//
// For a negative control, IMAGE_TEST_DOCKERFILE and IMAGE_TEST_TEMPLATE point it at a broken copy of either file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { productScopes } from '../../src/app.js';
import { startLocalIssuer, type LocalIssuer } from '../../src/local/issuer.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { startStoreProcess, watchLines, type Child, type StoreProcess } from '../support/processes.js';
import { imageContentProblems, type Lockfile, type Manifest } from './contents.js';
import { pinnedBase } from './pinned-base.js';
import { createPodman, healthCheckArgs, type Podman } from './podman.js';
import { startSnsRecorder, type SnsRecorder } from '../support/sns-recorder.js';
import { buildCaPath, standInBase } from './stand-in.js';
import { localValues, machineClient, smokeClient, topicArn, userPoolId, webClient } from './local-values.js';
import { resolveEnvironment, serviceContainer } from './task-definition.js';

const dockerfilePath = process.env['IMAGE_TEST_DOCKERFILE'] ?? 'Dockerfile';
const templatePath = process.env['IMAGE_TEST_TEMPLATE'] ?? 'infra/service.template.yml';
// dev's parameters: Telemetry is on there, so every variable the template can set is set, and dev's smoke run writes.
const parameterFile = 'infra/parameters/dev.service.json';
const workDir = '.tools/image';
const image = 'localhost/product-service:image-test';
const containerName = 'product-service-image-test';

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
/** What the run measured, printed at the end. */
const measured: [string, string][] = [];

/** Whether nothing listens on `port`, as the container will on the host's network. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

async function preflight(podman: Podman): Promise<void> {
  const missing: string[] = [];
  for (const [tool, args] of [
    ['podman', ['--version']],
    ['runc', ['--version']],
    ['mmdebstrap', ['--version']],
  ] as const) {
    const found = await new Promise<boolean>((resolve) => {
      const child = spawn(tool, args, { stdio: 'ignore' });
      child.once('error', () => resolve(false));
      child.once('exit', (code) => resolve(code === 0));
    });
    if (!found) missing.push(tool);
  }
  assert.deepEqual(
    missing,
    [],
    'the image test needs podman, runc and mmdebstrap: apt-get install podman runc mmdebstrap',
  );
  // A container of an earlier run that did not get to clean up.
  await podman.run(['rm', '--force', '--ignore', containerName]);
}

describe(`the image, built from ${dockerfilePath} and run as ${templatePath} defines the task`, () => {
  const podman = createPodman(workDir);
  const base = pinnedBase(readFileSync(dockerfilePath, 'utf8'));
  const container = serviceContainer(templatePath, parameterFile, 'ProductService');
  const healthCheck = container.healthCheck;
  const port = container.containerPort;

  let issuer: LocalIssuer | undefined;
  let store: StoreProcess | undefined;
  let sns: SnsRecorder | undefined;
  let otlp: OtlpReceiver | undefined;
  let service: Child | undefined;
  let exited: Promise<number | null> | undefined;
  const logs: string[] = [];

  before(async () => {
    await preflight(podman);
    assert.ok(await portIsFree(port), `port ${port} is taken: the container listens there on the host's network`);

    const standIn = await standInBase(podman, base.nodeVersion, workDir);
    measured.push([
      `stand-in base (Node ${base.nodeVersion})`,
      `${standIn.cached ? 'cached' : 'assembled'}, ${standIn.seconds.toFixed(1)} s`,
    ]);
    const previous = await podman.run(['image', 'inspect', '--format={{.Id}}', image]);
    const buildStarted = performance.now();
    await podman(
      [
        'build',
        '--pull=never',
        '--network=host',
        // The build and the production install are independent stages: side by side, as BuildKit runs them.
        '--jobs=2',
        `--file=${dockerfilePath}`,
        `--build-arg=NODE_IMAGE=${standIn.runtime}`,
        `--build-arg=BUILD_IMAGE=${standIn.build}`,
        `--tag=${image}`,
        '.',
      ],
      { echo: true },
    );
    measured.push(['image build', seconds(buildStarted)]);
    // The image an earlier run built, now untagged, goes; its layers stay while the new image shares them.
    const current = await podman(['image', 'inspect', '--format={{.Id}}', image]);
    if (previous.code === 0 && previous.stdout.trim() !== current.trim()) {
      await podman.run(['rmi', previous.stdout.trim()]);
    }
    const size = Number(await podman(['image', 'inspect', '--format={{.Size}}', image]));
    measured.push(['image size', `${(size / 1e6).toFixed(0)} MB`]);
  });

  after(async () => {
    service?.kill('SIGKILL');
    await podman.run(['rm', '--force', '--ignore', containerName]);
    await Promise.all([issuer?.close(), store?.close(), sns?.close(), otlp?.close()]);
    console.log(`\nimage test, measured:\n${measured.map(([what, value]) => `  ${what}: ${value}`).join('\n')}`);
  });

  it('holds the production dependencies and the compiled code, and nothing of development nor the build CA', async () => {
    const lockfile = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Lockfile;
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
    const root = (await podman(['image', 'mount', image])).trim();
    try {
      assert.deepEqual(imageContentProblems(join(root, 'app'), lockfile, manifest), []);
      assert.ok(existsSync(join(root, 'app', 'dist', 'server.js')), 'the compiled service is there');
      assert.equal(existsSync(join(root, buildCaPath)), false, "the build stages' CA bundle is not in the image");
    } finally {
      await podman(['image', 'unmount', image]);
    }
    const env = JSON.parse(await podman(['image', 'inspect', '--format={{json .Config.Env}}', image])) as string[];
    assert.deepEqual(
      env.filter((entry) => entry.startsWith('NODE_EXTRA_CA_CERTS=')),
      [],
      'the image trusts no extra CA',
    );
  });

  it('starts with the environment the template gives the container, on its port, within the start period', async () => {
    [issuer, store, sns, otlp] = await Promise.all([
      startLocalIssuer({
        port: 0,
        userPoolId,
        scopes: productScopes,
        clients: [machineClient, smokeClient],
        webClient,
      }),
      startStoreProcess(),
      startSnsRecorder(),
      startOtlpReceiver(),
    ]);
    const local = localValues({
      issuer: issuer.issuer,
      tokenUrl: issuer.tokenUrl,
      dynamodb: store.endpoint,
      sns: sns.url,
      otlp: otlp.url,
    });
    const environment = resolveEnvironment(container, local);
    for (const [name, { value, why }] of Object.entries(local.replaced)) {
      console.log(`image test: ${name}=${value}: ${why}`);
    }
    assert.equal(environment['PORT'], String(port), 'the service listens on the port the task maps');
    assert.ok(healthCheck, 'the template gives the container a health check');

    const started = performance.now();
    service = podman.spawn([
      'run',
      `--name=${containerName}`,
      // The task's awsvpc network gives the container its own address; here it shares the machine's, which is
      // where the issuer, the store and the smoke run are.
      '--network=host',
      // Fargate mounts no tmpfs ("the tmpfs parameter isn't supported" for Fargate, LinuxParameters in
      // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html); podman's
      // --read-only would add /tmp, /var/tmp and /run unless told not to.
      ...(container.readonlyRootFilesystem ? ['--read-only', '--read-only-tmpfs=false'] : []),
      ...(container.user ? [`--user=${container.user}`] : []),
      ...Object.entries(environment).map(([name, value]) => `--env=${name}=${value}`),
      ...healthCheckArgs(healthCheck),
      image,
    ]);
    const child = service;
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const listening = await watchLines(child, (line) => logs.push(line)).first(
      (line) => line.includes('product-service listening'),
      60_000,
    );
    measured.push(['start, until listening', seconds(started)]);
    assert.equal((JSON.parse(listening) as { port: number }).port, port);
    assert.ok(
      performance.now() - started < (healthCheck.startPeriodSeconds + healthCheck.intervalSeconds) * 1000,
      'up before ECS would count a failed check',
    );
  });

  it("runs as the image's non-root user, Node as PID 1, on a read-only root filesystem with no tmpfs", async () => {
    assert.equal(container.readonlyRootFilesystem, true, 'the task definition sets ReadonlyRootFilesystem');
    assert.equal(container.user, undefined, "the task definition keeps the image's user");
    const status = await podman(['exec', containerName, 'cat', '/proc/1/status']);
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    assert.ok(
      uid !== undefined && uid !== '0',
      `the service (PID 1) runs as uid ${String(uid)}, which must not be 0 (root)`,
    );
    measured.push(['service uid', uid]);
    // The image's command itself is PID 1 (the entry point execs it), so SIGTERM from ECS reaches the service.
    const command = JSON.parse(await podman(['image', 'inspect', '--format={{json .Config.Cmd}}', image])) as string[];
    const pid1 = await podman(['exec', containerName, 'cat', '/proc/1/cmdline']);
    assert.deepEqual(pid1.split('\0').filter(Boolean), command);
    const node = await podman(['exec', containerName, 'node', '--version']);
    assert.equal(node.trim(), `v${base.nodeVersion}`, "the Node the Dockerfile's base pins");
    const tmpfs = await podman(['inspect', '--format={{json .HostConfig.Tmpfs}}', containerName]);
    assert.deepEqual(JSON.parse(tmpfs) ?? {}, {});
    // Both are writable for uid 1000 on a writable root filesystem: /tmp to all, the home directory to its owner.
    for (const path of ['/tmp/probe', '/home/node/probe']) {
      const write = await podman.run(['exec', containerName, 'sh', '-c', `: > ${path}`]);
      assert.notEqual(write.code, 0, `${path} cannot be written`);
    }
  });

  it("reports healthy by the template's health check command, run in the container", async () => {
    assert.ok(healthCheck);
    const inspected = JSON.parse(
      await podman(['inspect', '--format={{json .Config.Healthcheck.Test}}', containerName]),
    ) as string[];
    assert.deepEqual(inspected, healthCheck.command, 'podman holds the command exactly as the template has it');
    const started = performance.now();
    const check = await podman.run(['healthcheck', 'run', containerName]);
    measured.push(['health check', seconds(started)]);
    assert.equal(check.code, 0, `the health check failed: ${check.stdout}${check.stderr}`);
    const state = await podman(['inspect', '--format={{.State.Health.Status}}', containerName]);
    assert.equal(state.trim(), 'healthy');
  });

  it('passes npm run smoke with writes on (SMOKE_WRITE=1), exit code 0', async () => {
    assert.ok(issuer);
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SMOKE_')));
    const started = performance.now();
    const smoke = spawn('npm', ['run', '--silent', 'smoke'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...inherited,
        SMOKE_BASE_URL: `http://127.0.0.1:${port}`,
        SMOKE_TOKEN_URL: issuer.tokenUrl,
        SMOKE_CLIENT: `${smokeClient.id}:${smokeClient.secret}`,
        SMOKE_WRITE: '1',
      },
    });
    const code = await new Promise<number | null>((resolve) => smoke.once('exit', resolve));
    measured.push(['npm run smoke', seconds(started)]);
    assert.equal(code, 0);
  });

  it("stops on SIGTERM within the task's StopTimeout, exit code 0, having drained", async () => {
    const started = performance.now();
    await podman(['stop', `--time=${container.stopTimeoutSeconds}`, containerName]);
    const elapsed = performance.now() - started;
    measured.push([`stop (SIGTERM, StopTimeout ${container.stopTimeoutSeconds} s)`, seconds(started)]);
    assert.equal(await exited, 0);
    assert.equal((await podman(['inspect', '--format={{.State.ExitCode}}', containerName])).trim(), '0');
    assert.ok(elapsed < container.stopTimeoutSeconds * 1000, 'no SIGKILL was needed');
    const messages = logs.flatMap((line) => {
      try {
        return [JSON.parse(line) as { msg?: string; signal?: string }];
      } catch {
        return [];
      }
    });
    assert.ok(messages.some((entry) => entry.msg === 'shutting down' && entry.signal === 'SIGTERM'));
    assert.ok(!messages.some((entry) => entry.msg === 'connections cut at the shutdown deadline'));
  });

  it('published its change events to SNS and its traces and metrics over OTLP, from inside the image', () => {
    assert.ok(sns && otlp);
    const types = new Set(sns.published.filter((message) => message.topicArn === topicArn).map((m) => m.type));
    assert.deepEqual([...types].sort(), ['created', 'deleted', 'updated']);
    assert.ok(
      otlp.spans.some((span) => span.name === 'POST /products' && span.resource['service.name'] === 'product-service'),
      'a server span of the smoke run',
    );
    assert.ok(otlp.metrics.length > 0, 'metrics');
  });
});
