import type { ClaimsMapper, PrincipalClaims } from '@product-service/bearer';

/**
 * How the service reads an OIDC issuer's tokens, as it always has: `client_id`, `scope`, groups in `cognito:groups`
 * and a person's name in `username` (or `cognito:username`), so that a Cognito-shaped issuer behind OIDC_ISSUER keeps
 * the products routes' rule that people need a group where machines need only their scope.
 */
export const serviceClaims: ClaimsMapper = (claims) => {
  const { sub, scope } = claims;
  const clientId = claims['client_id'];
  const groups = claims['cognito:groups'];
  const username = claims['username'] ?? claims['cognito:username'];
  if (typeof sub !== 'string' || sub.length === 0) return 'claims_invalid';
  if (scope !== undefined && typeof scope !== 'string') return 'claims_invalid';
  if (clientId !== undefined && typeof clientId !== 'string') return 'claims_invalid';
  // A username decides whether a person's rules apply, so a malformed one is refused rather than ignored.
  if (username !== undefined && typeof username !== 'string') return 'claims_invalid';
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
    return 'claims_invalid';
  }
  const principal: PrincipalClaims = {
    subject: sub,
    clientId,
    scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [],
    groups: groups ?? [],
    username,
  };
  return principal;
};
