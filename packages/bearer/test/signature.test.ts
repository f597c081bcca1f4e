import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign, constants, type KeyObject, type JsonWebKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { base64url } from 'jose';
import { supportedAlgorithms, type Algorithm } from '../src/defaults.js';
import { Refused } from '../src/refusals.js';
import { createVerifier, type Verifier } from '../src/verifier.js';
import { outcome } from './support/outcome.js';
import { cognito } from '../src/issuers.js';
import { cognitoAccessClaims, startTestIssuer, type TestIssuer, type TestKey } from '@product-service/bearer-testing';

// The node:crypto signature step against jose's, over generated tokens (the suite's own vectors run through both in
// test/token-vectors.test.ts): every token must get the same verdict, acceptance or the same refusal reason.
// DIFFERENTIAL_RUNS sets how many; the default still meets every kind of mutation below many times.
const runs = Number(process.env['DIFFERENTIAL_RUNS'] ?? 3000);

interface SigningKey {
  readonly alg: Algorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JsonWebKey;
}

const digestOf = (alg: string): string | null => (alg.startsWith('Ed') ? null : `sha${alg.slice(2)}`);
const hashBytes = (alg: string): number => Number(alg.slice(2)) / 8;

function makeSigningKey(alg: Algorithm, kid: string, rsaBits = 2048): SigningKey {
  const pair =
    alg.startsWith('RS') || alg.startsWith('PS')
      ? generateKeyPairSync('rsa', { modulusLength: rsaBits })
      : alg.startsWith('ES')
        ? generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : alg === 'ES384' ? 'P-384' : 'P-521' })
        : generateKeyPairSync('ed25519');
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    publicJwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

/** A deterministic generator, so that a failure names the run that reproduces it. */
function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

type SignatureForm = 'valid' | 'der' | 'pss-salt-0' | 'pss-salt-20' | 'pss-salt-max' | 'other-key';

