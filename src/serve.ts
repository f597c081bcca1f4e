import type { Service } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ListenError, listen, type HttpListener } from './http/listen.js';

/** A reason the service will not start, said as it is: one line, the setting to change, no stack trace. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface ServeOptions<S extends Service> {
  /** Builds the service from the config. A ListenError from here is the embedded issuer's (LOCAL_ISSUER_PORT). */
  readonly build: (config: Config) => Promise<S>;
  /** Printed once the service listens: how to call it. */
  readonly banner?: (service: S, config: Config, port: number) => string | undefined;
}

function fail(problem: string): never {
  process.stderr.write(`product-service: ${problem}\n`);
  process.exit(1);
}

function portProblem(error: ListenError, setting: string): string {
  const why = error.code === 'EADDRINUSE' ? 'is in use' : error.code === 'EACCES' ? 'is not allowed' : error.code;
  return `port ${error.port} ${why}: set ${setting} to a free port`;
}

function describe(error: unknown): string {
  if (error instanceof StartupError || error instanceof ConfigError) return error.message;
  return `could not start: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * What an entry point does: read the environment, build the service, listen, and on SIGTERM drain and stop. Every
 * start-up failure is one line on stderr and exit code 1.
 */
export async function serve<S extends Service>(options: ServeOptions<S>): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, { isTTY: process.stdout.isTTY });
  } catch (error) {
    fail(describe(error));
  }

  let service: S;
  try {
    service = await options.build(config);
  } catch (error) {
    // In local mode the embedded issuer is the one port that is listened on while the service is built.
    fail(error instanceof ListenError ? portProblem(error, 'LOCAL_ISSUER_PORT') : describe(error));
  }

  let listener: HttpListener;
  try {
    listener = await listen(service.app.callback(), { port: config.port, host: config.host, timeouts: config.http });
  } catch (error) {
    await service.close();
    fail(error instanceof ListenError ? portProblem(error, 'PORT') : describe(error));
  }
  const { port } = listener;
  service.logger.info({ host: config.host, port, mode: config.auth.mode }, 'product-service listening');
  const banner = options.banner?.(service, config, port);
  if (banner) process.stdout.write(banner);

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
}
