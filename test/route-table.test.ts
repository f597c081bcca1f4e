// Issue 30 item 4: one matcher behind the router, the access check and span naming. A path the router serves must be
// checked against that route's access and named after it; a path it does not serve must be closed (401 without a
// token) and unnamed. Three matchers over one list could disagree on case, a trailing slash or an encoded character:
// the variants below are those, and the last test shows the check catching a span namer that disagrees on case.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
const { SpanKind } = await import('@opentelemetry/api');
const { startInMemoryTelemetry, tracedLocalConfig } = await import('./support/in-memory-telemetry.js');
const config = tracedLocalConfig();
// The SDK starts before the app's modules load, as src/telemetry/register.ts has it.
const { spans, sdk } = startInMemoryTelemetry(config);
const { createTelemetry } = await import('../src/telemetry/instruments.js');
const { startService, fetchToken, bearer, localClient, createProduct } = await import('./support/service.js');
type RunningService = Awaited<ReturnType<typeof startService>>;
type Telemetry = ReturnType<typeof createTelemetry>;

/** What one path got: with a token and without, the status and the server span's `http.route`. */
interface Observation {
  readonly path: string;
  readonly withToken: { readonly status: number; readonly route: string | undefined };
  readonly anonymous: { readonly status: number; readonly route: string | undefined };
}

const publicTemplates = new Set(['/hello', '/openapi.json']);

/**
 * Where the router, the access check and span naming disagree on `observed`, in words; none when they agree. A
 * request with a token is served (200) exactly when the path has a template; without a token, it is open exactly when
 * that template is a public route, and closed (401) otherwise, unmatched paths included; and the span is named the
 * same either way.
 */
function disagreements({ path, withToken, anonymous }: Observation): string[] {
  const found: string[] = [];
  const template = withToken.route;
  if (anonymous.route !== template) found.push(`${path}: named ${template} with a token, ${anonymous.route} without`);
  const served = withToken.status === 200;
  if (served !== (template !== undefined)) {
    found.push(`${path}: the router answered ${withToken.status}, the span names ${template ?? 'no route'}`);
  }
  const open = template !== undefined && publicTemplates.has(template);
  if (anonymous.status !== (open ? 200 : 401)) {
    found.push(`${path}: without a token ${anonymous.status}, though the route is ${template ?? 'none'}`);
  }
  return found;
}

async function observe(url: string, path: string, token: string): Promise<Observation> {
  const ask = async (headers: Record<string, string>) => {
    // A query name of its own finds this request's server span: the span keeps query names (never values).
    const probe = `probe_${randomBytes(8).toString('hex')}`;
    const response = await fetch(`${url}${path}?${probe}`, { headers });
    await response.arrayBuffer();
    const server = spans
      .getFinishedSpans()
      .find((span) => span.kind === SpanKind.SERVER && span.attributes['url.query'] === `${probe}=REDACTED`);
    assert.ok(server, `no server span for ${path}`);
    const route = server.attributes['http.route'];
    return { status: response.status, route: typeof route === 'string' ? route : undefined };
  };
  return { path, withToken: await ask(bearer(token)), anonymous: await ask({}) };
}

describe('one route table: the router, the access check and span naming agree', () => {
  let running: RunningService;
  let token: string;
  let id: string;

  before(async () => {
    running = await startService(config);
    token = await fetchToken(running.service.localIssuer?.tokenUrl ?? '', localClient);
    id = await createProduct(running.url, token, 'Routed');
  });
  after(() => running.close());

  // @koa/router's matching: case-insensitive, a trailing slash optional, the raw path matched before any decoding
  // (only a parameter's value is decoded). What each variant lands on, as a client would find out.
  const variants = (): readonly (readonly [string, string | undefined])[] => [
    ['/hello', '/hello'],
    ['/HELLO', '/hello'],
    ['/hello/', '/hello'],
    ['/%68ello', undefined],
    ['/openapi.json', '/openapi.json'],
    ['/openapi%2Ejson', undefined],
    [`/products/${id}`, '/products/:id'],
    [`/PRODUCTS/${id}`, '/products/:id'],
    [`/products/${id}/`, '/products/:id'],
    [`/products/%${id.charCodeAt(0).toString(16)}${id.slice(1)}`, '/products/:id'],
    [`/products%2F${id}`, undefined],
    ['/products', '/products'],
    ['/Products/', '/products'],
  ];

  it('each variant of case, trailing slash and percent-encoding lands on one route for all three, or on none', async () => {
    for (const [path, template] of variants()) {
      const observed = await observe(running.url, path, token);
      assert.deepEqual(disagreements(observed), [], JSON.stringify(observed));
      assert.equal(observed.withToken.route, template, path);
    }
  });

  it('negative control: a span namer that is case-sensitive where the router is not is caught', async () => {
    const real: Telemetry = createTelemetry(sdk);
    // The old arrangement's failure mode: a second matcher, here one that refuses any capital letter.
    const telemetry: Telemetry = {
      ...real,
      requests: (table) => real.requests({ match: (path) => (/[A-Z]/.test(path) ? undefined : table.match(path)) }),
    };
    const skewed = await startService(config, { telemetry });
    try {
      const skewedToken = await fetchToken(skewed.service.localIssuer?.tokenUrl ?? '', localClient);
      assert.deepEqual(disagreements(await observe(skewed.url, '/hello', skewedToken)), []);
      const caught = disagreements(await observe(skewed.url, '/HELLO', skewedToken));
      assert.match(caught.join('\n'), /\/HELLO: the router answered 200, the span names no route/);
      assert.match(caught.join('\n'), /\/HELLO: without a token 200, though the route is none/);
    } finally {
      await skewed.close();
    }
  });
});
