// `npm run smoke`: checks a running deployment from outside, as a client sees it, after every deploy. Configured by
// the environment alone and importing nothing from src/, so it tests what was deployed, not this checkout.
// One line per check (`ok   <check>` or `FAIL <check>: <why>`; no check's name has ": " in it), then a summary;
// exit 1 if any check failed, 2 if a variable is missing or malformed. Tokens and the client secret are never printed.
import { readChecks, writeChecks, type Check } from './checks.js';
import { CheckFailure, createClient, type ClientSettings } from './client.js';

const readScope = 'products/read';
const writeScope = 'products/write';

interface Settings extends ClientSettings {
  readonly write: boolean;
}

/** An http(s) URL without credentials in it, since the base URL is printed; no trailing slash. */
function httpUrl(value: string | undefined): string | undefined {
  const url = value === undefined ? null : URL.parse(value);
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password) return undefined;
  return (value ?? '').replace(/\/+$/, '');
}

/** The settings, or the one line that says which variables to set (never their values: one is a secret). */
function settingsFrom(env: NodeJS.ProcessEnv): Settings | string {
  const problems: string[] = [];
  const baseUrl = httpUrl(env['SMOKE_BASE_URL']);
  if (baseUrl === undefined) problems.push('SMOKE_BASE_URL (the http or https URL of the deployment)');
  const tokenUrl = httpUrl(env['SMOKE_TOKEN_URL']);
  if (tokenUrl === undefined) problems.push("SMOKE_TOKEN_URL (the issuer's /oauth2/token)");
  const client = /^([^:]+):(.+)$/s.exec(env['SMOKE_CLIENT'] ?? '');
  if (!client) problems.push(`SMOKE_CLIENT (id:secret of a client allowed ${readScope} and ${writeScope})`);
  const write = env['SMOKE_WRITE'] ?? '';
  if (!['', '0', '1'].includes(write)) problems.push('SMOKE_WRITE (1 for the write round trip, else unset)');
  const timeout = env['SMOKE_TIMEOUT_MS'] ?? '10000';
  if (!/^[1-9]\d{0,5}$/.test(timeout)) problems.push('SMOKE_TIMEOUT_MS (milliseconds per request, 1 to 999999)');
  if (problems.length > 0 || baseUrl === undefined || tokenUrl === undefined || !client) {
    return `set ${problems.join(', ')}`;
  }
  return {
    baseUrl,
    tokenUrl,
    clientId: client[1] ?? '',
    clientSecret: client[2] ?? '',
    timeoutMs: Number(timeout),
    write: write === '1',
  };
}

interface Outcome {
  readonly name: string;
  readonly failure?: string;
}

async function outcomeOf(check: Check): Promise<Outcome> {
  try {
    await check.run();
    return { name: check.name };
  } catch (error) {
    // A CheckFailure is written to be printed; anything else is a bug here, said by its message alone.
    const why = error instanceof CheckFailure ? error.message : `unexpected ${String(error)}`;
    return { name: check.name, failure: why };
  }
}

const outcomes: Outcome[] = [];
function print(outcome: Outcome): void {
  outcomes.push(outcome);
  process.stdout.write(
    outcome.failure === undefined ? `ok   ${outcome.name}\n` : `FAIL ${outcome.name}: ${outcome.failure}\n`,
  );
}

/** Independent checks run together, so a deployment that hangs costs one timeout, not one per check. */
async function together(checks: readonly Check[]): Promise<void> {
  for (const outcome of await Promise.all(checks.map(outcomeOf))) print(outcome);
}

const settings = settingsFrom(process.env);
if (typeof settings === 'string') {
  process.stderr.write(`smoke: ${settings}\n`);
  process.exit(2);
}
const client = createClient(settings);

let readWrite: string | undefined;
let readOnly: string | undefined;
await together([
  {
    name: `a token for ${readScope} ${writeScope} (client_credentials)`,
    async run() {
      readWrite = await client.token(`${readScope} ${writeScope}`);
    },
  },
  {
    name: `a token for ${readScope} alone (client_credentials)`,
    async run() {
      readOnly = await client.token(readScope);
    },
  },
]);
await together(readChecks(client, { readWrite, readOnly }));
if (settings.write) {
  for (const check of writeChecks(client, readWrite)) print(await outcomeOf(check));
} else {
  process.stdout.write('skip the write round trip: SMOKE_WRITE is not 1 (read-only, as for production)\n');
}

const failed = outcomes.filter((outcome) => outcome.failure !== undefined).length;
process.stdout.write(
  `smoke: ${outcomes.length - failed} ok, ${failed} failed against ${settings.baseUrl}` +
    `${settings.write ? '' : ' (write round trip skipped)'}\n`,
);
process.exit(failed > 0 ? 1 : 0);
