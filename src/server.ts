import { createService, type Service } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ListenError, listen, type HttpListener } from './http/listen.js';

/** A start-up failure as one line that names the setting to change: no stack trace for an operator to read. */
function fail(problem: string): never {
  process.stderr.write(`product-service: ${problem}\n`);
  process.exit(1);
}

function portProblem(error: ListenError, setting: string): string {
  const why = error.code === 'EADDRINUSE' ? 'is in use' : error.code === 'EACCES' ? 'is not allowed' : error.code;
  return `port ${error.port} ${why}: set ${setting} to a free port`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

let config: Config;
try {
  config = loadConfig(process.env, { isTTY: process.stdout.isTTY });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.message);
}

let service: Service;
try {
  service = await createService(config);
} catch (error) {
  // In local mode the embedded issuer is the one port that createService listens on.
  fail(error instanceof ListenError ? portProblem(error, 'LOCAL_ISSUER_PORT') : `could not start: ${describe(error)}`);
}

let listener: HttpListener;
try {
  listener = await listen(service.app.callback(), { port: config.port, timeouts: config.http });
} catch (error) {
  await service.close();
  fail(error instanceof ListenError ? portProblem(error, 'PORT') : `could not start: ${describe(error)}`);
}
const { port } = listener;
service.logger.info({ port, mode: config.auth.mode }, 'product-service listening');

if (service.localIssuer && config.local) {
  const base = `http://localhost:${port}`;

  process.stdout.write(
    [
      '',
      `ProductService is running locally on ${base} with an embedded Cognito-shaped issuer.`,
      '',
      'Get a token and call the API:',
      `  TOKEN=$(npm run --silent token -- --token-url ${service.localIssuer.tokenUrl} --client ${config.local.clientId}:${config.local.clientSecret})`,
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

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  service.logger.info({ signal }, 'shutting down');
  // Stop accepting, let in-flight requests finish (each answer says Connection: close), then close the components.
  const { cut } = await listener.drain(config.http.shutdownTimeoutMs);
  if (cut > 0) service.logger.warn({ cut }, 'connections cut at the shutdown deadline');
  await service.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
