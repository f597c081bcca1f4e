// Loaded before the app with `node --import ./dist/telemetry/register.js` (npm start and the image do so): the
// instrumentations patch the AWS SDK as it is required (its CommonJS build, which its `node` export condition selects),
// so they must be registered before the app imports it; fetch is traced through diagnostics channels. Without
// OTEL_EXPORTER_OTLP_ENDPOINT it does nothing at all: no OpenTelemetry module is imported.
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env['OTEL_EXPORTER_OTLP_ENDPOINT']) {
  const { loadConfig } = await import('../config.js');
  let telemetry;
  try {
    telemetry = loadConfig(process.env).telemetry;
  } catch {
    // A bad setting: serve.ts parses the same environment, says what is wrong and exits 1.
  }
  if (telemetry) {
    const { startTelemetry } = await import('./sdk.js');
    startTelemetry(telemetry);
  }
}
