// `npm run --silent token`: an access token for curl, by the client_credentials grant. By default from the embedded
// issuer that `npm start` runs, with the local client; with --token-url and --client from any OAuth2 token endpoint
// (a Cognito domain's /oauth2/token). Prints the token alone on stdout, or why there is none on stderr, and exit 1.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';

function fail(problem: string): never {
  process.stderr.write(`token: ${problem}\n`);
  process.exit(1);
}

let options: { 'token-url'?: string; client?: string; scope?: string };
try {
  ({ values: options } = parseArgs({
    options: { 'token-url': { type: 'string' }, client: { type: 'string' }, scope: { type: 'string' } },
  }));
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}; use --token-url URL --client ID:SECRET --scope S`);
}

let local: { tokenUrl: string; client: string } | undefined;
try {
  const config = loadConfig(process.env);
  if (config.local) {
    local = {
      tokenUrl: `http://localhost:${config.local.issuerPort}/oauth2/token`,
      client: `${config.local.clientId}:${config.local.clientSecret}`,
    };
  }
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.message);
}

const tokenUrl = options['token-url'] ?? local?.tokenUrl;
const client = options.client ?? local?.client;
if (tokenUrl === undefined || client === undefined) fail('outside local mode, give --token-url and --client ID:SECRET');

const form = new URLSearchParams({ grant_type: 'client_credentials' });
if (options.scope !== undefined) form.set('scope', options.scope);
let response: Response;
try {
  response = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(client).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form,
    signal: AbortSignal.timeout(10_000),
  });
} catch (error) {
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
  fail(`no answer from ${tokenUrl} (${cause}); is the service running (npm start)?`);
}
const text = await response.text();
let answer: { access_token?: unknown; error?: unknown; error_description?: unknown } = {};
try {
  answer = JSON.parse(text) as typeof answer;
} catch {
  // not JSON: said below with the status
}
if (typeof answer.access_token !== 'string') {
  const why = [answer.error, answer.error_description].filter((part) => typeof part === 'string').join(': ');
  fail(`${tokenUrl} answered ${response.status}${why ? ` ${why}` : ''}`);
}
process.stdout.write(`${answer.access_token}\n`);
