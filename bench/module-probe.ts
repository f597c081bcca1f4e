// Loaded with --import before a bench target: every module URL the process resolves (import or require), so that the
// target can say how many OpenTelemetry modules it loaded.
import { registerHooks } from 'node:module';

const resolved = new Set<string>();
registerHooks({
  resolve(specifier, context, next) {
    const found = next(specifier, context);
    resolved.add(found.url);
    return found;
  },
});
(globalThis as Record<symbol, unknown>)[Symbol.for('product-service.bench.resolved-modules')] = resolved;
