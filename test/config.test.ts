import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IssuerConfig } from '@product-service/bearer';
import { defaults } from '@product-service/bearer/defaults';
import { ConfigError, loadConfig, configVariableNames } from '../src/config.js';
import { exitOf, spawnTs, textOf } from './support/processes.js';

/** The Cognito rules an issuer's claims mapping applies: which app clients' access tokens pass, and ID tokens. */
function cognitoRules(issuer: IssuerConfig | undefined) {
  const map = (claims: Record<string, unknown>) => {
    const mapped = issuer?.claims?.({ sub: 'someone', ...claims });
    return typeof mapped === 'string' ? mapped : mapped?.clientId;
  };
  return {
    accessOf: Object.fromEntries(
      ['one', 'two', 'three'].map((client) => [client, map({ token_use: 'access', client_id: client })]),
    ),
    id: map({ token_use: 'id', aud: 'one' }),
  };
}

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('expected the configuration to be refused');
}

const tokenUrl = 'https://example.auth.eu-west-1.amazoncognito.com/oauth2/token';

describe('configuration', () => {
  it('refuses AWS mode without the token URL of the user pool domain, in one line that says where to find it', () => {
    const message = problemsOf({ USER_POOL_ID: 'eu-west-1_AbC123' });
    assert.match(
      message,
      /^invalid configuration: OAUTH_TOKEN_URL is required with USER_POOL_ID: .*UserPool::TokenUrl/,
    );
    assert.doesNotMatch(message, /\n/);
  });

  it('runs in local mode with the embedded issuer when no AWS or OIDC settings are given', () => {
    const config = loadConfig({});
    assert.equal(config.auth.mode, 'local');
    assert.equal(config.port, 3000);
    assert.deepEqual(config.local, {
      issuerPort: 3001, // not 9229: that is Node's inspector port
      userPoolId: 'local_ProductService',
      clientId: 'local-client',
      clientSecret: 'local-client-secret',
      users: [
        { username: 'admin', password: 'admin-password', groups: ['catalog-admins'] },
        { username: 'reader', password: 'reader-password', groups: [] },
      ],
    });
  });

  it('sets the HTTP timeouts on purpose, and refuses a headers timeout longer than the request timeout', () => {
    assert.deepEqual(loadConfig({}).http, {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      shutdownTimeoutMs: 20_000,
    });
    assert.match(
      problemsOf({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' }),
      /HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS/,
    );
  });

  it('derives the Cognito issuer and JWKS from USER_POOL_ID, with the region from its prefix', () => {
    const config = loadConfig({
      USER_POOL_ID: 'eu-west-1_AbC123',
      ALLOWED_CLIENT_IDS: 'one, two',
      OAUTH_TOKEN_URL: tokenUrl,
    });
    assert.equal(config.auth.mode, 'aws');
    assert.equal(config.local, undefined);
    const [issuer] = config.auth.issuers;
    assert.equal(issuer?.issuer, 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123');
    assert.deepEqual(issuer.alternateIssuers, ['https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123']);
    assert.equal(issuer.jwksUri, 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json');
    assert.deepEqual(cognitoRules(issuer), {
      accessOf: { one: 'one', two: 'two', three: 'client_not_allowed' },
      id: 'wrong_token_use',
    });
  });

  it("takes the authentication defaults from the package's one defaults file, not a copy of its own", () => {
    const { auth } = loadConfig({ PORT: '0' });
    assert.deepEqual(
      {
        clockToleranceSec: auth.clockToleranceSec,
        tokenCacheSize: auth.tokenCacheSize,
        maxAgeMs: auth.keySet.maxAgeMs,
        cooldownMs: auth.keySet.cooldownMs,
        staleIfErrorMs: auth.keySet.staleIfErrorMs,
        timeoutMs: auth.keySet.timeoutMs,
      },
      {
        clockToleranceSec: defaults.clockToleranceSec,
        tokenCacheSize: defaults.tokenCacheSize,
        maxAgeMs: defaults.keySet.maxAgeMs,
        cooldownMs: defaults.keySet.cooldownMs,
        staleIfErrorMs: defaults.keySet.staleIfErrorMs,
        timeoutMs: defaults.keySet.timeoutMs,
      },
    );
  });

  it('lets AWS_REGION override the region in the pool id', () => {
    const [issuer] = loadConfig({
      USER_POOL_ID: 'eu-west-1_AbC123',
      AWS_REGION: 'us-east-2',
      OAUTH_TOKEN_URL: tokenUrl,
    }).auth.issuers;
    assert.equal(issuer?.issuer, 'https://cognito-idp.us-east-2.amazonaws.com/eu-west-1_AbC123');
  });

  it("keeps Cognito's rules for a pool at another issuer (COGNITO_ISSUER_URL), http on loopback only", () => {
    const config = loadConfig({
      USER_POOL_ID: 'local_ProductService',
      COGNITO_ISSUER_URL: 'http://localhost:9229/',
      ALLOWED_CLIENT_IDS: 'one',
    });
    assert.equal(config.auth.mode, 'aws');
    const [issuer] = config.auth.issuers;
    assert.equal(issuer?.issuer, 'http://localhost:9229/local_ProductService');
    assert.equal(issuer.jwksUri, 'http://localhost:9229/local_ProductService/.well-known/jwks.json');
    assert.deepEqual(issuer.alternateIssuers, [], "no amazonaws.com form: only the emulator's issuer is trusted");
    assert.deepEqual(cognitoRules(issuer), {
      accessOf: { one: 'one', two: 'client_not_allowed', three: 'client_not_allowed' },
      id: 'wrong_token_use',
    });
    assert.equal(config.tokenUrl, undefined, 'an emulator need not name a token URL');
    assert.equal(config.products.region, undefined, 'local_ is no AWS region');
    assert.match(
      problemsOf({ USER_POOL_ID: 'local_X', COGNITO_ISSUER_URL: 'http://emulator.example:4566' }),
      /COGNITO_ISSUER_URL must be an https URL \(http only for localhost\)/,
    );
    assert.match(
      problemsOf({ COGNITO_ISSUER_URL: 'https://id.example' }),
      /COGNITO_ISSUER_URL is only used together with USER_POOL_ID/,
    );
    assert.match(
      problemsOf({ USER_POOL_ID: 'local_X', OAUTH_TOKEN_URL: tokenUrl }),
      /USER_POOL_ID must be a Cognito user pool id such as us-east-1_AbC123 \(any other form needs COGNITO_ISSUER_URL\)/,
    );
    assert.equal(
      loadConfig({ USER_POOL_ID: 'local_X', COGNITO_ISSUER_URL: 'http://[::1]:9229' }).auth.issuers[0]?.issuer,
      'http://[::1]:9229/local_X',
    );
  });

  it('trusts a generic OIDC issuer, with an optional JWKS_URI (else discovery)', () => {
    const [withUri] = loadConfig({ OIDC_ISSUER: 'https://id.example.com', JWKS_URI: 'https://id.example.com/keys' })
      .auth.issuers;
    assert.equal(withUri?.jwksUri, 'https://id.example.com/keys');
    const [discovered] = loadConfig({ OIDC_ISSUER: 'https://id.example.com' }).auth.issuers;
    assert.equal(discovered?.jwksUri, undefined);
  });

  for (const [name, env, variable] of [
    ['a malformed USER_POOL_ID', { USER_POOL_ID: 'not-a-pool' }, 'USER_POOL_ID'],
    ['a PORT that is not a number', { PORT: 'eighty' }, 'PORT'],
    ['a PORT out of range', { PORT: '70000' }, 'PORT'],
    ['an OIDC_ISSUER over plain http', { OIDC_ISSUER: 'http://id.example.com' }, 'OIDC_ISSUER'],
    ['JWKS_URI without OIDC_ISSUER', { JWKS_URI: 'https://id.example.com/keys' }, 'JWKS_URI'],
    ['a short LOCAL_CLIENT_SECRET', { LOCAL_CLIENT_SECRET: 'short' }, 'LOCAL_CLIENT_SECRET'],
  ] as const) {
    it(`refuses ${name}, naming the variable`, () => {
      assert.match(problemsOf(env), new RegExp(`\\b${variable}\\b`));
    });
  }

  it('serves RFC 9728 metadata at the local URL in local mode, and nowhere else unless RESOURCE_URL names it', () => {
    assert.equal(loadConfig({}).auth.resourceUrl, 'http://localhost:3000');
    assert.equal(loadConfig({ PORT: '8080' }).auth.resourceUrl, 'http://localhost:8080');
    // A port picked at start has no URL before it listens; one behind a proxy is the proxy's, so it is said.
    assert.equal(loadConfig({ PORT: '0' }).auth.resourceUrl, undefined);
    const aws = { USER_POOL_ID: 'eu-west-1_AbC123', OAUTH_TOKEN_URL: tokenUrl };
    assert.equal(loadConfig(aws).auth.resourceUrl, undefined);
    assert.equal(
      loadConfig({ ...aws, RESOURCE_URL: 'https://api.example.com' }).auth.resourceUrl,
      'https://api.example.com',
    );
  });

  it('listens on loopback unless HOST says otherwise, and refuses a HOST that is not an address', () => {
    assert.equal(loadConfig({}).host, '127.0.0.1');
    assert.equal(loadConfig({ USER_POOL_ID: 'eu-west-1_AbC123', OAUTH_TOKEN_URL: tokenUrl }).host, '127.0.0.1');
    for (const host of ['0.0.0.0', '::', '::1', '10.0.0.7', 'localhost'])
      assert.equal(loadConfig({ HOST: host }).host, host);
    for (const host of ['every', '0.0.0.0:3000', 'http://0.0.0.0']) {
      assert.match(problemsOf({ HOST: host }), /HOST must be an IP address/, host);
    }
  });

  it('leaves RFC 9470 step-up off by default, and reads RESOURCE_URL and STEP_UP_MAX_AGE_SECONDS', () => {
    assert.equal(loadConfig({}).auth.stepUpMaxAgeSec, undefined);
    const config = loadConfig({ RESOURCE_URL: 'https://api.example.com/v1', STEP_UP_MAX_AGE_SECONDS: '300' });
    assert.equal(config.auth.resourceUrl, 'https://api.example.com/v1');
    assert.equal(config.auth.stepUpMaxAgeSec, 300);
  });

  it('refuses a RESOURCE_URL that is not an https URL without query or fragment (RFC 9728 §1.2), and a bad max age', () => {
    for (const value of [
      'api.example.com',
      'http://api.example.com',
      'https://api.example.com/?tenant=1',
      'https://api.example.com/#top',
      'https://user:pw@api.example.com',
      'https://api.example.com/v1:beta',
    ]) {
      assert.match(problemsOf({ RESOURCE_URL: value }), /^invalid configuration: RESOURCE_URL must /, value);
    }
    for (const value of ['0', '-5', '1.5', 'five', '31536001']) {
      assert.match(problemsOf({ STEP_UP_MAX_AGE_SECONDS: value }), /STEP_UP_MAX_AGE_SECONDS must /, value);
    }
  });

  it('says what each refused variable must be, in the house style, and never throws anything but ConfigError', () => {
    assert.equal(
      problemsOf({ OIDC_ISSUER: 'not a url' }),
      'invalid configuration: OIDC_ISSUER must be an absolute URL',
    );
    assert.equal(problemsOf({ LOG_FORMAT: 'xml' }), 'invalid configuration: LOG_FORMAT must be one of json, pretty');
    assert.equal(
      problemsOf({ OIDC_ISSUER: 'https://issuer.example', OIDC_TOKEN_TYPE: ' ' }),
      'invalid configuration: OIDC_TOKEN_TYPE must not be blank',
    );
  });

  it('never echoes a refused value, since some variables are secrets', () => {
    assert.ok(!problemsOf({ LOCAL_CLIENT_SECRET: 'hunter2' }).includes('hunter2'));
  });

  it('stops the real server at startup with exit code 1 and a message naming USER_POOL_ID', async () => {
    const child = spawnTs('src/server.ts', [], { USER_POOL_ID: 'bad pool id', PORT: '0' }, { stderr: true });
    const stderr = textOf(child.stderr);
    assert.equal(await exitOf(child), 1);
    assert.match(stderr(), /USER_POOL_ID must be a Cognito user pool id/);
  });
});

describe('docs/configuration.md', () => {
  it('lists in its table every variable the service reads, and nothing else', () => {
    const page = readFileSync('docs/configuration.md', 'utf8');
    const table = page.slice(page.indexOf('| variable '), page.indexOf('\n\n', page.indexOf('| variable ')));
    const documented = [...table.matchAll(/^\| `([A-Z][A-Z0-9_]*)`/gm)].map((match) => match[1]);
    assert.deepEqual([...documented].sort(), [...configVariableNames].sort());
  });
});
