import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { spawnTs, stop, watchLines } from './support/processes.js';

/** The parent's environment without any issuer setting of its own: each run names exactly what it trusts. */
const clean = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !/^(USER_POOL_ID|COGNITO_|ALLOWED_CLIENT_IDS|OIDC_|JWT_ALGORITHMS|JWKS_|AWS_|PORT$)/.test(name),
  ),
);

/** Starts `npm run example -- <name>`'s entry point and resolves with its URL once it listens. */
async function startExample(name: string, env: Record<string, string>) {
  const child = spawnTs('examples/main.ts', [name], { ...env, PORT: '0' });
  // spawnTs adds the parent's environment; the issuer variables are set here alone.
  const line = await watchLines(child).first((text) => text.includes('example listening on'));
  const port = /localhost:(\d+)$/.exec(line)?.[1];
  return { url: `http://localhost:${port ?? ''}`, line, close: () => stop(child) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

// Each example, as a newcomer runs it, against a local Cognito-shaped issuer (the JWKS server the test controls).
describe('npm run example -- <koa|express|fastify|node>', () => {
  let jwks: TestIssuer;
  let key: TestKey;
  const token = (claims: JWTPayload = {}) => jwks.sign(key, cognitoAccessClaims(jwks.issuer, claims));

  before(async () => {
    jwks = await startTestIssuer({ userPoolId: 'local_Examples', keys: [] });
    key = await createTestKey();
    jwks.publish([key]);
  });
  after(() => jwks.close());

  for (const name of ['koa', 'express', 'fastify', 'node']) {
    it(`${name}: /hello is open, /products needs products/read to list and products/write to add, the rest is closed`, async () => {
      const example = await startExample(name, {
        ...clean,
        USER_POOL_ID: jwks.userPoolId,
        COGNITO_ISSUER_URL: jwks.baseUrl,
        ALLOWED_CLIENT_IDS: 'test-client',
      });
      try {
        assert.match(example.line, new RegExp(`^${name} example listening on http://localhost:\\d+$`));
        const hello = await fetch(`${example.url}/hello`);
        assert.equal(hello.status, 200);
        assert.deepEqual(await hello.json(), { hello: 'world' });

        const list = await fetch(`${example.url}/products`, {
          headers: bearer(await token({ scope: 'products/read' })),
        });
        assert.equal(list.status, 200);
        const listed = (await list.json()) as { id: string }[];
        assert.ok(Array.isArray(listed) && listed.length > 0);
        assert.equal((await fetch(`${example.url}/products`)).status, 401);

        const write = bearer(await token({ scope: 'products/write' }));
        const add = await fetch(`${example.url}/products`, { method: 'POST', headers: write });
        assert.equal(add.status, 201);
        assert.equal(((await add.json()) as { createdBy: string }).createdBy, 'test-client');
        const readOnly = bearer(await token({ scope: 'products/read' }));
        const refused = await fetch(`${example.url}/products`, { method: 'POST', headers: readOnly });
        assert.equal(refused.status, 403);
        assert.match(refused.headers.get('www-authenticate') ?? '', /scope="products\/write"/);

        assert.equal((await fetch(`${example.url}/elsewhere`)).status, 401);
        assert.equal((await fetch(`${example.url}/elsewhere`, { headers: readOnly })).status, 404);
        // A client the pool has but ALLOWED_CLIENT_IDS does not name is refused.
        const stranger = bearer(await token({ client_id: 'another-client', scope: 'products/read' }));
        assert.equal((await fetch(`${example.url}/products`, { headers: stranger })).status, 401);
      } finally {
        await example.close();
      }
    });
  }

  it('trusts an OpenID Connect issuer from OIDC_ISSUER, OIDC_AUDIENCE and JWT_ALGORITHMS (discovery)', async () => {
    const example = await startExample('express', {
      ...clean,
      OIDC_ISSUER: jwks.issuer,
      OIDC_AUDIENCE: 'products-api',
      JWT_ALGORITHMS: 'RS256',
    });
    try {
      const good = bearer(await token({ aud: 'products-api', scope: 'products/read' }));
      assert.equal((await fetch(`${example.url}/products`, { headers: good })).status, 200);
      const elsewhere = bearer(await token({ aud: 'another-api', scope: 'products/read' }));
      assert.equal((await fetch(`${example.url}/products`, { headers: elsewhere })).status, 401);
    } finally {
      await example.close();
    }
  });

  it('says in one line what to set when no issuer is configured, and how to call it without a name', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/main.ts', ...args], {
          env: clean,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('exit', (code) => resolve({ code, stderr }));
      });
    const [unconfigured, unnamed] = await Promise.all([run(['koa']), run([])]);
    assert.equal(unconfigured.code, 1);
    assert.equal(unconfigured.stderr, 'example: no issuer is configured: set USER_POOL_ID (Cognito) or OIDC_ISSUER\n');
    assert.equal(unnamed.code, 2);
    assert.equal(unnamed.stderr, 'usage: npm run example -- <koa|express|fastify|node>\n');
  });
});
