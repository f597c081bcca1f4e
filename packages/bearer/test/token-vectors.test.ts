import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { base64url, SignJWT } from 'jose';
import type { IssuerConfig } from '../src/issuers.js';
import { createVerifier as createRealVerifier, type Verifier, type VerifierOptions } from '../src/verifier.js';
import { outcome, verify } from './support/outcome.js';
import { cognito } from '../src/issuers.js';
import {
  cognitoAccessClaims,
  createTestClock,
  createTestKey,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
} from '@product-service/bearer-testing';

const encode = (value: unknown): string => base64url.encode(JSON.stringify(value));
const encodeText = (value: string): string => base64url.encode(value);
const nowSec = (): number => Math.floor(Date.now() / 1000);

/** RS256 over exactly these header and payload texts: jose will not sign some of what the vectors need. */
async function signRaw(key: TestKey, header: string, payload: string): Promise<string> {
  const input = `${encodeText(header)}.${encodeText(payload)}`;
  const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key.privateKey, new TextEncoder().encode(input));
  return `${input}.${base64url.encode(new Uint8Array(signature))}`;
}

// One test per attack or rule, each naming where the rule comes from. The verifier is the real one, fetching keys
// over HTTP from a JWKS server the test controls. Every vector runs twice: with the signature checked by node:crypto
// (the default) and by jose, which must give the same verdict (signature.test.ts adds generated tokens).
for (const signatureCheck of ['node', 'jose'] as const) {
  const createVerifier = (options: VerifierOptions): Verifier => createRealVerifier({ ...options, signatureCheck });
  describe(`token vectors, signature checked by ${signatureCheck === 'node' ? 'node:crypto' : 'jose'}`, () => {
    let jwks: TestIssuer;
    let key: TestKey;
    let issuer: IssuerConfig;
    let verifier: Verifier;

    before(async () => {
      key = await createTestKey();
      jwks = await startTestIssuer({ keys: [key] });
      issuer = cognito(jwks.cognitoProfile());
      verifier = createVerifier({ issuers: [issuer], tokenCache: false });
      await verifier.warmUp();
    });
    after(() => jwks.close());

    const claims = (overrides: Record<string, unknown> = {}) => cognitoAccessClaims(jwks.issuer, overrides);

    it('accepts the control token: Cognito-shaped, signed by the published key', async () => {
      const principal = await verify(verifier, await jwks.sign(key));
      assert.equal(principal.clientId, 'test-client');
      assert.deepEqual(principal.scopes, ['products/read', 'products/write']);
      assert.equal(principal.tokenUse, 'access');
    });

    describe('algorithms (RFC 8725 §2.1, §3.1)', () => {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        it(`refuses alg "${alg}" with an empty signature (RFC 8725 §3.1, CVE-2022-23540)`, async () => {
          const token = `${encode({ alg, kid: key.kid })}.${encode(claims())}.`;
          assert.equal(await outcome(verifier, token), 'bad_algorithm');
        });
      }

      it('refuses HS256 signed with the public key as the HMAC secret (RFC 8725 §2.1, CVE-2015-9235)', async () => {
        const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
        const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(secret);
        assert.equal(await outcome(verifier, token), 'bad_algorithm');
      });

      it('refuses an allowed-looking algorithm the issuer is not configured for (RS512 when RS256 is the list)', async () => {
        const rs512 = await createTestKey('RS512', key.kid);
        assert.equal(await outcome(verifier, await jwks.sign(rs512)), 'bad_algorithm');
      });

      it('cannot be configured to accept HMAC or none from an asymmetric issuer', () => {
        for (const alg of ['HS256', 'none']) {
          assert.throws(() => createVerifier({ issuers: [{ ...issuer, algorithms: [alg as 'RS256'] }] }), TypeError);
        }
      });

      it('refuses a key whose JWK alg does not fit the token header (the JWK alg, use and kty must match)', async () => {
        const local = await startTestIssuer({ userPoolId: 'local_AlgPool', keys: [] });
        try {
          const ps = await createTestKey('PS256');
          // Published as RS256, used to sign PS256: same RSA key, different algorithm.
          local.publish([{ ...ps, publicJwk: { ...ps.publicJwk, alg: 'RS256' } }]);
          const mixed = createVerifier({
            issuers: [{ ...cognito(local.cognitoProfile()), algorithms: ['RS256', 'PS256'] }],
            tokenCache: false,
          });
          const token = await local.sign(ps, cognitoAccessClaims(local.issuer));
          assert.equal(await outcome(mixed, token), 'unknown_kid');
          // And a key published for encryption (`use: enc`) never verifies a signature.
          local.publish([{ ...ps, publicJwk: { ...ps.publicJwk, use: 'enc' } }]);
          const encOnly = createVerifier({
            issuers: [{ ...cognito(local.cognitoProfile()), algorithms: ['PS256'] }],
            tokenCache: false,
          });
          assert.equal(await outcome(encOnly, token), 'unknown_kid');
        } finally {
          await local.close();
        }
      });

      it('accepts PS256, ES256 and EdDSA when configured for them', async () => {
        for (const alg of ['PS256', 'ES256', 'EdDSA'] as const) {
          const local = await startTestIssuer({ userPoolId: `local_${alg}`, keys: [] });
          try {
            const k = await createTestKey(alg);
            local.publish([k]);
            const v = createVerifier({
              issuers: [{ ...cognito(local.cognitoProfile()), algorithms: [alg] }],
              tokenCache: false,
            });
            assert.equal(await outcome(v, await local.sign(k, cognitoAccessClaims(local.issuer))), 'accepted', alg);
          } finally {
            await local.close();
          }
        }
      });

      it('refuses the all-zero ECDSA signature, "psychic signatures" (CVE-2022-21449)', async () => {
        const local = await startTestIssuer({ userPoolId: 'local_EcPool', keys: [] });
        try {
          const es = await createTestKey('ES256');
          local.publish([es]);
          const v = createVerifier({
            issuers: [{ ...cognito(local.cognitoProfile()), algorithms: ['ES256'] }],
            tokenCache: false,
          });
          const [header, payload] = (await local.sign(es, cognitoAccessClaims(local.issuer))).split('.');
          const zeros = base64url.encode(new Uint8Array(64));
          assert.equal(await outcome(v, `${header}.${payload}.${zeros}`), 'bad_signature');
        } finally {
          await local.close();
        }
      });
    });

    describe('keys named by the token are never followed (RFC 8725 §3.10)', () => {
      it('refuses a token carrying its own key in an embedded jwk header (CVE-2018-0114)', async () => {
        const attacker = await createTestKey('RS256', 'attacker');
        const token = await jwks.sign(attacker, claims(), { jwk: attacker.publicJwk });
        assert.equal(await outcome(verifier, token), 'unknown_kid');
        const sameKid = await createTestKey('RS256', key.kid);
        const token2 = await jwks.sign(sameKid, claims(), { jwk: sameKid.publicJwk });
        assert.equal(await outcome(verifier, token2), 'bad_signature');
      });

      for (const header of ['jku', 'x5u'] as const) {
        it(`never fetches the ${header} URL a token names (SSRF, RFC 8725 §3.10)`, async () => {
          let attackerRequests = 0;
          const attackerServer = createServer((_req, res) => {
            attackerRequests += 1;
            res.end('{}');
          });
          await new Promise<void>((resolve) => attackerServer.listen(0, '127.0.0.1', resolve));
          const { port } = attackerServer.address() as AddressInfo;
          try {
            const attacker = await createTestKey('RS256', 'attacker-kid');
            const token = await jwks.sign(attacker, claims(), { [header]: `http://127.0.0.1:${port}/keys` });
            assert.equal(await outcome(verifier, token), 'unknown_kid');
            assert.equal(attackerRequests, 0);
          } finally {
            await new Promise<void>((resolve) => attackerServer.close(() => resolve()));
          }
        });
      }

      for (const kid of ['../../../../etc/passwd', "' OR '1'='1' --", '%00', 'a'.repeat(2000)]) {
        it(`refuses a hostile kid (${kid.slice(0, 24)}) as unknown, without any effect beyond a lookup (RFC 8725 §3.10)`, async () => {
          const forged = await createTestKey('RS256', kid);
          assert.equal(await outcome(verifier, await jwks.sign(forged)), 'unknown_kid');
        });
      }
    });

    describe('structure', () => {
      it('refuses a stripped signature (RFC 7515 §5.2)', async () => {
        const [header, payload] = (await jwks.sign(key)).split('.');
        assert.equal(await outcome(verifier, `${header}.${payload}.`), 'bad_signature');
        assert.equal(await outcome(verifier, `${header}.${payload}`), 'malformed_token');
      });

      it('refuses duplicate member names in the header or the claims, even when signed (RFC 7519 §4, RFC 7515 §4)', async () => {
        const header = `{"alg":"RS256","kid":"${key.kid}","kid":"other"}`;
        assert.equal(await outcome(verifier, await signRaw(key, header, JSON.stringify(claims()))), 'malformed_token');
        const body = JSON.stringify(claims()).replace(/^\{/, '{"scope":"admin",');
        const plainHeader = JSON.stringify({ alg: 'RS256', kid: key.kid });
        assert.equal(await outcome(verifier, await signRaw(key, plainHeader, body)), 'malformed_token');
        // Escapes do not hide a duplicate: "\u0073cope" is "scope".
        const escaped = JSON.stringify(claims()).replace(/^\{/, '{"\\u0073cope":"admin",');
        assert.equal(await outcome(verifier, await signRaw(key, plainHeader, escaped)), 'malformed_token');
        // The same member name in two different objects is not a duplicate.
        const nested = JSON.stringify(claims({ a: { scope: 1 }, b: [{ scope: 2 }, { scope: 3 }] }));
        assert.equal(await outcome(verifier, await signRaw(key, plainHeader, nested)), 'accepted');
      });

      it('refuses characters outside base64url (RFC 7515 §2, §3.1)', async () => {
        const [header, payload, signature] = (await jwks.sign(key)).split('.');
        assert.equal(await outcome(verifier, `${header}.${payload}+.${signature}`), 'malformed_token');
        assert.equal(await outcome(verifier, `${header}=.${payload}.${signature}`), 'malformed_token');
      });

      it('refuses a token over the 8 KiB cap before parsing it', async () => {
        const token = await jwks.sign(key, claims({ padding: 'x'.repeat(9000) }));
        assert.equal(await outcome(verifier, token), 'token_too_large');
      });

      it('refuses an unknown crit header entry (RFC 7515 §4.1.11, RFC 8725 §3.1)', async () => {
        const header = JSON.stringify({ alg: 'RS256', kid: key.kid, crit: ['exp-ext'], 'exp-ext': true });
        const token = await signRaw(key, header, JSON.stringify(claims()));
        assert.equal(await outcome(verifier, token), 'malformed_token');
      });

      it('refuses a header or payload that is not a JSON object', async () => {
        const signature = (await jwks.sign(key)).split('.')[2] ?? '';
        assert.equal(
          await outcome(verifier, `${encodeText('[1]')}.${encode(claims())}.${signature}`),
          'malformed_token',
        );
        assert.equal(
          await outcome(verifier, `${encode({ alg: 'RS256', kid: key.kid })}.${encodeText('"x"')}.${signature}`),
          'malformed_token',
        );
      });
    });

    describe('time claims, with the 5 s clock tolerance (RFC 7519 §4.1.4–4.1.6)', () => {
      it('refuses a token expired beyond the tolerance, accepts one expired within it', async () => {
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ exp: nowSec() - 30 }))), 'expired');
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ exp: nowSec() - 2 }))), 'accepted');
      });

      it('refuses a token whose nbf is beyond the tolerance, accepts one within it', async () => {
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ nbf: nowSec() + 30 }))), 'not_yet_valid');
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ nbf: nowSec() + 2 }))), 'accepted');
      });

      it('refuses a token issued in the future beyond the tolerance, accepts one within it', async () => {
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ iat: nowSec() + 30 }))), 'issued_in_future');
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ iat: nowSec() + 2 }))), 'accepted');
      });

      it('with a maximum token age, refuses a token issued longer ago', async () => {
        const aged = createVerifier({ issuers: [issuer], maxTokenAgeSec: 600, tokenCache: false });
        assert.equal(await outcome(aged, await jwks.sign(key, claims({ iat: nowSec() - 3600 }))), 'too_old');
        assert.equal(await outcome(aged, await jwks.sign(key, claims({ iat: nowSec() - 60 }))), 'accepted');
      });

      it('refuses a token without exp, and one whose exp is not a number', async () => {
        const noExp = claims();
        delete noExp['exp'];
        assert.equal(await outcome(verifier, await jwks.sign(key, noExp)), 'claims_invalid');
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ exp: 'tomorrow' }))), 'claims_invalid');
      });

      it('follows the injected clock, so that tolerance is measured and not assumed', async () => {
        const clock = createTestClock();
        const timed = createVerifier({ issuers: [issuer], clockToleranceSec: 0, tokenCache: false, now: clock.now });
        const token = await jwks.sign(key, claims({ exp: Math.floor(clock.now() / 1000) + 10 }));
        assert.equal(await outcome(timed, token), 'accepted');
        clock.advance(11_000);
        assert.equal(await outcome(timed, token), 'expired');
      });
    });

    describe('who the token is from and for (RFC 8725 §3.8, §3.9)', () => {
      it('refuses a wrong iss', async () => {
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ iss: `${jwks.issuer}x` }))), 'wrong_issuer');
      });

      it('refuses an issuer given as a non-string', async () => {
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ iss: [jwks.issuer] }))), 'wrong_issuer');
      });

      it('refuses a Cognito ID token, unless the issuer allows ID tokens; then checks aud against the clients', async () => {
        const idToken = await jwks.sign(key, claims({ token_use: 'id', aud: 'web-client' }));
        assert.equal(await outcome(verifier, idToken), 'wrong_token_use');
        const both = createVerifier({
          issuers: [cognito(jwks.cognitoProfile({ tokenUse: ['access', 'id'], clientIds: ['web-client'] }))],
          tokenCache: false,
        });
        const principal = await verify(both, idToken);
        assert.equal(principal.clientId, 'web-client');
        assert.equal(principal.tokenUse, 'id');
        const other = await jwks.sign(key, claims({ token_use: 'id', aud: 'other-client' }));
        assert.equal(await outcome(both, other), 'client_not_allowed');
      });

      it('refuses a token_use that is neither access nor id, or missing', async () => {
        assert.equal(
          await outcome(verifier, await jwks.sign(key, claims({ token_use: 'refresh' }))),
          'wrong_token_use',
        );
        const noUse = claims();
        delete noUse['token_use'];
        assert.equal(await outcome(verifier, await jwks.sign(key, noUse)), 'wrong_token_use');
      });

      it('refuses an access token of an app client outside the allow-list', async () => {
        const listed = createVerifier({
          issuers: [cognito(jwks.cognitoProfile({ clientIds: ['mobile-app'] }))],
          tokenCache: false,
        });
        assert.equal(await outcome(listed, await jwks.sign(key)), 'client_not_allowed');
        assert.equal(await outcome(listed, await jwks.sign(key, claims({ client_id: 'mobile-app' }))), 'accepted');
      });

      it('refuses a wrong aud when an OIDC issuer requires an audience', async () => {
        const oidc: IssuerConfig = { issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: ['product-api'] };
        const v = createVerifier({ issuers: [oidc], tokenCache: false });
        assert.equal(await outcome(v, await jwks.sign(key, claims({ aud: 'another-api' }))), 'wrong_audience');
        assert.equal(await outcome(v, await jwks.sign(key, claims())), 'wrong_audience');
        assert.equal(await outcome(v, await jwks.sign(key, claims({ aud: ['x', 'product-api'] }))), 'accepted');
      });

      it('with a typ requirement (RFC 9068 at+jwt), refuses a plain JWT (RFC 8725 §3.11)', async () => {
        const oidc: IssuerConfig = { issuer: jwks.issuer, jwksUri: jwks.jwksUri, typ: 'at+jwt' };
        const v = createVerifier({ issuers: [oidc], tokenCache: false });
        assert.equal(await outcome(v, await jwks.sign(key, claims(), { typ: 'JWT' })), 'wrong_type');
        assert.equal(await outcome(v, await jwks.sign(key, claims(), { typ: 'at+jwt' })), 'accepted');
      });

      it('refuses a token without a subject, or with a scope that is not a string', async () => {
        assert.equal(await outcome(verifier, await jwks.sign(key, claims({ sub: '' }))), 'claims_invalid');
        assert.equal(
          await outcome(verifier, await jwks.sign(key, claims({ scope: ['products/write'] }))),
          'claims_invalid',
        );
      });

      it('runs the revocation hook on every accepted token, cached or not', async () => {
        const denied = new Set<string>();
        const v = createVerifier({
          issuers: [issuer],
          isRevoked: (p) => Promise.resolve(denied.has(String(p.claims.jti))),
        });
        const token = await jwks.sign(key, claims({ jti: 'to-revoke' }));
        assert.equal(await outcome(v, token), 'accepted');
        denied.add('to-revoke');
        assert.equal(await outcome(v, token), 'revoked');
      });
    });
  });
}
