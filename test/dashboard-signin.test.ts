// Needs the password sessions (POST/GET/DELETE /api/v1/session, api.users,
// api.tls.clientCertificates: optional): it passes once that work is merged.
import assert from 'node:assert/strict';
import { randomBytes, scrypt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ApiServer } from '../src/api/server.js';
import { silentLogger } from '../src/log.js';
import { makeCerts } from './helpers/api-client.js';
import { buildDashboard, launchBrowser, switchOf } from './helpers/browser.js';
import { PduFixture } from './helpers/pdu-fixture.js';

const PASSWORDS = { alice: 'alice: correct horse battery', otto: 'otto: sometimes typos' } as const;

/** A hash line as `pipdu hash-password` writes it (scrypt$N$r$p$salt$hash), cheap parameters for a test. */
function hashLine(password: string): Promise<string> {
  const salt = randomBytes(16);
  const [N, r, p] = [1024, 8, 1];
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, 32, { N, r, p }, (error, key) =>
      error
        ? reject(error)
        : resolve(`scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`),
    ),
  );
}

describe('signing in to the dashboard with a password (HTTPS, client certificates optional)', () => {
  let dir: string;
  let browser: Browser;
  let fixture: PduFixture;
  let server: ApiServer;
  let base: string;
  let web: Awaited<ReturnType<typeof buildDashboard>>;
  const contexts: BrowserContext[] = [];

  /** A browser without a client certificate: it connects, with no role until it signs in. */
  async function anonymous(): Promise<Page> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    return page;
  }

  /** Fills the form and sends it; resolves with the status the daemon answered. */
  async function signIn(page: Page, user: string, password: string): Promise<number> {
    await page.getByLabel('User').fill(user);
    await page.getByLabel('Password').fill(password);
    const answered = page.waitForResponse(
      (response) => response.url().endsWith('/api/v1/session') && response.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Sign in' }).click();
    return (await answered).status();
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-signin-'));
    const pki = join(dir, 'pki');
    [browser, web] = await Promise.all([launchBrowser(), buildDashboard(), makeCerts(pki, ['boss'])]);
    const users = await Promise.all(
      Object.entries(PASSWORDS).map(
        async ([user, password]) =>
          `    ${user}: { role: operator, passwordHash: '${await hashLine(password)}' }`,
      ),
    );
    fixture = await PduFixture.create(`sockets:
  - { number: 2, name: lab }
api:
  listen: 127.0.0.1:0
  tls: { cert: ${pki}/server.crt, key: ${pki}/server.key, ca: ${pki}/ca.crt, clientCertificates: optional }
  clients: { boss: admin }
  users:
${users.join('\n')}
`);
    await fixture.startDaemon();
    // loginLimits: a dependency of the sessions' server (3 failures per user, then 429).
    const deps = {
      config: fixture.config.api!,
      service: fixture.service,
      logger: silentLogger(),
      webRoot: web.dir,
      loginLimits: { perAddress: 50, perUser: 3, refillMs: 600_000 },
    };
    server = new ApiServer(deps);
    base = (await server.start()).url;
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await fixture?.dispose();
    await web?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('the right password shows the PDU as that user, and signing out ends it', async () => {
    const page = await anonymous();
    assert.equal(await page.getByRole('switch').count(), 0, 'nothing of the PDU before signing in');
    assert.equal(await signIn(page, 'alice', PASSWORDS.alice), 204);
    await page.getByRole('switch').nth(15).waitFor();
    assert.match((await page.locator('.who').textContent()) ?? '', /Signed in as alice · operator/);
    assert.equal(await switchOf(page, 2).isDisabled(), false, 'an operator may switch lab');
    await switchOf(page, 2).click();
    await page.locator('article[data-socket="2"] [role="switch"][aria-checked="true"]').waitFor();
    assert.equal(fixture.service.info(2).on, true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.getByRole('switch').count(), 0, 'the session ended');
  });

  test('a wrong password is refused in words and shows nothing', async () => {
    const page = await anonymous();
    assert.equal(await signIn(page, 'alice', 'not her password'), 401);
    await page.getByRole('alert').filter({ hasText: 'Wrong user or password.' }).waitFor();
    assert.equal(await page.getByRole('switch').count(), 0);
  });

  test('after too many failures the page says sign-in is throttled', async () => {
    const page = await anonymous();
    for (let attempt = 1; attempt <= 3; attempt++) {
      assert.equal(await signIn(page, 'otto', `guess ${attempt}`), 401);
      await page.getByRole('alert').filter({ hasText: 'Wrong user or password.' }).waitFor();
    }
    assert.equal(await signIn(page, 'otto', PASSWORDS.otto), 429);
    await page
      .getByRole('alert')
      .filter({ hasText: /^Too many failed sign-ins: try again in about \d+ minutes\.$/ })
      .waitFor();
    assert.equal(await page.getByRole('switch').count(), 0, 'not even the right password gets through now');
  });
});
