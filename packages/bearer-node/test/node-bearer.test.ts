import assert from 'node:assert/strict';
import { createServer, IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { publicAccess, requireScopes, type Outcome } from '@product-service/bearer';
import * as node from '@product-service/bearer-node';
import { createNodeBearer, toAuthRequest, writeRefusal } from '@product-service/bearer-node';

function request(url: string, rawHeaders: string[] = []): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = url;
  req.rawHeaders = rawHeaders;
  for (let i = 0; i < rawHeaders.length; i += 2) req.headers[(rawHeaders[i] ?? '').toLowerCase()] = rawHeaders[i + 1];
  return req;
}

const admitted: Outcome = Object.freeze({ principal: undefined, access: publicAccess });

describe('the public surface of @product-service/bearer-node', () => {
  it('exports the factory, the request reader and the refusal writer, and nothing else at run time', () => {
    assert.deepEqual(Object.keys(node).sort(), ['createNodeBearer', 'toAuthRequest', 'writeRefusal']);
  });
});

describe('createNodeBearer', () => {
  it('hands the core the method, the path and query apart, and the headers raw and parsed, without copying', () => {
    const req = request('/items/1?a=b', ['Authorization', 'Bearer x']);
    const read = toAuthRequest(req);
    assert.equal(read.method, 'GET');
    assert.equal(read.path, '/items/1');
    assert.equal(read.query, 'a=b');
    assert.equal(read.headers, req.headers);
    assert.equal(read.rawHeaders, req.rawHeaders);
  });

  it('passes the route access when given, else the policy access, and returns a synchronous outcome as it is', () => {
    const seen: unknown[] = [];
    const policy = { rules: [], accessFor: () => publicAccess };
    const bearer = createNodeBearer({
      authenticator: { authenticate: (_request, access) => (seen.push(access), admitted) },
      policy,
    });
    assert.equal(bearer.authenticate(request('/x')), admitted);
    const scoped = requireScopes('items/read');
    void bearer.authenticate(request('/x'), scoped);
    assert.deepEqual(seen, [publicAccess, scoped]);
  });
});

describe('writeRefusal', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((_req, res) =>
      writeRefusal(res, {
        reason: 'missing',
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer realm="api"', 'Cache-Control': 'no-store' },
        body: { error: 'unauthorized', error_description: 'a bearer token is required' },
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('writes the status, the headers and the JSON body as they are', async () => {
    const response = await fetch(url);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="api"');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(await response.json(), { error: 'unauthorized', error_description: 'a bearer token is required' });
  });

  it('writes no body for HEAD (RFC 9110 §9.3.2)', async () => {
    const response = await fetch(url, { method: 'HEAD' });
    assert.equal(response.status, 401);
    assert.equal(await response.text(), '');
  });
});

// Claim checks (claimEquals, claimIncludes, claimCheck) and getToken through this adapter are rows of
// test/conformance/cases.ts, run through every adapter alike.
