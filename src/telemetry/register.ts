// Loaded before the app with `node --import ./dist/telemetry/register.js` (npm start and the image do so): the ESM
// loader hook that lets the instrumentations patch modules as they are imported must be in place before the app
// imports them. Without OTEL_EXPORTER_OTLP_ENDPOINT it does nothing at all: no OpenTelemetry module is imported.
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env['OTEL_EXPORTER_OTLP_ENDPOINT']) {
  // In-thread (module.registerHooks, Node >= 24.11.1), not module.register's loader thread and its message channel.
  // Only what an instrumentation patches as an ES module is wrapped: node:http. The AWS SDK resolves to its CommonJS
  // build (its `node` export condition) and is patched on require; fetch is traced through diagnostics channels.
  const { register } = await import('import-in-the-middle/register-hooks.mjs');
  register({ include: ['http', 'https', 'node:http', 'node:https'] });
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
