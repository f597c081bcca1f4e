import { loadConfig, type Config } from '../../src/config.js';

/**
 * The service as `npm start` builds it in local mode, on free ports, with logs off. Apart from test/support/service.ts
 * (which imports the app, and with it the AWS SDK) so that a test may make its config before it starts OpenTelemetry.
 */
export function localTestConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ PORT: '0', LOCAL_ISSUER_PORT: '0', LOG_LEVEL: 'silent', ...env });
}
