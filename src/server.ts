import type { AddressInfo } from 'node:net';
import { createService } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';

let config: Config;
try {
  config = loadConfig(process.env, { isTTY: process.stdout.isTTY });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`product-service: ${error.message}\n`);
  process.exit(1);
}

const service = await createService(config);
const server = service.app.listen(config.port);
await new Promise<void>((resolve) => server.once('listening', resolve));
const { port } = server.address() as AddressInfo;
service.logger.info({ port, mode: config.auth.mode }, 'product-service listening');

if (service.localIssuer && config.local) {
  const base = `http://localhost:${port}`;
  const token = `curl -s -u ${config.local.clientId}:${config.local.clientSecret} -d grant_type=client_credentials ${service.localIssuer.tokenUrl}`;
  process.stdout.write(
    [
      '',
      `ProductService is running locally on ${base} with an embedded Cognito-shaped issuer.`,
      '',
      'Get a token and call the API:',
      `  TOKEN=$(${token} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
      `  curl -i ${base}/hello`,
      `  curl -i -H "Authorization: Bearer $TOKEN" ${base}/example`,
      `  curl -i -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
      `    -d '{"name":"Trek Domane","imageURL":"https://images.example.com/domane.png"}' ${base}/products`,
      `  curl -i -H "Authorization: Bearer $TOKEN" ${base}/products`,
      '',
      `Interactive docs: ${base}/docs  (Authorize with client_id ${config.local.clientId} and its secret)`,
      `OpenAPI document: ${base}/openapi.json`,
      '',
    ].join('\n') + '\n',
  );
}

const shutdownDeadlineMs = 10_000;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  service.logger.info({ signal }, 'shutting down');
  // Stop accepting, let in-flight requests finish (up to a deadline), then close the embedded components.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = setTimeout(() => server.closeAllConnections(), shutdownDeadlineMs);
  await closed;
  clearTimeout(deadline);
  await service.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
