import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { JWTPayload } from 'jose';
import {
  cognitoAccessClaims,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';
import { readConfig } from '../examples/config.js';
import { exitOf, spawnTs, stop, textOf, watchLines } from './support/processes.js';

/** The parent's environment without any issuer setting of its own: each run names exactly what it trusts. */
const clean = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) =>
      !/^(USER_POOL_ID|COGNITO_|ALLOWED_CLIENT_IDS|OIDC_|JWT_ALGORITHMS|JWKS_|AWS_|PORT$|RESOURCE_URL$|DPOP$)/.test(
        name,
      ),
  ),
);

/** A resource identifier with a path, so that the metadata's path has it inserted (RFC 9728 §3.1). */
const resource = 'https://api.example.com/catalog';

/**
 * Starts `npm run example -- <name>`'s entry point and resolves with its URL once it listens: on a free port, so with
 * a RESOURCE_URL of its own unless the test names a port.
 */
async function startExample(name: string, env: Record<string, string>) {
  const child = spawnTs('examples/main.ts', [name], { PORT: '0', RESOURCE_URL: resource, ...env });
  // spawnTs adds the parent's environment; the issuer variables are set here alone.
  const lines = watchLines(child);
  const [line, metadataLine] = await Promise.all([
    lines.first((text) => text.includes('example listening on')),
    lines.first((text) => text.startsWith('resource metadata')),
  ]);
  const port = /localhost:(\d+)$/.exec(line)?.[1];
  return { url: `http://localhost:${port ?? ''}`, line, metadataLine, close: () => stop(child) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A port free a moment ago, for the one run that must know its port before it starts. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

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

  for (const name of ['koa', 'express', 'fastify', 'node']) {
    it(`${name}: DELETE /products/:id is for people in catalog-admins only: 204, then 404; a machine gets 403`, async () => {
      const example = await startExample(name, {
        ...clean,
        USER_POOL_ID: jwks.userPoolId,
        COGNITO_ISSUER_URL: jwks.baseUrl,
        ALLOWED_CLIENT_IDS: 'test-client',
      });
      try {
        const remove = async (id: string, claims?: JWTPayload) =>
          fetch(`${example.url}/products/${id}`, {
            method: 'DELETE',
            headers: claims ? bearer(await token(claims)) : {},
          });
        const admin = { username: 'ada', 'cognito:groups': ['catalog-admins'], scope: 'products/read' };
        // A machine token has no groups, whatever its scopes: the rule names no other way in.
        const machine = await remove('p-1', { scope: 'products/read products/write' });
        assert.equal(machine.status, 403);
        assert.match(machine.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
        assert.deepEqual(await machine.json(), {
          error: 'insufficient_scope',
          error_description: 'token lacks the required group: one of catalog-admins',
        });
        const reader = await remove('p-1', { username: 'bob', 'cognito:groups': [], scope: 'products/write' });
        assert.equal(reader.status, 403, 'a person in no group');
        assert.equal((await remove('p-1')).status, 401);

        const deleted = await remove('p-1', admin);
        assert.equal(deleted.status, 204);
        assert.equal(await deleted.text(), '');
        const again = await remove('p-1', admin);
        assert.equal(again.status, 404, 'absent once deleted');
        assert.deepEqual(await again.json(), { error: 'not_found' });
        assert.equal((await remove('p-404', admin)).status, 404);
        const list = await fetch(`${example.url}/products`, {
          headers: bearer(await token({ scope: 'products/read' })),
        });
        assert.deepEqual(
          ((await list.json()) as { id: string }[]).map((product) => product.id),
          ['p-2'],
        );
      } finally {
        await example.close();
      }
    });
  }

  for (const name of ['koa', 'express', 'fastify', 'node']) {
    it(`${name}: serves its RFC 9728 metadata without a token, and every 401 challenge names it`, async () => {
      const example = await startExample(name, {
        ...clean,
        USER_POOL_ID: jwks.userPoolId,
        COGNITO_ISSUER_URL: jwks.baseUrl,
        ALLOWED_CLIENT_IDS: 'test-client',
      });
      try {
        // RFC 9728 §3.1: the well-known suffix between the host and the resource's path.
        const metadataUrl = 'https://api.example.com/.well-known/oauth-protected-resource/catalog';
        assert.equal(example.metadataLine, `resource metadata (RFC 9728): ${metadataUrl}`);
        const served = await fetch(`${example.url}/.well-known/oauth-protected-resource/catalog`);
        assert.equal(served.status, 200);
        assert.match(served.headers.get('content-type') ?? '', /^application\/json/);
        // RFC 9728 §2: the issuers, the sorted union of the routes' scopes, and the header only (RFC 6750 §2.1).
        assert.deepEqual(await served.json(), {
          resource,
          authorization_servers: [jwks.issuer],
          scopes_supported: ['products/read', 'products/write'],
          bearer_methods_supported: ['header'],
        });
        // RFC 9728 §5.1: every challenge, the 401 without credentials and with a bad token alike.
        for (const headers of [{}, bearer('not-a-token')]) {
          const refused = await fetch(`${example.url}/products`, { headers });
          assert.equal(refused.status, 401);
          assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer /);
          assert.match(refused.headers.get('www-authenticate') ?? '', new RegExp(`resource_metadata="${metadataUrl}"`));
        }
        // Only at its own path: the bare well-known path serves nothing. The adapters leave the RFC 9728 well-known
        // paths public (§3: read before any token), so it is a 404.
        const bare = await fetch(`${example.url}/.well-known/oauth-protected-resource`);
        assert.equal(bare.status, 404);
      } finally {
        await example.close();
      }
    });
  }

  it('koa: without RESOURCE_URL, is the resource http://localhost:<PORT> and prints where its metadata is', async () => {
    const port = await freePort();
    const example = await startExample('koa', {
      ...clean,
      USER_POOL_ID: jwks.userPoolId,
      COGNITO_ISSUER_URL: jwks.baseUrl,
      ALLOWED_CLIENT_IDS: 'test-client',
      PORT: String(port),
      RESOURCE_URL: '',
    });
    try {
      const metadataUrl = `http://localhost:${port}/.well-known/oauth-protected-resource`;
      assert.equal(example.metadataLine, `resource metadata (RFC 9728): ${metadataUrl}`);
      const served = await fetch(metadataUrl);
      assert.equal(served.status, 200);
      assert.equal(((await served.json()) as { resource: string }).resource, `http://localhost:${port}`);
      const refused = await fetch(`http://localhost:${port}/products`);
      assert.match(refused.headers.get('www-authenticate') ?? '', new RegExp(`resource_metadata="${metadataUrl}"`));
    } finally {
      await example.close();
    }
  });

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
    const run = async (args: string[]) => {
      const child = spawnTs('examples/main.ts', args, clean, { stderr: true, onlyEnv: true });
      const stderr = textOf(child.stderr);
      return { code: await exitOf(child), stderr: stderr() };
    };
    const [unconfigured, unnamed] = await Promise.all([run(['koa']), run([])]);
    assert.equal(unconfigured.code, 1);
    assert.equal(unconfigured.stderr, 'example: no issuer is configured: set USER_POOL_ID (Cognito) or OIDC_ISSUER\n');
    assert.equal(unnamed.code, 2);
    assert.equal(unnamed.stderr, 'usage: npm run example -- <koa|express|fastify|node>\n');
  });
});

