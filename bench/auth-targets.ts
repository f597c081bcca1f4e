// Child process of `npm run bench`: the same Koa route served several ways (ours and its peers), each on its own port, so that the load
// generator (the parent) and the servers do not share a core.
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import koaJwt from 'koa-jwt';
import jwksRsa from 'jwks-rsa';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import { JwtVerifier } from 'aws-jwt-verify';
import { createVerifier as createFastJwtVerifier } from 'fast-jwt';
import { createPublicKey } from 'node:crypto';
import { cognito, createAuthenticator, createRoutePolicy, requireScopes } from '@product-service/bearer';
import { createBearerAuth, type AuthState } from '@product-service/bearer-koa';
import { Refused } from '../packages/bearer/src/refusals.js';
import { createVerifier } from '../packages/bearer/src/verifier.js';

const [baseUrl = '', userPoolId = ''] = process.argv.slice(2);
const issuerConfig = cognito({ userPoolId, issuerBaseUrl: baseUrl, clientIds: null });

function route(ctx: Koa.Context): void {
  ctx.body = { items: [1, 2, 3] };
}

function listen(app: Koa): Promise<number> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

// 1. The route without any authentication.
const plain = new Koa();
plain.use(route);

// 2. The route behind ProductService's authentication, as app.ts builds it.
const authenticator = createAuthenticator({ issuers: [issuerConfig], realm: 'bench' });
await authenticator.warmUp();
const ours = new Koa<AuthState>();
ours.use(
  createBearerAuth({
    authenticator,
    policy: createRoutePolicy([{ method: 'GET', path: '/bench', access: requireScopes('products/read') }]),
  }),
);
ours.use(route);

// 2b. The same without the verified-token cache: what a new token on every request costs.
const uncachedAuthenticator = createAuthenticator({ issuers: [issuerConfig], realm: 'bench', tokenCache: false });
await uncachedAuthenticator.warmUp();
const uncachedVerifier = createVerifier({ issuers: [issuerConfig], tokenCache: false });
await uncachedVerifier.warmUp();
const oursUncached = new Koa<AuthState>();
oursUncached.use(
  createBearerAuth({
    authenticator: uncachedAuthenticator,
    policy: createRoutePolicy([{ method: 'GET', path: '/bench', access: requireScopes('products/read') }]),
  }),
);
oursUncached.use(route);

// 3. koa-jwt + jwks-rsa configured as in the original 2018 article.
const article = new Koa();
article.use(
  koaJwt({
    secret: jwksRsa.koaJwtSecret({ cache: true, jwksUri: issuerConfig.jwksUri ?? '' }),
    algorithms: ['RS256'],
  }),
);
article.use(route);

// 4. The floor of any jose-based verifier: jose's jwtVerify against a key set held in memory, and nothing else (no
// issuer, claim or scope rule, no size cap, no refusal answers). No verifier built on jose can be faster than this.
const heldKeys = createLocalJWKSet((await (await fetch(issuerConfig.jwksUri ?? '')).json()) as { keys: [] });
const joseAlone = new Koa();
joseAlone.use(async (ctx, next) => {
  try {
    await jwtVerify(ctx.get('authorization').slice('Bearer '.length), heldKeys, { algorithms: ['RS256'] });
  } catch {
    ctx.status = 401;
    return;
  }
  await next();
});
joseAlone.use(route);

// 5. jose as its README shows it: jwtVerify with createRemoteJWKSet (keys fetched once, then held by jose).
const remoteKeys = createRemoteJWKSet(new URL(issuerConfig.jwksUri ?? ''));
const joseRemote = new Koa();
joseRemote.use(async (ctx, next) => {
  try {
    await jwtVerify(ctx.get('authorization').slice('Bearer '.length), remoteKeys, {
      issuer: issuerConfig.issuer,
      algorithms: ['RS256'],
    });
  } catch {
    ctx.status = 401;
    return;
  }
  await next();
});
joseRemote.use(route);

// 6. AWS's aws-jwt-verify, its JWKS loaded up front, verifying synchronously (node:crypto's one-shot verify).
const awsVerifier = JwtVerifier.create({
  issuer: issuerConfig.issuer,
  jwksUri: issuerConfig.jwksUri ?? '',
  audience: null,
});
// It fetches over https only, so the bench's JWKS is handed to it as its cache holds it (cacheJwks).
awsVerifier.cacheJwks(
  (await (await fetch(issuerConfig.jwksUri ?? '')).json()) as Parameters<typeof awsVerifier.cacheJwks>[0],
);
const awsJwtVerify = new Koa();
awsJwtVerify.use(async (ctx, next) => {
  try {
    awsVerifier.verifySync(ctx.get('authorization').slice('Bearer '.length));
  } catch {
    ctx.status = 401;
    return;
  }
  await next();
});
awsJwtVerify.use(route);

// 7. fast-jwt with the key fetched once, as PEM, and its own cache off (every token is new here anyway).
const [firstKey] = ((await (await fetch(issuerConfig.jwksUri ?? '')).json()) as { keys: object[] }).keys;
const pem = createPublicKey({ key: firstKey as import('node:crypto').JsonWebKey, format: 'jwk' })
  .export({ format: 'pem', type: 'spki' })
  .toString();
const fastVerify = createFastJwtVerifier({
  key: pem,
  algorithms: ['RS256'],
  allowedIss: issuerConfig.issuer,
  cache: false,
});
const fastJwt = new Koa();
fastJwt.use(async (ctx, next) => {
  try {
    fastVerify(ctx.get('authorization').slice('Bearer '.length));
  } catch {
    ctx.status = 401;
    return;
  }
  await next();
});
fastJwt.use(route);

// 8. Our verifier alone, called as the peers are (no route policy, no scope check, no RFC 6750 answers).
const verifierAlone = new Koa();
verifierAlone.use(async (ctx, next) => {
  const token = ctx.get('authorization').slice('Bearer '.length);
  try {
    if ((await uncachedVerifier.check(token)) instanceof Refused) {
      ctx.status = 401;
      return;
    }
  } catch {
    ctx.status = 401;
    return;
  }
  await next();
});
verifierAlone.use(route);

const ports = {
  verifierAlone: await listen(verifierAlone),
  plain: await listen(plain),
  ours: await listen(ours),
  oursUncached: await listen(oursUncached),
  article: await listen(article),
  joseAlone: await listen(joseAlone),
  joseRemote: await listen(joseRemote),
  awsJwtVerify: await listen(awsJwtVerify),
  fastJwt: await listen(fastJwt),
};
process.stdout.write(`${JSON.stringify(ports)}\n`);
