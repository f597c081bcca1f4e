import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cognito, createAuthenticator, type AuthRequest, type KeySetEvent } from '@product-service/bearer';
import { createDpopKey, createTestClock, type DpopKey } from '@product-service/bearer-testing';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { openRaw } from '../support/raw-http.js';
import { adapters, type AdapterName } from './adapters.js';
import { cases, realm, type Sent, type World } from './cases.js';
import { dpopCases, resource } from './dpop-cases.js';

interface Answer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: string;
}

/** Over real HTTP: fetch, or a raw socket for what fetch will not send (two Authorization headers). */
async function send(url: string, sent: Sent): Promise<Answer> {
  const { method = 'GET', path, authorization, dpop, cookie } = sent;
  if (Array.isArray(authorization) || Array.isArray(dpop)) {
    const connection = await openRaw(url);
    const lines = [
      ...[authorization ?? []].flat().map((value) => `Authorization: ${value}\r\n`),
      ...[dpop ?? []].flat().map((value) => `DPoP: ${value}\r\n`),
      ...(cookie === undefined ? [] : [`Cookie: ${cookie}\r\n`]),
    ].join('');
    await connection.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}Connection: close\r\n\r\n`);
    const response = await connection.response();
    connection.destroy();
    return { status: response.status, headers: { get: (name) => response.headers[name] ?? null }, body: response.body };
  }
  const headers: Record<string, string> = typeof authorization === 'string' ? { authorization } : {};
  if (typeof dpop === 'string') headers['dpop'] = dpop;
  if (cookie !== undefined) headers['cookie'] = cookie;
  const response = await fetch(`${url}${path}`, { method, headers });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** The `session` cookie's value, as an app that keeps the token in a cookie reads it. */
const sessionCookie = (request: AuthRequest): string | undefined =>
  /(?:^|; *)session=([^;]+)/.exec(String(request.headers['cookie'] ?? ''))?.[1];

// One table (cases.ts), four adapters: each must answer every case with the same status, challenge and body.
for (const name of Object.keys(adapters) as AdapterName[]) {
  describe(`conformance: the ${name} adapter`, () => {
    let jwks: TestIssuer;
    let key: TestKey;
    let other: TestKey;
    let dpop: DpopKey;

    before(async () => {
      jwks = await startTestIssuer({ keys: [] });
      [key, other, dpop] = await Promise.all([createTestKey(), createTestKey(), createDpopKey()]);
    });
    after(() => jwks.close());

    for (const testCase of [...cases, ...dpopCases]) {
      it(`${testCase.name} (${testCase.source})`, async () => {
        jwks.publish([key]);
        await jwks.setMode(testCase.issuerDown ? 'down' : 'ok');
        const fetchesBefore = jwks.requests.jwks;
        const clock = createTestClock();
        const seen: KeySetEvent[] = [];
        let wake = (): void => undefined;
        const authenticator = createAuthenticator({
          issuers: [cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null })],
          realm,
          now: clock.now,
          // Without a resource URL proofs cannot be checked, so the DPoP scheme is neither accepted nor offered.
          ...(testCase.dpop ? { dpop: { resource, required: testCase.dpop.required ?? false } } : {}),
          ...(testCase.sessionCookie ? { getToken: sessionCookie } : {}),
          onKeySetEvent: (_issuer, event) => {
            seen.push(event);
            wake();
          },
        });
        const world: World = {
          jwks,
          key,
          other,
          clock,
          dpop,
          resource,
          token: (claims = {}, signer = key) => {
            const now = Math.floor(clock.now() / 1000);
            return jwks.sign(
              signer,
              cognitoAccessClaims(jwks.issuer, { iat: now, exp: now + 7200, scope: 'items/read', ...claims }),
            );
          },
          async events(type, count) {
            while (seen.filter((event) => event.type === type).length < count) {
              await new Promise<void>((resolve) => (wake = resolve));
            }
          },
        };
        const running = await adapters[name](authenticator);
        try {
          for (const [index, step] of testCase.steps.entries()) {
            const where = `${name}, step ${index + 1}`;
            await step.before?.(world);
            const sent = await step.send(world);
            const answer = await send(running.url, sent);
            const { expect } = step;
            assert.equal(answer.status, expect.status, `${where}: status`);
            assert.equal(answer.headers.get('www-authenticate'), expect.challenge, `${where}: WWW-Authenticate`);
            if (expect.body === null) assert.equal(answer.body, '', `${where}: no body`);
            else if (expect.body !== 'any') {
              assert.match(answer.headers.get('content-type') ?? '', /^application\/json/, `${where}: JSON`);
              assert.deepEqual(JSON.parse(answer.body), expect.body, `${where}: body`);
            }
            const refused = expect.status >= 400 && expect.status !== 404;
            if (refused) assert.equal(answer.headers.get('cache-control'), 'no-store', `${where}: Cache-Control`);
            if (expect.retryAfter)
              assert.match(answer.headers.get('retry-after') ?? '', /^\d+$/, `${where}: Retry-After`);
            else assert.equal(answer.headers.get('retry-after'), null, `${where}: no Retry-After`);
            if (expect.jwksFetches !== undefined) {
              assert.equal(jwks.requests.jwks - fetchesBefore, expect.jwksFetches, `${where}: JWKS fetches`);
            }
            // No answer echoes the token, the DPoP proof, or a signature (RFC 6750 §5.3, RFC 9449 §11: they must not leak).
            const tokens = [
              sent.authorization ?? [],
              sent.path.split('access_token=')[1] ?? [],
              sent.dpop ?? [],
              sent.cookie?.split('session=')[1] ?? [],
            ].flat();
            for (const token of tokens) {
              const signature = token.split('.')[2] ?? '';
              const text = answer.body + (answer.headers.get('www-authenticate') ?? '');
              if (signature.length > 16) assert.ok(!text.includes(signature), `${where}: the token is not echoed`);
            }
          }
        } finally {
          await running.close();
        }
      });
    }
  });
}
