// Child process of `npm run bench`, section 6: DPoP (RFC 9449). Ours (the Express adapter) beside
// express-oauth2-jwt-bearer 1.10 with its DPoP on (its default), both guarding `GET /bench` with the scope
// products/read. Each checks the token as in section 5 and, for a DPoP request, the proof: ours typ, alg, signature
// by the embedded jwk, htm, htu, iat window, jti replay, ath and the thumbprint; the incumbent the same but jti.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { auth as expressOauth2JwtBearer, requiredScopes as expressRequiredScopes } from 'express-oauth2-jwt-bearer';
import { createAuthenticator, createRoutePolicy, oidc, requireScopes } from '@product-service/bearer';
import { bearer as expressBearer } from '@product-service/bearer-express';

const [issuer = '', jwksUri = '', audience = '', resource = ''] = process.argv.slice(2);
const body = JSON.stringify({ items: [1, 2, 3] });
const policy = createRoutePolicy([{ method: 'GET', path: '/bench', access: requireScopes('products/read') }]);

// Ours: the verified-token cache off, as in section 5, so that every request pays for its token and its proof.
const authenticator = createAuthenticator({
  issuers: [oidc({ issuer, jwksUri, audience: [audience], algorithms: ['RS256'] })],
  policy,
  tokenCache: false,
  dpop: { resource },
});
await authenticator.warmUp();
const ours = express();
ours.use(expressBearer({ authenticator, policy }));
ours.get('/bench', (_req, res) => {
  res.type('json').send(body);
});

// The incumbent: DPoP is on by default ({ enabled: true, required: false }); its htu is built from the request's Host.
const incumbent = express();
incumbent.use(expressOauth2JwtBearer({ issuer, jwksUri, audience, tokenSigningAlg: 'RS256' }));
incumbent.get('/bench', expressRequiredScopes('products/read'), (_req, res) => {
  res.type('json').send(body);
});
incumbent.use(
  (error: { status?: number; headers?: Record<string, string> }, _req: Request, res: Response, _next: NextFunction) => {
    res
      .status(error.status ?? 500)
      .set(error.headers ?? {})
      .end();
  },
);

async function listen(app: ReturnType<typeof express>): Promise<number> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

process.stdout.write(`${JSON.stringify({ ours: await listen(ours), incumbent: await listen(incumbent) })}\n`);
