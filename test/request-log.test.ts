import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createLocalService, type LocalService } from '../src/local/service.js';
import { bearer, fetchToken, localTestConfig } from './support/service.js';

describe('the request log', () => {
  const lines: Record<string, unknown>[] = [];
  let service: LocalService;
  let url: string;
  let close: () => Promise<void>;

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n'))
          if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    service = await createLocalService(localTestConfig({ LOG_LEVEL: 'info' }), { logger: pino(sink) });
    const server = service.app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.close();
    };
  });
  after(() => close());

  it('logs why a request was refused and who an accepted one came from, never a token, secret or signature', async () => {
    const { tokenUrl } = service.localIssuer;
    const token = await fetchToken(tokenUrl, { id: 'local-client', secret: 'local-client-secret' });
    const [header, payload, signature = ''] = token.split('.');
    await fetch(`${url}/example`, { headers: { ...bearer(token), 'x-request-id': 'req-123' } });
    await fetch(`${url}/example`, { headers: bearer(`${header}.${payload}.${signature.slice(0, -4)}AAAA`) });
    await fetch(`${url}/example?access_token=${token}`);
    await fetch(`${url}/example`);

    const requests = lines.filter((line) => line['msg'] === 'request');
    assert.equal(requests.length, 4);
    assert.deepEqual(
      requests.map((r) => [r['status'], r['refusal'] ?? null, r['clientId'] ?? null]),
      [
        [404, null, 'local-client'],
        [401, 'bad_signature', null],
        [400, 'malformed', null],
        [401, 'missing', null],
      ],
    );
    assert.equal(requests[0]?.['requestId'], 'req-123');
    const everything = JSON.stringify(lines);
    for (const secret of [token, signature, 'local-client-secret', payload ?? '']) {
      assert.ok(!everything.includes(secret), 'a token part or secret reached the log');
    }
    assert.ok(!everything.includes('access_token'), 'the query string is not logged');
  });
});
