import { generateKeyPair, SignJWT } from 'jose';
import { supportedAlgorithms } from '@product-service/bearer/defaults';
import { realm, type ConformanceCase, type Expected, type Step, type World } from './cases.js';

/**
 * DPoP (RFC 9449, https://www.rfc-editor.org/rfc/rfc9449): the checks of §4.3 and the attacks of §11, as every
 * adapter must answer them. The authenticator is configured with this resource URL; the requests go to
 * 127.0.0.1, so a proof naming the `Host` the client sent would fail: `htu` is built from the configuration.
 */
export const resource = 'https://api.example';

const algs = `algs="${supportedAlgorithms.join(' ')}"`;
const dpopChallenge = (params = '') => `DPoP realm="${realm}", ${params}${algs}`;
/** Both challenges, the error in DPoP's: the scheme the client used (RFC 9449 §7.1). */
const dpopRefusal = (error: string, description: string): Expected => ({
  status: 401,
  challenge: `Bearer realm="${realm}", ${dpopChallenge(`error="${error}", error_description="${description}", `)}`,
  body: { error, error_description: description },
});
const invalidProof = (description: string) => dpopRefusal('invalid_dpop_proof', description);
const admitted: Expected = { status: 200, challenge: null, body: { subject: 'test-client' } };

/** A token bound to the client's DPoP key, and a proof of `GET /items` for it; `proof` overrides what it says. */
async function boundRequest(w: World, proof: Partial<Parameters<World['dpop']['proof']>[0]> = {}) {
  const token = await w.token(w.dpop.cnf);
  const dpop = await w.dpop.proof({ method: 'GET', url: `${w.resource}/items`, token, now: w.clock.now(), ...proof });
  return { path: '/items', authorization: `DPoP ${token}`, dpop };
}

const dpopOnce = (name: string, source: string, send: Step['send'], expect: Expected): ConformanceCase => ({
  name,
  source,
  dpop: {},
  steps: [{ send, expect }],
});

/** A proof replayed: the same request twice. Built per run, so that each adapter sends its own proof. */
function replay(): ConformanceCase {
  let first: { path: string; authorization: string; dpop: string } | undefined;
  return {
    name: 'DPoP: refuses a proof used a second time (replay)',
    source: 'RFC 9449 §11.1, §4.3 step 12 (jti)',
    dpop: {},
    steps: [
      { send: async (w) => (first = await boundRequest(w)), expect: admitted },
      { send: () => first ?? { path: '/items' }, expect: invalidProof('DPoP proof already used') },
    ],
  };
}

