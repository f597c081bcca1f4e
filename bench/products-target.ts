// Child process of `npm run bench`: the whole service in local mode (embedded issuer and DynamoDB), logs off.
import type { AddressInfo } from 'node:net';
import { createService } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const service = await createService(loadConfig({ PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_LEVEL: 'silent' }));
const server = service.app.listen(0, '127.0.0.1');
await new Promise<void>((resolve) => server.once('listening', resolve));
process.stdout.write(
  `${JSON.stringify({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokenUrl: service.localIssuer?.tokenUrl,
    dynamo: service.localDynamoEndpoint,
  })}\n`,
);
