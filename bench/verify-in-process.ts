// Child process of `npm run bench`: each verifier called directly, in a process of its own, on the same distinct
// tokens; no HTTP, so none of the kernel's socket work is in the figures. CPU µs per verification, medians of
// alternating rounds, printed as one JSON line.
import { createPublicKey, verify as cryptoVerify, type JsonWebKey } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { JwtVerifier } from 'aws-jwt-verify';
import { createVerifier as createFastJwtVerifier } from 'fast-jwt';
import { cognito } from '@product-service/bearer';
import { Refused } from '../packages/bearer/src/refusals.js';
import { createVerifier } from '../packages/bearer/src/verifier.js';
import { cognitoAccessClaims, createTestKey, startTestIssuer } from '@product-service/bearer-testing';

const rounds = Number(process.argv[2] ?? 5);
const perRound = Number(process.argv[3] ?? 20_000);

const key = await createTestKey();
const jwks = await startTestIssuer({ userPoolId: 'local_InProcess', keys: [key] });
const issuerConfig = cognito({ userPoolId: jwks.userPoolId, issuerBaseUrl: jwks.baseUrl, clientIds: null });
const distinct = await Promise.all(
  Array.from({ length: 2_000 }, () => jwks.sign(key, cognitoAccessClaims(jwks.issuer, { scope: 'products/read' }))),
);
const keySet = (await (await fetch(issuerConfig.jwksUri ?? '')).json()) as JSONWebKeySet;

const ours = createVerifier({ issuers: [issuerConfig], tokenCache: false });
const oursAsync = createVerifier({ issuers: [issuerConfig], tokenCache: false });
await ours.warmUp();
await oursAsync.warmUp();
// Fetched once and held from now on (for 10 minutes, far longer than this run): no fetch is measured.
await jwks.close();
const held = createLocalJWKSet(keySet);
const publicKey = createPublicKey({ key: keySet.keys[0] as JsonWebKey, format: 'jwk' });
const fast = createFastJwtVerifier({
  key: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  algorithms: ['RS256'],
  allowedIss: issuerConfig.issuer,
  cache: false,
});
const aws = JwtVerifier.create({ issuer: issuerConfig.issuer, jwksUri: issuerConfig.jwksUri ?? '', audience: null });
aws.cacheJwks(keySet as unknown as Parameters<typeof aws.cacheJwks>[0]);

function accepted(answer: unknown): void {
  if (answer instanceof Promise || answer instanceof Refused) throw new Error('a valid token was not accepted');
}

const targets = {
  // The signature alone, node:crypto on the token's own bytes with no other check: the floor under any verifier.
  cryptoVerify: (token: string) => {
    const dot = token.lastIndexOf('.');
    if (
      !cryptoVerify(
        'sha256',
        Buffer.from(token.slice(0, dot)),
        publicKey,
        Buffer.from(token.slice(dot + 1), 'base64url'),
      )
    ) {
      throw new Error('signature');
    }
  },
  ours: (token: string) => accepted(ours.check(token)),
  oursAsync: async (token: string) => accepted(await oursAsync.check(token)),
  joseAlone: (token: string) => jwtVerify(token, held, { algorithms: ['RS256'] }),
  aws: (token: string) => aws.verifySync(token),
  fastJwt: (token: string): unknown => fast(token),
} satisfies Record<string, (token: string) => unknown>;
type Target = keyof typeof targets;
// Every token through each verifier once, so that every JIT has warmed up; ours selects its key on the first.
await ours.check(distinct[0] ?? '');
for (const [name, target] of Object.entries(targets)) {
  for (const token of distinct) await target(token);
  process.stderr.write(`  warmed ${name}\n`);
}

async function measure(name: Target): Promise<number> {
  const target = targets[name];
  // Fresh strings, as each request's header is: nothing V8 keeps per string object carries over.
  const tokens = Array.from({ length: perRound }, (_, i) =>
    Buffer.from(distinct[i % distinct.length] ?? '').toString('latin1'),
  );
  const started = process.cpuUsage();
  for (const token of tokens) await target(token);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / perRound;
}

const names = Object.keys(targets) as Target[];
const runs = new Map<string, number[]>();
for (let round = 0; round < rounds; round += 1) {
  // The A/A pair: ours twice, apart.
  for (const name of [...names, 'ours' as const]) {
    const label = name === 'ours' && runs.get('ours')?.length === round + 1 ? 'oursAgain' : name;
    runs.set(label, [...(runs.get(label) ?? []), await measure(name)]);
  }
}
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
process.stdout.write(
  `${JSON.stringify(Object.fromEntries([...runs].map(([name, values]) => [name, median(values)])))}\n`,
);
