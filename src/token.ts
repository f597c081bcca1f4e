// `npm run --silent token`: an access token for curl, by the client_credentials grant. By default from the embedded
// issuer that `npm start` runs, with the local client; with --token-url and --client from any OAuth2 token endpoint
// (a Cognito domain's /oauth2/token). With --user, a person's token instead: signed in at the embedded issuer's
// hosted login (authorization code with PKCE), the password taken from LOCAL_USERS unless --password gives it.
// Prints the token alone on stdout, or why there is none on stderr, and exit 1.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config, type LocalUser } from './config.js';
import { signIn, SignInError } from './local/sign-in.js';
import { localRedirectUris, localWebClientId } from './local/web-client.js';

function fail(problem: string): never {
  process.stderr.write(`token: ${problem}\n`);
  process.exit(1);
}

let options: { 'token-url'?: string; client?: string; scope?: string; user?: string; password?: string };
try {
  ({ values: options } = parseArgs({
    options: {
      'token-url': { type: 'string' },
      client: { type: 'string' },
      scope: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
    },
  }));
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}; use --token-url URL --client ID:SECRET --scope S`);
}

let local: { tokenUrl: string; client: string; config: Config; users: readonly LocalUser[] } | undefined;
try {
  const config = loadConfig(process.env);
  if (config.local) {
    local = {
      tokenUrl: `http://localhost:${config.local.issuerPort}/oauth2/token`,
      client: `${config.local.clientId}:${config.local.clientSecret}`,
      config,
      users: config.local.users,
    };
  }
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.message);
}

if (options.user !== undefined) {
  if (!local) fail('--user signs in at the embedded issuer of npm start: run it in local mode');
  const tokenUrl = options['token-url'] ?? local.tokenUrl;
  const password = options.password ?? local.users.find((user) => user.username === options.user)?.password;
  if (password === undefined) fail(`no user ${options.user} in LOCAL_USERS; give --password for another`);
  try {
    const { accessToken } = await signIn({
      authorizeUrl: tokenUrl.replace(/\/oauth2\/token$/, '/oauth2/authorize'),
      tokenUrl,
      clientId: localWebClientId,
      redirectUri: localRedirectUris(local.config)[0] ?? '',
      username: options.user,
      password,
      scope: options.scope ?? 'openid email products/read products/write',
    });
    process.stdout.write(`${accessToken}\n`);
    process.exit(0);
  } catch (error) {
    if (error instanceof SignInError) fail(error.message);
    fail(`no answer from ${tokenUrl}; is the service running (npm start)?`);
  }
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
