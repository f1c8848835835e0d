import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ApiServer, ApiServerDeps } from '../src/api/server.js';
import { buildDashboard, launchBrowser, openDashboard, startDashboard, switchOf } from './helpers/browser.js';
import { ALICE, once, PduFixture, until } from './helpers/pdu-fixture.js';
import { freePort } from './helpers/ports.js';
import { requests } from './helpers/requests.js';

const SOCKETS = `
sockets:
  - { number: 1, name: pi-self, protected: true }
  - { number: 2, name: lab }
  - { number: 3, name: slow, preOff: [{ delay: 50ms }, { delay: 20s }] }
  - { number: 4, name: nas }
  - { number: 5, name: switch-core, restore: off }
  - { number: 6, name: printer }
`;

const DOCS = join(import.meta.dirname, '..', 'docs');
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'pipdu.ts');
const run = promisify(execFile);

describe('the web dashboard in Chromium', () => {
  let browser: Browser;
  let fixture: PduFixture;
  let web: Awaited<ReturnType<typeof buildDashboard>>;
  const servers: ApiServer[] = [];
  const urls = { viewer: '', operator: '', admin: '' };
  const contexts: BrowserContext[] = [];

  /** A fresh page (own context) on the dashboard as `role`. */
  async function pageAs(role: keyof typeof urls, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    const page = await context.newPage();
    await openDashboard(page, urls[role]);
    await page.locator('p.live', { hasText: 'Live' }).waitFor();
    return page;
  }

  /** Lines that set channel `channel` to `value`, received since `from`. */
  const sets = (from: number, channel: number, value: 0 | 1) =>
    fixture.switchingLines(from).filter((line) => line.endsWith(`SET ${channel} ${value}`));

  before(async () => {
    [browser, web, fixture] = await Promise.all([
      launchBrowser(),
      buildDashboard(),
      PduFixture.create(SOCKETS),
    ]);
    await fixture.startDaemon();
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      const { server, url } = await startDashboard(fixture.service, web.dir, role);
      servers.push(server);
      urls[role] = url;
    }
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) await server.stop();
    await fixture?.dispose();
    await web?.dispose();
  });

  test('the page comes with a strict CSP, and an inline script does not run', async () => {
    const index = await fetch(`${urls.viewer}/`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(index.status, 200);
    const csp = index.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline <script>');
    assert.doesNotMatch(html, /<style|\sstyle=/, 'no inline style');
    const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'the script is a content-hashed asset');
    const asset = await fetch(`${urls.viewer}${script}`, { headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(asset.headers.get('content-encoding'), 'br');
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.match(asset.headers.get('content-security-policy') ?? '', /script-src 'self'/);

    const page = await pageAs('viewer');
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/.test(message.text())) violations.push(message.text());
    });
    await page.reload();
    await page.locator('[role="switch"]').nth(15).waitFor();
    assert.deepEqual(violations, [], 'the page itself breaks none of its rules');
    // In the page, as a string: the test's own code is type-checked without the DOM's types.
    const blocked = await page.evaluate<{ ran: boolean; violated: string }>(`new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', (event) =>
        resolve({ ran: 'pwned' in window, violated: event.violatedDirective }));
      const inline = document.createElement('script');
      inline.textContent = 'window.pwned = true';
      document.body.append(inline);
    })`);
    assert.deepEqual(blocked, { ran: false, violated: 'script-src-elem' });
  });

  test('a viewer sees 16 disabled switches, each saying why, and no admin views', async () => {
    const page = await pageAs('viewer');
    const switches = page.getByRole('switch');
    assert.equal(await switches.count(), 16);
    for (let n = 1; n <= 16; n++) {
      const one = switchOf(page, n);
      assert.equal(await one.isDisabled(), true, `socket ${n} disabled`);
      assert.match((await one.getAttribute('title')) ?? '', /needs the operator role/);
    }
    const lab = page.getByRole('switch', { name: /lab \(socket 2\)/ });
    assert.equal(await lab.count(), 1, 'the accessible name holds the name and the number');
    assert.equal(await page.getByRole('heading', { name: 'Audit log' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /All off/ }).count(), 0);
    assert.match((await page.locator('.who').textContent()) ?? '', /viewer/);
  });

  test('an operator clicks a switch: the board gets the SET and the switch follows', async () => {
    const page = await pageAs('operator');
    const lab = fixture.service.info(2);
    assert.equal(lab.on, false);
    const toggle = switchOf(page, 2);
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');
    const from = fixture.received.length;
    await toggle.click();
    await page.locator('article[data-socket="2"] [role="switch"][aria-checked="true"]').waitFor();
    assert.equal(sets(from, lab.channel, 1).length, 1, 'one SET on at the board');
    assert.equal(fixture.service.info(2).on, true);
    // The protected socket's off is the admin's: the operator's switch is disabled, saying so.
    await requests(fixture.service).on(1, ALICE);
    await page.locator('article[data-socket="1"] [role="switch"][aria-checked="true"]').waitFor();
    assert.equal(await switchOf(page, 1).isDisabled(), true);
    assert.match((await switchOf(page, 1).getAttribute('title')) ?? '', /needs the admin role/);
  });

  test('by keyboard: Tab reaches a switch, Space switches it, and the menu opens with Enter', async () => {
    const page = await pageAs('operator');
    const printer = fixture.service.info(6);
    const on = printer.on === true;
    await switchOf(page, 5).focus();
    await page.keyboard.press('Tab'); // the menu of socket 5
    await page.keyboard.press('Tab'); // socket 6's switch
    assert.equal(
      await page.evaluate<string | null>(`document.activeElement.getAttribute('aria-label')`),
      'printer (socket 6): power',
    );
    const from = fixture.received.length;
    await page.keyboard.press('Space');
    await page.locator(`article[data-socket="6"] [role="switch"][aria-checked="${!on}"]`).waitFor();
    assert.equal(sets(from, printer.channel, on ? 0 : 1).length, 1);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('article[data-socket="6"] details.menu[open]').waitFor();
  });

  test('the switch follows changes made elsewhere and a power loss, without reload', async () => {
    const page = await pageAs('operator');
    await requests(fixture.service).on(4, ALICE);
    await page.locator('article[data-socket="4"] [role="switch"][aria-checked="true"]').waitFor();
    // The pipdu CLI, a process of its own, through the API.
    const cli = await run(process.execPath, ['--import', 'tsx', CLI, '--url', urls.admin, 'off', 'nas']);
    assert.match(cli.stdout, /nas/);
    await page.locator('article[data-socket="4"] [role="switch"][aria-checked="false"]').waitFor();
    await requests(fixture.service).on(5, ALICE);
    await page.locator('article[data-socket="5"] [role="switch"][aria-checked="true"]').waitFor();
    // Power loss: the board comes back with its relays off, and switch-core (restore: off) stays off.
    const reset = once(fixture.service, 'boardReset');
    fixture.sim.reset();
    await reset;
    await page.locator('article[data-socket="5"] [role="switch"][aria-checked="false"]').waitFor();
    await page.locator('.banner.reset', { hasText: 'Board reset detected' }).waitFor();
  });

  test('switching a protected socket off asks to type its name first', async () => {
    await requests(fixture.service).on(1, ALICE);
    const page = await pageAs('admin');
    const channel = fixture.service.info(1).channel;
    const from = fixture.received.length;
    await switchOf(page, 1).click();
    const dialog = page.getByRole('dialog', { name: /Switch off protected pi-self/ });
    await dialog.waitFor();
    const confirm = dialog.getByRole('button', { name: 'Switch it off' });
    assert.equal(await confirm.isDisabled(), true, 'not before the name is typed');
    await dialog.getByRole('textbox').fill('pi-sel');
    assert.equal(await confirm.isDisabled(), true, 'not with a wrong name');
    assert.deepEqual(sets(from, channel, 0), [], 'nothing sent while asking');
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(fixture.service.info(1).on, true, 'kept on when not confirmed');

    await switchOf(page, 1).click();
    await dialog.getByRole('textbox').fill('pi-self');
    await confirm.click();
    await page.locator('article[data-socket="1"] [role="switch"][aria-checked="false"]').waitFor();
    assert.equal(sets(from, channel, 0).length, 1, 'the SET off came after the confirmation');
  });

  test("a pipeline's steps appear live, and Cancel stops it", async () => {
    await requests(fixture.service).on(3, ALICE);
    const page = await pageAs('admin');
    await switchOf(page, 3).click();
    const card = page.locator('article[data-socket="3"]');
    await card.locator('.step[data-status="ok"]', { hasText: 'preOff 1/2' }).waitFor();
    await card.locator('.step[data-status="running"]', { hasText: 'preOff 2/2' }).waitFor();
    // Another direction while it runs: refused BUSY, and the page says with what and since when.
    await card.locator('details.menu summary').click();
    await card.getByRole('button', { name: 'Cycle' }).click();
    const busy = page.locator('.notice.error', { hasText: 'Busy' });
    await busy.waitFor();
    assert.match((await busy.textContent()) ?? '', /slow \(socket 3\).*pending: off by loopback since \d/);
    const from = fixture.received.length;
    await card.locator('.pending').getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.notice', { hasText: 'Cancelled the work on slow (socket 3)' }).waitFor();
    await card.locator('.pending').waitFor({ state: 'detached' });
    await page.locator('.notice.error', { hasText: 'slow (socket 3): cancelled by' }).waitFor();
    assert.equal(fixture.service.info(3).on, true, 'still on');
    assert.deepEqual(fixture.switchingLines(from), [], 'the relay was not touched');
    assert.equal(await switchOf(page, 3).getAttribute('aria-checked'), 'true');
  });

  test('the offline banner appears when the board goes away and clears when it returns', async () => {
    const page = await pageAs('operator');
    const banner = page.locator('.banner.offline');
    assert.equal(await banner.count(), 0);
    fixture.transport.unplug();
    await until(fixture.service, 'boardOffline', () => !fixture.service.status().board.online);
    await banner.waitFor();
    assert.match((await banner.textContent()) ?? '', /offline since \d/);
    // A click now is answered in words, not ignored.
    await switchOf(page, 6).click();
    await page.locator('.notice.error', { hasText: 'offline' }).waitFor();
    const online = once(fixture.service, 'boardOnline');
    fixture.transport.plug();
    await online;
    await banner.waitFor({ state: 'detached' });
  });

  test('when the daemon goes away the page says it is stale, and reconnects by itself', async () => {
    const port = await freePort();
    const first = await startDashboard(fixture.service, web.dir, 'operator', { listen: `127.0.0.1:${port}` });
    servers.push(first.server);
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await openDashboard(page, first.url);
    await page.locator('p.live', { hasText: 'Live' }).waitFor();
    await first.server.stop();
    await page.locator('.banner.stale', { hasText: 'may be stale' }).waitFor();
    // Meanwhile the socket changes; the page cannot know yet.
    const before = fixture.service.info(7).on === true;
    await (before ? requests(fixture.service).off(7, ALICE) : requests(fixture.service).on(7, ALICE));
    const again = await startDashboard(fixture.service, web.dir, 'operator', { listen: `127.0.0.1:${port}` });
    servers.push(again.server);
    await page.locator('.banner.stale').waitFor({ state: 'detached' });
    await page.locator(`article[data-socket="7"] [role="switch"][aria-checked="${!before}"]`).waitFor();
  });

  test('a reason containing HTML is shown as text', async () => {
    const reason = '<img src=x onerror="window.pwned=1"><b>bold</b>';
    const reply = await fetch(`${urls.admin}/api/v1/sockets/6/on`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason }),
    });
    assert.equal(reply.status, 200, await reply.text());
    const page = await pageAs('admin');
    const cell = page.locator('.audit td.reason', { hasText: '<img src=x' }).first();
    await cell.waitFor();
    assert.equal(await cell.textContent(), reason);
    assert.equal(await page.locator('.audit img, .audit b').count(), 0, 'no markup was made of it');
    assert.equal(await page.evaluate<boolean>(`'pwned' in window`), false);
  });

  test('the power charts start with the history the daemon kept, then follow live', async () => {
    // The energy part's store is tested on its own (energy tests): here a fixed answer stands in for it.
    const hourAgo = Date.now() - 3_600_000;
    const asked: string[] = [];
    const energy: NonNullable<ApiServerDeps['energy']> = {
      withEnergy: (socket) => socket,
      figures: () => ({ todayKwh: 0, monthKwh: 0, totalKwh: 0, gaps: 0 }),
      activeAlarms: () => [],
      historyOf: (sockets, from, to) => {
        asked.push(sockets.map((socket) => socket ?? 'total').join(','));
        const points = [0, 1, 2].map((i) => ({ t: hourAgo + i * 60_000, min: 100, avg: 120, max: 140 }));
        return { resolution: 's10', stepMs: 60_000, from, to, series: sockets.map(() => points) };
      },
    } as NonNullable<ApiServerDeps['energy']>;
    const { server, url } = await startDashboard(fixture.service, web.dir, 'viewer', {}, energy);
    servers.push(server);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    await openDashboard(page, url);
    const chart = page.getByRole('img', { name: 'PDU power: power over the last hours' });
    await chart.waitFor();
    assert.equal(Number(await chart.getAttribute('data-from')), hourAgo, 'the chart starts an hour ago');
    assert.deepEqual(asked, [['total', ...Array.from({ length: 16 }, (_, i) => i + 1)].join(',')]);
  });

  test('screenshots: a phone (one column, no sideways scroll) and a desktop', async () => {
    await mkdir(DOCS, { recursive: true });
    // Some load on the sockets, so the figures and the chart show something.
    for (const [channel, ma] of [
      [1, 420],
      [4, 1300],
    ] as const)
      fixture.sim.setLoad(channel, ma);
    await requests(fixture.service).on(5, ALICE);
    const phone = await pageAs('operator', { width: 390, height: 844 });
    const layout = await phone.evaluate<{ scrollWidth: number; clientWidth: number; lefts: number }>(`(() => {
      const cards = [...document.querySelectorAll('article.socket')].map((el) => el.getBoundingClientRect());
      return {
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
        lefts: new Set(cards.map((r) => Math.round(r.left))).size,
      };
    })()`);
    assert.ok(layout.scrollWidth <= layout.clientWidth, `no horizontal scroll: ${JSON.stringify(layout)}`);
    assert.equal(layout.lefts, 1, 'one column');
    await phone.screenshot({ path: join(DOCS, 'dashboard-phone.png') });
    const desktop = await pageAs('admin', { width: 1280, height: 900 });
    await desktop.locator('.chart-box canvas').first().waitFor();
    await desktop.screenshot({ path: join(DOCS, 'dashboard.png') });
    const wide = await desktop.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');
    assert.ok(wide, 'no horizontal scroll on a desktop either');
  });
});
