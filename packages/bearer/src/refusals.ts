/**
 * Why a request was refused. A closed set, so that logs, counters and the HTTP mapping below can switch on it
 * exhaustively; the client only ever sees the RFC 6750 error code and a short description.
 */
export type RefusalReason =
  | 'missing'
  | 'malformed'
  | 'malformed_token'
  | 'token_too_large'
  | 'bad_algorithm'
  | 'bad_signature'
  | 'unknown_kid'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'too_old'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_type'
  | 'wrong_token_use'
  | 'client_not_allowed'
  | 'claims_invalid'
  | 'claim_check_failed'
  | 'revoked'
  | 'insufficient_scope'
  | 'group_not_allowed'
  | 'insufficient_user_authentication'
  | 'keys_unavailable'
  | 'dpop_required'
  | 'dpop_bound_as_bearer'
  | 'dpop_token_unbound'
  | 'dpop_proof_missing'
  | 'dpop_proof_invalid'
  | 'dpop_proof_stale'
  | 'dpop_proof_mismatch'
  | 'dpop_proof_wrong_token'
  | 'dpop_proof_replayed'
  | 'dpop_key_mismatch';

/**
 * RFC 6750 §3.1 error codes, RFC 9470 §3's for a person's sign-in that is too old or too weak, and RFC 9449 §7.1's for
 * a DPoP proof that does not hold.
 */
export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'invalid_dpop_proof';

export interface RefusalResponse {
  readonly status: 400 | 401 | 403 | 503;
  /** `undefined` when no credentials were sent: RFC 6750 §3.1 says the challenge then carries no error code. */
  readonly error: BearerErrorCode | 'temporarily_unavailable' | undefined;
  readonly description: string;
}

const responses: { readonly [R in RefusalReason]: RefusalResponse } = {
  missing: { status: 401, error: undefined, description: 'a bearer token is required' },
  malformed: { status: 400, error: 'invalid_request', description: 'malformed bearer credentials' },
  malformed_token: { status: 401, error: 'invalid_token', description: 'token malformed' },
  token_too_large: { status: 401, error: 'invalid_token', description: 'token too large' },
  bad_algorithm: { status: 401, error: 'invalid_token', description: 'token algorithm not accepted' },
  bad_signature: { status: 401, error: 'invalid_token', description: 'token signature invalid' },
  unknown_kid: { status: 401, error: 'invalid_token', description: 'token signing key unknown' },
  expired: { status: 401, error: 'invalid_token', description: 'token expired' },
  not_yet_valid: { status: 401, error: 'invalid_token', description: 'token not yet valid' },
  issued_in_future: { status: 401, error: 'invalid_token', description: 'token issued in the future' },
  too_old: { status: 401, error: 'invalid_token', description: 'token too old' },
  wrong_issuer: { status: 401, error: 'invalid_token', description: 'token issuer not accepted' },
  wrong_audience: { status: 401, error: 'invalid_token', description: 'token audience not accepted' },
  wrong_type: { status: 401, error: 'invalid_token', description: 'token type not accepted' },
  wrong_token_use: { status: 401, error: 'invalid_token', description: 'token use not accepted' },
  client_not_allowed: { status: 401, error: 'invalid_token', description: 'token client not accepted' },
  claims_invalid: { status: 401, error: 'invalid_token', description: 'token claims invalid' },
  // A route's claim check (claimEquals, claimIncludes, claimCheck): 401 invalid_token, as express-oauth2-jwt-bearer
  // answers it; the token is not one this route accepts, and no scope would mend it (see policy.ts ClaimRule).
  claim_check_failed: { status: 401, error: 'invalid_token', description: 'token claims not accepted' },
  revoked: { status: 401, error: 'invalid_token', description: 'token revoked' },
  insufficient_scope: { status: 403, error: 'insufficient_scope', description: 'token lacks the required scope' },
  group_not_allowed: { status: 403, error: 'insufficient_scope', description: 'token lacks the required group' },
  // RFC 9470 §3: 401, so that the client signs the person in again (as `max_age` and `acr_values` ask) and retries.
  insufficient_user_authentication: {
    status: 401,
    error: 'insufficient_user_authentication',
    description: 'a more recent or stronger authentication is required',
  },
  keys_unavailable: {
    status: 503,
    error: 'temporarily_unavailable',
    description: 'token signing keys are temporarily unavailable',
  },
  // RFC 9449 §7.1: with DPoP required the Bearer scheme is not offered; RFC 6750 §3.1 names no error code for an
  // unsupported scheme.
  dpop_required: { status: 401, error: undefined, description: 'a DPoP-bound token is required' },
  // RFC 9449 §7.2: a bound token sent as a bearer token is refused, else the binding protects nothing.
  dpop_bound_as_bearer: {
    status: 401,
    error: 'invalid_token',
    description: 'token is DPoP-bound: use the DPoP scheme',
  },
  dpop_token_unbound: { status: 401, error: 'invalid_token', description: 'token is not DPoP-bound' },
  // RFC 9449 §7.1, Figure 14's wording: the proof's key is not the key the token is bound to.
  dpop_key_mismatch: { status: 401, error: 'invalid_token', description: 'invalid DPoP key binding' },
  dpop_proof_missing: { status: 401, error: 'invalid_dpop_proof', description: 'a DPoP proof is required' },
  dpop_proof_invalid: { status: 401, error: 'invalid_dpop_proof', description: 'DPoP proof invalid' },
  dpop_proof_stale: { status: 401, error: 'invalid_dpop_proof', description: 'DPoP proof too old or from the future' },
  dpop_proof_mismatch: {
    status: 401,
    error: 'invalid_dpop_proof',
    description: 'DPoP proof is for another method or URI',
  },
  dpop_proof_wrong_token: { status: 401, error: 'invalid_dpop_proof', description: 'DPoP proof is for another token' },
  dpop_proof_replayed: { status: 401, error: 'invalid_dpop_proof', description: 'DPoP proof already used' },
};

/** The one place where a refusal reason becomes an HTTP status, error code and description. */
export function refusalResponse(reason: RefusalReason): RefusalResponse {
  return responses[reason];
}

/**
 * A refusal inside the verifier: a value, returned and never thrown, so that a flood of forged tokens builds no
 * stack traces (capturing one per refusal was 5 % of the server's CPU, measured with --cpu-prof) and no global
 * setting such as `Error.stackTraceLimit` is touched.
 */
export class Refused {
  constructor(
    readonly reason: RefusalReason,
    /** Seconds after which a retry may succeed; set for `keys_unavailable`. */
    readonly retryAfterSeconds?: number,
  ) {}
}

/** One shared instance per reason that carries nothing else: refusing allocates nothing. */
const plain = new Map<RefusalReason, Refused>();

export function refused(reason: RefusalReason): Refused {
  let value = plain.get(reason);
  if (!value) plain.set(reason, (value = new Refused(reason)));
  return value;
}
