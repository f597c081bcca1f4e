import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** What a proof says; each member can be overridden, or left out with `undefined`, to build a broken proof. */
export interface ProofOptions {
  readonly method: string;
  /** The URI requested; its query and fragment are dropped, as RFC 9449 §4.2 has clients do. */
  readonly url: string;
  /** The access token the proof goes with: its hash is the proof's `ath`. None for a proof without `ath`. */
  readonly token?: string;
  /** Epoch milliseconds for `iat`; `Date.now()` by default (pass the test clock's `now()`). */
  readonly now?: number;
  /** Claims merged over the computed ones (`{ ath: undefined }` drops one). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Header members merged over `typ`, `alg` and `jwk`. */
  readonly header?: Readonly<Record<string, unknown>>;
  /** Signs with this key instead (its public key stays out of the header): a proof not signed by its `jwk`. */
  readonly signWith?: CryptoKey;
}

/** A client's DPoP key pair (RFC 9449 §4): its thumbprint binds tokens (`cnf.jkt`), its private half signs proofs. */
export interface DpopKey {
  readonly alg: string;
  readonly publicJwk: JWK;
  readonly privateKey: CryptoKey;
  /** The RFC 7638 SHA-256 thumbprint of the public key: the `jkt` a bound token names. */
  readonly jkt: string;
  /** `{ cnf: { jkt } }`, to merge into a token's claims so that it is bound to this key. */
  readonly cnf: { readonly cnf: { readonly jkt: string } };
  /** A DPoP proof JWT (RFC 9449 §4.2) for one request: `typ` `dpop+jwt`, `jwk`, `jti`, `htm`, `htu`, `iat`, `ath`. */
  proof(options: ProofOptions): Promise<string>;
}

/** A new DPoP key pair for `alg` (ES256, the common choice of clients, by default). */
export async function createDpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    alg,
    publicJwk,
    privateKey,
    jkt,
    cnf: { cnf: { jkt } },
    proof({ method, url, token, now = Date.now(), claims = {}, header = {}, signWith }) {
      const htu = new URL(url);
      htu.search = '';
      htu.hash = '';
      const merged: Record<string, unknown> = {
        jti: randomUUID(),
        htm: method,
        htu: htu.href,
        iat: Math.floor(now / 1000),
        ...(token === undefined ? {} : { ath: createHash('sha256').update(token).digest('base64url') }),
        ...claims,
      };
      const payload = Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
      return new SignJWT(payload)
        .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk: publicJwk, ...header })
        .sign(signWith ?? privateKey);
    },
  };
}
