import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort, localTestConfig, startService, type RunningService } from './support/service.js';

const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const required = process.env['REQUIRE_BROWSER_TEST'] === '1';
const available = existsSync(chromiumPath);
// Each test says it is skipped, and why, so the runner counts it as skipped ("skipped 2"), not as nothing at all.
const skip =
  !available && !required
    ? `no Chromium at ${chromiumPath}: install it with 'apt-get install -y chromium' (or set CHROMIUM_PATH); ` +
      '.ci/run installs it and makes this test mandatory'
    : false;

// A person's walk through /docs, in a real headless Chromium (Debian's package, driven by playwright-core).
describe('the interactive docs page in a real browser', () => {
  let running: RunningService;
  let browser: Browser;
  let origin: string;

  before(async () => {
    if (skip) return;
    assert.ok(available, `REQUIRE_BROWSER_TEST=1 but there is no Chromium at ${chromiumPath}`);
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    running = await startService(localTestConfig({ CORS_ORIGINS: origin }), { port });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    if (skip) return;
    await browser.close();
    await running.close();
  });

  async function authorise(page: Page, scopes: readonly string[]): Promise<void> {
    await page.goto(`${origin}/docs`);
    await page.locator('.swagger-ui .info').waitFor();
    await page.locator('button.authorize').first().click();
    const flow = page.locator('.auth-container', { hasText: 'Flow: clientCredentials' });
    await page.locator('#client_id_clientCredentials').fill('local-client');
    await page.locator('#client_secret_clientCredentials').fill('local-client-secret');
    for (const scope of scopes) await page.locator(`label[for="${scope}-clientCredentials-checkbox-oauth2"]`).click();
    await flow.locator('.auth-btn-wrapper button.authorize').click();
    // Swagger UI shows "Logout" once the token endpoint answered with a token.
    await flow.locator('.auth-btn-wrapper button[aria-label="Remove authorization"]').waitFor({ timeout: 15_000 });
    await page.locator('.auth-btn-wrapper button.btn-done').first().click();
  }

  /** A person signs in from the page: authorization code with PKCE, the hosted login in the popup Swagger opens. */
  async function signInAs(page: Page, username: string, password: string): Promise<void> {
    await page.goto(`${origin}/docs`);
    await page.locator('.swagger-ui .info').waitFor();
    await page.locator('button.authorize').first().click();
    const flow = page.locator('.auth-container', { hasText: 'Flow: authorizationCode' });
    await page.locator('#client_id_authorizationCode').fill('local-web');
    for (const scope of ['openid', 'products/read', 'products/write']) {
      await page.locator(`label[for="${scope}-authorizationCode-checkbox-oauth2"]`).click();
    }
    const [login] = await Promise.all([page.waitForEvent('popup'), flow.locator('button.authorize').click()]);
    await login.locator('input[name=username]').fill(username);
    await login.locator('input[name=password]').fill(password);
    await login.locator('button[type=submit]').click();
    await login.waitForEvent('close', { timeout: 15_000 }).catch(async () => {
      throw new Error(`the login popup stayed at ${login.url()}: ${(await login.content()).slice(0, 500)}`);
    });
    await flow.locator('button[aria-label="Remove authorization"]').waitFor({ timeout: 15_000 });
    await page.locator('.auth-btn-wrapper button.btn-done').first().click();
  }

  async function execute(page: Page, operationId: string, body?: string, tag = 'products'): Promise<number> {
    const block = page.locator(`#operations-${tag}-${operationId}`);
    await block.locator('.opblock-summary').click();
    if (body !== undefined) await block.locator('textarea.body-param__text').fill(body);
    await block.locator('button.execute').click();
    const status = block.locator('.live-responses-table .response .response-col_status');
    await status.waitFor({ timeout: 15_000 });
    return Number((await status.innerText()).trim());
  }

  it(
    'lets a person authorise with the local client, then list (200) and create (201) products from the page',
    { skip },
    async () => {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      await authorise(page, ['products/read', 'products/write']);
      assert.equal(await execute(page, 'listProducts'), 200);
      const product = JSON.stringify({
        name: 'Trek Checkpoint',
        imageURL: 'https://images.example.com/checkpoint.png',
      });
      assert.equal(await execute(page, 'createProduct', product), 201);
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/docs-authorised.png', fullPage: true });
      assert.deepEqual(problems, [], 'no console errors (CSP violations among them)');
      await page.close();
    },
  );

  // What Execute answers with the examples the page fills in, operation by operation: the example id names no product
  // in this fresh store, so the calls on one are 404 (not 400: the example is a valid id), and the rest succeed.
  const executeAnswers: Record<string, number> = {
    hello: 200,
    ready: 200,
    metrics: 200,
    openApi: 200,
    listProducts: 200,
    createProduct: 201,
    getProduct: 404,
    patchProduct: 404,
    deleteProduct: 404,
    listSnapshots: 404,
  };

  it(
    'answers Execute on every operation as written out here, with the examples as the page fills them',
    { skip },
    async (t) => {
      const document = (await (await fetch(`${origin}/openapi.json`)).json()) as {
        paths: Record<
          string,
          Record<string, { operationId: string; tags: string[]; responses: Record<string, unknown> }>
        >;
      };
      const page = await browser.newPage();
      await authorise(page, ['products/read', 'products/write']);
      const seen: string[] = [];
      for (const operations of Object.values(document.paths)) {
        for (const operation of Object.values(operations)) {
          const status = await execute(page, operation.operationId, undefined, operation.tags[0]);
          seen.push(`${operation.operationId} ${status}`);
          assert.ok(String(status) in operation.responses, `${operation.operationId}: ${status} is not documented`);
        }
      }
      t.diagnostic(seen.join('; '));
      assert.deepEqual(
        seen,
        Object.entries(executeAnswers).map(([operationId, status]) => `${operationId} ${status}`),
      );
      await page.close();
    },
  );

  it(
    'lets a person sign in through the hosted login: the administrator creates (201), the reader gets 403',
    { skip },
    async () => {
      const product = JSON.stringify({ name: 'Trek Slash', imageURL: 'https://images.example.com/slash.png' });
      const problems: string[] = [];
      const admin = await browser.newPage();
      admin.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      await signInAs(admin, 'admin', 'admin-password');
      assert.equal(await execute(admin, 'createProduct', product), 201);
      await admin.close();
      const reader = await browser.newPage();
      await signInAs(reader, 'reader', 'reader-password');
      assert.equal(await execute(reader, 'listProducts'), 200);
      assert.equal(await execute(reader, 'createProduct', product), 403);
      await reader.close();
      assert.deepEqual(problems, [], 'no console errors (CSP violations among them)');
    },
  );

  it('shows 403 for POST when authorised with the read scope only', { skip }, async () => {
    const page = await browser.newPage();
    await authorise(page, ['products/read']);
    const product = JSON.stringify({ name: 'Trek Marlin', imageURL: 'https://images.example.com/marlin.png' });
    assert.equal(await execute(page, 'createProduct', product), 403);
    await page.close();
  });
});
