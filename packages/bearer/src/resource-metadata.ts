import type { IssuerConfig } from './issuers.js';
import type { RoutePolicy } from './policy.js';

/** RFC 9728 §3: the well-known URI suffix registered for protected resource metadata. */
export const protectedResourceWellKnown = '/.well-known/oauth-protected-resource';

/** The RFC 9728 §2 document, the members this package fills; a zero value is left out (§3.2). */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers?: readonly string[];
  readonly scopes_supported?: readonly string[];
  /** Only the header: a token in the query or the body is refused (RFC 6750 §2.3, 400 `invalid_request`). */
  readonly bearer_methods_supported: readonly ['header'];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
}

export interface ProtectedResourceMetadataOptions {
  /**
   * The resource identifier (RFC 9728 §1.2): an https URL (http only on loopback) without a fragment, and here
   * without a query, so that the metadata sits at a path a router can serve. Given back as it is (§3.3).
   */
  readonly resource: string;
  /** The issuers the authenticator trusts: their `issuer` values are the `authorization_servers` (RFC 8414 §2). */
  readonly issuers?: readonly Pick<IssuerConfig, 'issuer'>[];
  /** The route policy: `scopes_supported` is every scope its rules ask for, so the document cannot drift from it. */
  readonly policy?: Pick<RoutePolicy, 'rules'>;
  /** Human-readable name of the resource (RFC 9728 §2 `resource_name`). */
  readonly resourceName?: string;
  /** URL of the resource's documentation for developers (RFC 9728 §2 `resource_documentation`). */
  readonly resourceDocumentation?: string;
}

function resourceUrl(resource: string): URL {
  if (!URL.canParse(resource)) throw new TypeError('the resource identifier must be an absolute URL (RFC 9728 §1.2)');
  const url = new URL(resource);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError('the resource identifier must be an https URL, http only on loopback (RFC 9728 §1.2)');
  }
  if (url.hash !== '' || resource.includes('#')) {
    throw new TypeError('the resource identifier must have no fragment (RFC 9728 §1.2)');
  }
  if (url.search !== '' || resource.includes('?')) throw new TypeError('the resource identifier must have no query');
  if (url.username !== '' || url.password !== '') throw new TypeError('the resource identifier must have no userinfo');
  return url;
}

/**
 * The path the metadata is served at (RFC 9728 §3.1): the well-known suffix inserted between the host and the
 * resource's path, the slash that ends a host-only identifier dropped. `https://api.example.com` →
 * `/.well-known/oauth-protected-resource`; `https://api.example.com/v1` → `/.well-known/oauth-protected-resource/v1`.
 */
export function protectedResourceMetadataPath(resource: string): string {
  const { pathname } = resourceUrl(resource);
  return pathname === '/' ? protectedResourceWellKnown : `${protectedResourceWellKnown}${pathname}`;
}

/** The metadata's URL (RFC 9728 §3.1), which every challenge names as `resource_metadata` (§5.1). */
export function protectedResourceMetadataUrl(resource: string): string {
  return `${resourceUrl(resource).origin}${protectedResourceMetadataPath(resource)}`;
}

/**
 * The RFC 9728 §2 document of a resource protected by this package: `resource` as given, `authorization_servers`
 * from the issuers, `scopes_supported` from the route policy (sorted, each once), and `bearer_methods_supported`
 * `["header"]`. Nothing is signed, so `resource_signing_alg_values_supported` and `signed_metadata` are absent.
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): ProtectedResourceMetadata {
  resourceUrl(options.resource);
  const servers = [...new Set((options.issuers ?? []).map(({ issuer }) => issuer))];
  const scopes = new Set<string>();
  for (const { access } of options.policy?.rules ?? []) {
    if (access.kind !== 'authenticated') continue;
    if (access.scopes) {
      for (const scope of 'allOf' in access.scopes ? access.scopes.allOf : access.scopes.anyOf) scopes.add(scope);
    }
    // A group rule's other ways in are scopes a client may ask for to reach the resource, too.
    for (const scope of [...(access.groups?.orScopes ?? []), ...(access.groups?.orMachinesWithScopes ?? [])]) {
      scopes.add(scope);
    }
  }
  if (options.resourceDocumentation !== undefined && !URL.canParse(options.resourceDocumentation)) {
    throw new TypeError('resourceDocumentation must be an absolute URL (RFC 9728 §2)');
  }
  return Object.freeze({
    resource: options.resource,
    ...(servers.length > 0 ? { authorization_servers: Object.freeze(servers) } : {}),
    ...(scopes.size > 0 ? { scopes_supported: Object.freeze([...scopes].sort()) } : {}),
    bearer_methods_supported: Object.freeze(['header'] as const),
    ...(options.resourceName ? { resource_name: options.resourceName } : {}),
    ...(options.resourceDocumentation ? { resource_documentation: options.resourceDocumentation } : {}),
  });
}
