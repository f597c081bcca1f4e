// Child process of `npm run bench`: the service as it runs in AWS (an external issuer and DynamoDB endpoint, no
// embedded components in its process), pointed at the bench's JWKS server and dynalite.
import type { AddressInfo } from 'node:net';
import { createService } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const [issuer = '', jwksUri = '', endpoint = ''] = process.argv.slice(2);
const config = loadConfig({
  PORT: '0',
  LOG_LEVEL: 'silent',
  OIDC_ISSUER: issuer,
  JWKS_URI: jwksUri,
  DYNAMODB_ENDPOINT: endpoint,
  AWS_REGION: 'us-east-1',
  CURSOR_SECRET: 'bench-cursor-secret-bench-cursor-secret',
});
const service = await createService(config);
const server = service.app.listen(0, '127.0.0.1');
await new Promise<void>((resolve) => server.once('listening', resolve));
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
