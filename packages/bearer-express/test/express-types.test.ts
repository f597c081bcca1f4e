import assert from 'node:assert/strict';
import { execFile as execFileCallback } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFile = promisify(execFileCallback);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** tsc's diagnostics for `files` in the scratch project, one per line; '' when it finds none. */
async function diagnostics(dir: string, files: readonly string[]): Promise<string> {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.base.json'),
      compilerOptions: {
        noEmit: true,
        // Every declaration file checked, not skipped: a clash may be reported in either package's types.
        skipLibCheck: false,
        customConditions: ['source'],
      },
      files,
    }),
  );
  return execFile(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir }).then(
    () => '',
    (error: unknown) => (error as { stdout?: string }).stdout ?? String(error),
  );
}

// An app moving route by route from express-oauth2-jwt-bearer has both packages at once. Each used to declare
// `Express.Request.auth` with its own type, and tsc refused the pair (TS2717, adopter-trial.md §5.4). This package
// now declares nothing global; these projects are compiled by tsc as an app would be, against the packages' types.
describe('the types of req.auth beside express-oauth2-jwt-bearer', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bearer-express-types-'));
    // The repository's node_modules, where the workspace packages resolve to their source.
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'both.ts'),
      `import express from 'express';
import { auth, claimEquals as auth0ClaimEquals, requiredScopes } from 'express-oauth2-jwt-bearer';
import { cognito } from '@product-service/bearer';
import { authOf, bearer, claimEquals, InvalidTokenError, requireScopes } from '@product-service/bearer-express';

const app = express();
// The routes not yet moved, on the incumbent.
app.get('/old', auth({ issuerBaseURL: 'https://issuer.example', audience: 'api' }), requiredScopes('read'),
  auth0ClaimEquals('org_id', 'org_42'), (req, res) => {
    const sub: string | undefined = req.auth?.payload.sub;
    res.json({ sub, alg: req.auth?.header.alg, token: req.auth?.token });
  });
// The routes moved: code written for the incumbent still reads payload, header and token; the principal via authOf.
const ours = bearer({ issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null })], errors: 'next' });
app.get('/new', ours, requireScopes('read'), claimEquals('org_id', 'org_42'), (req, res) => {
  const sub: string | undefined = req.auth?.payload.sub;
  res.json({ sub, subject: authOf(req)?.principal.subject, token: authOf(req)?.token });
});
app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
  if (err instanceof InvalidTokenError) res.status(err.status).set(err.headers).json({ code: err.code });
  else next(err);
});
`,
    );
    writeFileSync(
      join(dir, 'alone.ts'),
      `import express from 'express';
import { cognito } from '@product-service/bearer';
import { bearer, requireScopes, type BearerRequest } from '@product-service/bearer-express';

const app = express();
app.use(bearer({ issuers: [cognito({ userPoolId: 'us-east-1_AbC123', clientIds: null })] }));
app.get('/items', requireScopes('items/read'), (req: BearerRequest, res) => {
  res.json({ sub: req.auth?.payload.sub, kid: req.auth?.header.kid, subject: req.auth?.principal.subject });
  // The types are real, not any: a token is not a number.
  // @ts-expect-error TS2322
  const notANumber: number | undefined = req.auth?.token;
  void notANumber;
});
`,
    );
    // The declaration this package used to make, in an app beside the incumbent: the negative control.
    writeFileSync(
      join(dir, 'old-augmentation.ts'),
      `import type { Principal } from '@product-service/bearer';
import 'express-oauth2-jwt-bearer';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      auth?: Principal;
    }
  }
}
export {};
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles an app that imports both packages, with no error', async () => {
    assert.equal(await diagnostics(dir, ['both.ts']), '');
  });

  it('types req.auth for a handler that names BearerRequest, in an app without the incumbent', async () => {
    assert.equal(await diagnostics(dir, ['alone.ts']), '');
  });

  it('negative control: the old global augmentation beside the incumbent fails with TS2717', async () => {
    assert.match(await diagnostics(dir, ['old-augmentation.ts']), /error TS2717: Subsequent property declarations/);
  });
});