export const dpopCases: readonly ConformanceCase[] = [
  dpopOnce(
    'DPoP: admits a bound token with a proof of this request, htu from the configured URL, not Host',
    'RFC 9449 §4.3, §7.1',
    (w) => boundRequest(w),
    admitted,
  ),
  dpopOnce(
    'DPoP: offers the DPoP challenge with algs beside Bearer when no token is sent',
    'RFC 9449 §7.1',
    () => ({ path: '/items' }),
    {
      status: 401,
      challenge: `Bearer realm="${realm}", ${dpopChallenge()}`,
      body: { error: 'unauthorized', error_description: 'a bearer token is required' },
    },
  ),
  replay(),
  dpopOnce(
    'DPoP: refuses a proof for another URI (htu)',
    'RFC 9449 §4.3 step 9, §11.1',
    (w) => boundRequest(w, { url: `${w.resource}/admins` }),
    invalidProof('DPoP proof is for another method or URI'),
  ),
  dpopOnce(
    'DPoP: refuses a proof naming the Host the client sent instead of the configured URL',
    'RFC 9449 §4.3 step 9; auth0/node-oauth2-jwt-bearer#244',
    (w) => boundRequest(w, { url: 'http://127.0.0.1/items' }),
    invalidProof('DPoP proof is for another method or URI'),
  ),
  dpopOnce(
    'DPoP: refuses a proof for another method (htm)',
    'RFC 9449 §4.3 step 8',
    (w) => boundRequest(w, { method: 'POST' }),
    invalidProof('DPoP proof is for another method or URI'),
  ),
  dpopOnce(
    'DPoP: refuses a proof without ath',
    'RFC 9449 §4.3 step 12, §4.2',
    (w) => boundRequest(w, { claims: { ath: undefined } }),
    invalidProof('DPoP proof is for another token'),
  ),
  dpopOnce(
    'DPoP: refuses a proof whose ath is another token’s hash',
    'RFC 9449 §4.3 step 12, §11.1',
    async (w) => boundRequest(w, { token: await w.token({ ...w.dpop.cnf, jti: 'another' }) }),
    invalidProof('DPoP proof is for another token'),
  ),
  dpopOnce(
    'DPoP: refuses a stale proof (iat older than the window)',
    'RFC 9449 §4.3 step 11, §11.1',
    (w) => boundRequest(w, { now: w.clock.now() - 600_000 }),
    invalidProof('DPoP proof too old or from the future'),
  ),
  dpopOnce(
    'DPoP: refuses a proof whose signature is not by its own jwk',
    'RFC 9449 §4.3 step 6',
    async (w) => boundRequest(w, { signWith: (await generateKeyPair('ES256')).privateKey }),
    invalidProof('DPoP proof invalid'),
  ),
  dpopOnce(
    'DPoP: refuses a proof whose typ is not dpop+jwt',
    'RFC 9449 §4.3 step 4',
    (w) => boundRequest(w, { header: { typ: 'JWT' } }),
    invalidProof('DPoP proof invalid'),
  ),
  dpopOnce(
    'DPoP: refuses an HS256 proof (a symmetric key proves nothing)',
    'RFC 9449 §4.3 step 5, RFC 8725 §3.1',
    async (w) => {
      const token = await w.token(w.dpop.cnf);
      const secret = new TextEncoder().encode('thirty-two bytes of shared secret');
      const claims = { jti: 'hs', htm: 'GET', htu: `${w.resource}/items`, iat: Math.floor(w.clock.now() / 1000) };
      const dpop = await new SignJWT(claims)
        .setProtectedHeader({
          typ: 'dpop+jwt',
          alg: 'HS256',
          jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } as { kty: string },
        })
        .sign(secret);
      return { path: '/items', authorization: `DPoP ${token}`, dpop };
    },
    invalidProof('DPoP proof invalid'),
  ),
  dpopOnce(
    'DPoP: refuses a proof by a key other than the one the token is bound to',
    'RFC 9449 §6.1, §4.3 step 12',
    async (w) => ({
      ...(await boundRequest(w)),
      authorization: `DPoP ${await w.token({ cnf: { jkt: 'x'.repeat(43) } })}`,
    }),
    // The proof's ath is for the other token, so the hash check refuses it first; the key check is test/dpop.test.ts's.
    invalidProof('DPoP proof is for another token'),
  ),
  dpopOnce(
    'DPoP: refuses a bound token without a proof',
    'RFC 9449 §7.1, §4.3 step 1',
    async (w) => ({ path: '/items', authorization: `DPoP ${await w.token(w.dpop.cnf)}` }),
    invalidProof('a DPoP proof is required'),
  ),
  dpopOnce(
    'DPoP: refuses two DPoP headers',
    'RFC 9449 §4.3 step 1',
    async (w) => {
      const sent = await boundRequest(w);
      return { ...sent, dpop: [sent.dpop, sent.dpop] };
    },
    invalidProof('DPoP proof invalid'),
  ),
  dpopOnce(
    'DPoP: refuses a bound token sent as a bearer token',
    'RFC 9449 §7.2',
    async (w) => ({ path: '/items', authorization: `Bearer ${await w.token(w.dpop.cnf)}` }),
    {
      status: 401,
      challenge:
        `Bearer realm="${realm}", error="invalid_token", ` +
        `error_description="token is DPoP-bound: use the DPoP scheme", ${dpopChallenge()}`,
      body: { error: 'invalid_token', error_description: 'token is DPoP-bound: use the DPoP scheme' },
    },
  ),
  dpopOnce(
    'DPoP: still admits a plain bearer token in the default "allowed" mode',
    'RFC 9449 §7.1 (DPoP beside Bearer)',
    async (w) => ({ path: '/items', authorization: `Bearer ${await w.token()}` }),
    admitted,
  ),
  {
    name: 'DPoP required: refuses a plain bearer token, offering only the DPoP challenge; admits a bound one',
    source: 'RFC 9449 §7.1, RFC 6750 §3.1 (an unsupported scheme gets no error code)',
    dpop: { required: true },
    steps: [
      {
        send: async (w) => ({ path: '/items', authorization: `Bearer ${await w.token()}` }),
        expect: {
          status: 401,
          challenge: dpopChallenge(),
          body: { error: 'unauthorized', error_description: 'a DPoP-bound token is required' },
        },
      },
      { send: (w) => boundRequest(w), expect: admitted },
    ],
  },
];