describe('examples/config.ts: RESOURCE_URL, the resource identifier (RFC 9728 §1.2)', () => {
  const issuer = { OIDC_ISSUER: 'https://issuer.example.com' };
  const resourceOf = (env: NodeJS.ProcessEnv) => {
    const { resource, resourceMetadataPath, resourceMetadataUrl } = readConfig({ ...issuer, ...env });
    return { resource, resourceMetadataPath, resourceMetadataUrl };
  };

  it('is http://localhost:<PORT> when unset, from the configured port and never a request header (§7.3)', () => {
    assert.deepEqual(resourceOf({ PORT: '3000' }), {
      resource: 'http://localhost:3000',
      resourceMetadataPath: '/.well-known/oauth-protected-resource',
      resourceMetadataUrl: 'http://localhost:3000/.well-known/oauth-protected-resource',
    });
  });

  it('is RESOURCE_URL when set, the well-known suffix inserted before its path (§3.1)', () => {
    assert.deepEqual(resourceOf({ PORT: '0', RESOURCE_URL: 'https://api.example.com/catalog' }), {
      resource: 'https://api.example.com/catalog',
      resourceMetadataPath: '/.well-known/oauth-protected-resource/catalog',
      resourceMetadataUrl: 'https://api.example.com/.well-known/oauth-protected-resource/catalog',
    });
  });

  it('refuses, naming the variable and never its value, what the service refuses', () => {
    for (const value of [
      'http://api.example.com',
      'https://api.example.com/?secret=1',
      'https://api.example.com/#secret',
      'https://user:secret@api.example.com',
      'https://api.example.com/:secret',
      'secret',
    ]) {
      assert.throws(
        () => readConfig({ ...issuer, RESOURCE_URL: value }),
        (error: Error) => error.message.startsWith('RESOURCE_URL') && !error.message.includes('secret'),
        value,
      );
    }
  });

  it('takes DPoP (RFC 9449) from DPOP: allowed by default, required, or off; proofs name the resource URL', () => {
    const resource = 'https://api.example.com/catalog';
    assert.deepEqual(readConfig({ ...issuer, RESOURCE_URL: resource }).dpop, { resource, required: false });
    assert.deepEqual(readConfig({ ...issuer, RESOURCE_URL: resource, DPOP: 'required' }).dpop, {
      resource,
      required: true,
    });
    assert.equal(readConfig({ ...issuer, RESOURCE_URL: resource, DPOP: 'off' }).dpop, false);
    assert.throws(() => readConfig({ ...issuer, RESOURCE_URL: resource, DPOP: 'yes' }), /^Error: DPOP must be/);
  });

  it('must be set on PORT=0, whose port is not known until the example listens', () => {
    assert.throws(() => readConfig({ ...issuer, PORT: '0' }), /^Error: RESOURCE_URL must be set when PORT is 0/);
  });
});
