declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { Adapter } from 'oidc-provider';
  /** oidc-provider's own in-memory adapter, with a store of its own (and without its development warning). */
  export function createMemoryAdapter(clockTolerance?: number): (model: string) => Adapter;
}