function signWith(key: SigningKey, alg: string, input: string, form: SignatureForm, other: SigningKey): Buffer {
  const data = Buffer.from(input);
  const signer = form === 'other-key' ? other : key;
  const family = signer.alg.slice(0, 2);
  if (family === 'Ed') return nodeSign(null, data, signer.privateKey);
  const digest =
    digestOf(alg.startsWith('Ed') || alg === 'none' || alg.startsWith('HS') ? signer.alg : alg) ?? 'sha256';
  if (family === 'ES') {
    return nodeSign(digest, data, { key: signer.privateKey, dsaEncoding: form === 'der' ? 'der' : 'ieee-p1363' });
  }
  if (family === 'PS' || form.startsWith('pss')) {
    const saltLength =
      form === 'pss-salt-0'
        ? 0
        : form === 'pss-salt-20'
          ? 20
          : form === 'pss-salt-max'
            ? constants.RSA_PSS_SALTLEN_MAX_SIGN
            : hashBytes(alg.startsWith('PS') ? alg : 'PS256');
    return nodeSign(digest, data, { key: signer.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
  }
  return nodeSign(digest, data, signer.privateKey);
}

describe('the node:crypto signature step gives the same verdict as jose', () => {
  let jwks: TestIssuer;
  let keys: SigningKey[];
  let byNode: Verifier;
  let byJose: Verifier;
  // One clock for both verifiers and the claims, however long the run takes.
  const now = Date.now();

  before(async () => {
    jwks = await startTestIssuer({ userPoolId: 'local_Differential', keys: [] });
    keys = supportedAlgorithms.map((alg, i) => makeSigningKey(alg, `key-${i}-${alg}`));
    // A second key for some algorithms under a kid of its own, and an RSA key too short for jose (RFC 7518 §3.3).
    keys.push(makeSigningKey('RS256', 'second-RS256'), makeSigningKey('ES256', 'second-ES256'));
    keys.push(makeSigningKey('RS256', 'short-RS256', 1024), makeSigningKey('PS256', 'short-PS256', 1024));
    // The JWKS server reads only publicJwk of what it publishes.
    jwks.publish(keys.map((key) => ({ kid: key.kid, alg: key.alg, publicJwk: key.publicJwk }) as unknown as TestKey));
    const issuer = { ...cognito(jwks.cognitoProfile()), algorithms: [...supportedAlgorithms] };
    byNode = createVerifier({ issuers: [issuer], tokenCache: false, now: () => now, signatureCheck: 'node' });
    byJose = createVerifier({ issuers: [issuer], tokenCache: false, now: () => now, signatureCheck: 'jose' });
    await Promise.all([byNode.warmUp(), byJose.warmUp()]);
  });
  after(() => jwks.close());

  it(`over ${runs} generated tokens: valid, re-signed, truncated, wrong key, wrong algorithm, DER, PSS salts, short RSA keys`, async () => {
    const random = prng(0x5eed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const nowSec = Math.floor(now / 1000);
    const verdicts = new Map<string, number>();
    const mismatches: string[] = [];
    let answeredNow = 0;
    for (let run = 0; run < runs; run += 1) {
      const key = pick(keys);
      const other = pick(keys);
      const roll = random();
      // Mostly the key's own alg; else another one (with the same key: RS256 read as PS256, ES256 as ES384, …).
      const alg = roll < 0.7 ? key.alg : pick([...supportedAlgorithms, 'none', 'HS256']);
      const kid = random() < 0.9 ? key.kid : pick([other.kid, 'no-such-kid']);
      const claims = cognitoAccessClaims(jwks.issuer, {
        iat: nowSec,
        exp: random() < 0.9 ? nowSec + 600 : nowSec - 600,
        ...(random() < 0.05 ? { nbf: nowSec + 600 } : {}),
        ...(random() < 0.05 ? { iss: `${jwks.issuer}x` } : {}),
      });
      const input = `${base64url.encode(JSON.stringify({ alg, kid }))}.${base64url.encode(JSON.stringify(claims))}`;
      const form: SignatureForm =
        random() < 0.6 ? 'valid' : pick(['der', 'pss-salt-0', 'pss-salt-20', 'pss-salt-max', 'other-key'] as const);
      let signature: string;
      try {
        signature = base64url.encode(signWith(key, alg, input, form, other));
      } catch {
        // A form the key cannot make (a salt too long for a short key): random bytes of a plausible length.
        signature = base64url.encode(Buffer.from(Array.from({ length: 256 }, () => Math.floor(random() * 256))));
      }
      const mutation = random();
      if (mutation < 0.08) signature = signature.slice(0, Math.floor(random() * signature.length));
      else if (mutation < 0.14) {
        const at = Math.floor(random() * signature.length);
        signature = `${signature.slice(0, at)}${signature[at] === 'A' ? 'B' : 'A'}${signature.slice(at + 1)}`;
      } else if (mutation < 0.17) signature = `${signature}A`;
      let token = `${input}.${signature}`;
      if (mutation > 0.97) token = token.slice(0, Math.floor(random() * token.length));
      const [node, jose] = await Promise.all([outcome(byNode, token), outcome(byJose, token)]);
      const label = `${key.alg}/${alg}/${form}/${mutation.toFixed(2)}`;
      verdicts.set(node, (verdicts.get(node) ?? 0) + 1);
      if (node !== jose) mismatches.push(`run ${run} (${label}): node:crypto ${node}, jose ${jose}`);
      // When the verifier answers without an async step, it answers the same.
      const answer = byNode.check(token);
      if (!(answer instanceof Promise)) {
        answeredNow += 1;
        const now = answer instanceof Refused ? answer.reason : 'accepted';
        if (now !== node) mismatches.push(`run ${run} (${label}): at once ${now}, by promise ${node}`);
      } else {
        await answer;
      }
    }
    assert.deepEqual(mismatches.slice(0, 10), []);
    // Both kinds of verdict were met often, and node:crypto did check signatures (it did not leave them all to jose).
    assert.ok((verdicts.get('accepted') ?? 0) > runs / 5, JSON.stringify(Object.fromEntries(verdicts)));
    assert.ok((verdicts.get('bad_signature') ?? 0) > runs / 10, JSON.stringify(Object.fromEntries(verdicts)));
    assert.ok(byNode.stats.nodeSignatureChecks > runs / 2, `node:crypto checked ${byNode.stats.nodeSignatureChecks}`);
    assert.equal(byJose.stats.nodeSignatureChecks, 0);
    assert.ok(answeredNow > runs / 2, `answered at once ${answeredNow}`);
  });

  it('leaves a key jose would refuse as it is to jose: an RSA key under 2048 bits (RFC 7518 §3.3)', async () => {
    const short = keys.find((key) => key.kid === 'short-RS256');
    assert.ok(short);
    const input = `${base64url.encode(JSON.stringify({ alg: 'RS256', kid: short.kid }))}.${base64url.encode(JSON.stringify(cognitoAccessClaims(jwks.issuer)))}`;
    const token = `${input}.${base64url.encode(nodeSign('sha256', Buffer.from(input), short.privateKey))}`;
    const before = byNode.stats.joseSignatureChecks;
    assert.equal(await outcome(byNode, token), 'malformed_token');
    assert.equal(byNode.stats.joseSignatureChecks, before + 1, 'jose, not node:crypto, refused it');
  });
});
