// `node --conditions=source --import tsx bench/profile-products.ts [dir]`: a CPU profile (--cpu-prof) of the service
// serving GET /products/:id and POST /products under load against dynalite, summed by where the time goes. One-off
// diagnosis beside `npm run bench`, which measures; this names the parts. PROFILE_SAMPLER_RATIO=0.05 profiles the
// service traced as prod runs it (register.ts, parentbased_traceidratio at that ratio, OTLP to a loopback receiver).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { createTestKey, startTestIssuer } from '@product-service/bearer-testing';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'products-profile-'));
const requests = Number(process.env['PROFILE_REQUESTS'] ?? 5_000);
const run = (args: readonly string[], env: NodeJS.ProcessEnv = process.env) =>
  spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
const firstLine = (child: ReturnType<typeof run>) =>
  new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));

const ratio = process.env['PROFILE_SAMPLER_RATIO'];
// The collector sidecar's OTLP/HTTP receiver, on loopback: it reads every export and keeps nothing.
const receiver = createServer((request, response) => request.resume().on('end', () => response.end()));
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const traced = ratio
  ? {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: ratio,
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
    }
  : {};
const store = run(['test/support/dynalite-main.ts']);
const { endpoint } = JSON.parse(await firstLine(store)) as { endpoint: string };
const key = await createTestKey();
const issuer = await startTestIssuer({ userPoolId: 'local_ProductsProfile', keys: [key] });
const service = run(
  [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    ...(ratio ? ['--import', './src/telemetry/register.ts'] : []),
    'bench/products-targets.ts',
    'service',
    issuer.issuer,
    issuer.jwksUri,
    endpoint,
  ],
  { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...traced },
);
const { url } = JSON.parse(await firstLine(service)) as { url: string };
const now = Math.floor(Date.now() / 1000);
const token = await issuer.sign(key, {
  sub: 'bench',
  iss: issuer.issuer,
  scope: 'products/read products/write',
  iat: now,
  exp: now + 3600,
});
const body = JSON.stringify({ name: 'Trek Domane', imageURL: 'https://images.example.com/domane.png', tags: ['road'] });
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const created = await fetch(`${url}/products`, { method: 'POST', headers, body });
const { id } = (await created.json()) as { id: string };
const load = (options: autocannon.Options) => autocannon({ connections: 10, amount: requests, headers, ...options });
await load({ url: `${url}/products/${id}` });
await load({ url: `${url}/products`, method: 'POST', body });
const exited = new Promise((resolve) => service.once('exit', resolve));
service.kill('SIGINT');
await exited;
store.kill();
await issuer.close();
receiver.close();

interface Node {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile')) ?? '';
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
// Self time per node, then summed by part: the first rule that matches a frame's URL names its part.
const parts: [string, RegExp][] = [
  ['OpenTelemetry (SDK, instrumentations)', /@opentelemetry|\/src\/telemetry\//],
  ['async context (AsyncLocalStorage)', /async_hooks|async_local_storage|async_context_frame/],
  ['endpoint resolution', /util-endpoints|middleware-endpoint|endpointResolver|ruleset/],
  ['credentials and signing', /signature-v4|credential-provider|httpAuthSchemes|httpAuthScheme|sha256|node:crypto/],
  [
    'marshalling (lib/util-dynamodb, serde)',
    /lib-dynamodb|util-dynamodb|protocols|serde|schema|core\/dist-cjs\/submodules\/(protocols|schema|serde)/,
  ],
  [
    'HTTP client (node-http-handler, agent)',
    /node-http-handler|_http_agent|_http_client|_http_outgoing|_http_incoming|node:net|node:stream|_http_common/,
  ],
  ['SDK middleware stack and client', /@smithy|@aws-sdk/],
  ['our code (src/)', /\/src\//],
  ['auth packages', /\/packages\//],
  ['Koa, router, pino', /\/koa|@koa|pino|path-to-regexp/],
  ['HTTP server (node:http)', /_http_server/],
];
const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byPart = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const frame = byNode.get(id)?.callFrame ?? { functionName: '', url: '' };
  if (frame.functionName === '(idle)') continue;
  total += us;
  const part = parts.find(([, pattern]) => pattern.test(frame.url))?.[0] ?? `other: ${frame.functionName || frame.url}`;
  const named = part.startsWith('other') && !/^\(/.test(frame.functionName) ? 'other (Node internals, V8)' : part;
  byPart.set(named, (byPart.get(named) ?? 0) + us);
  const where = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/.*node_modules\//, '').replace(/.*\/wt-[^/]+\//, '')}`;
  byFunction.set(where, (byFunction.get(where) ?? 0) + us);
}
const top = (map: Map<string, number>, count: number) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => `  ${((us / total) * 100).toFixed(1).padStart(5)} %  ${name}`)
    .join('\n');
process.stdout.write(
  `profile ${join(dir, file)}: ${(total / 1e6).toFixed(2)} s of CPU over ${requests} GET + ${requests} POST\n` +
    `by part (self time):\n${top(byPart, 14)}\ntop functions (self time):\n${top(byFunction, 20)}\n`,
);
