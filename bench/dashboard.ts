// The web dashboard in Chromium, against the built daemon (dist/) as `npm start` runs it, on a
// simulator process behind a socat pty: first paint of the grid, bytes of a first load, click →
// SET at the board, a change at the board → the switch updated, and 20 dashboards open at once.
import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../test/helpers/browser.js';
import { freePort } from '../test/helpers/ports.js';
import { type SimulatorProcess, startSimulator } from '../test/helpers/simulator-process.js';
import { residentMb, startFlags } from './support.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const LOADS = Number(process.env.BENCH_DASHBOARD_LOADS ?? 20);
const CLICKS = Number(process.env.BENCH_DASHBOARD_CLICKS ?? 200);
const PAGES = Number(process.env.BENCH_DASHBOARD_PAGES ?? 20);
const API_CALLS = 200;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

interface Daemon {
  child: ChildProcess;
  url: string;
  dir: string;
}

/** dist/src/main.js with a config file: the prp1 driver on the simulator's pty, the API on a free port. */
async function startDaemon(sim: SimulatorProcess): Promise<Daemon> {
  await access(join(root, 'dist/web/index.html')).catch(() => {
    throw new Error('dist/web is missing: run `npm run build` first (npm run bench does)');
  });
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-web-'));
  const port = await freePort();
  const config = join(dir, 'pipdu.yaml');
  await writeFile(
    config,
    `version: 1
board: { driver: prp1, port: ${sim.path}, switchSpacingMs: 0 }
state: { dir: ${join(dir, 'state')} }
api: { listen: 127.0.0.1:${port}, loopbackRole: admin }
sockets:
  - { number: 2, name: lab }
`,
  );
  const child = spawn(process.execPath, [...(await startFlags()), join(root, 'dist/src/main.js')], {
    cwd: dir,
    env: { ...process.env, PIPDU_CONFIG: config, PIPDU_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (/running: \d+ of 16 sockets on/.test(text)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`daemon exited (${code})`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, dir };
}

async function stopDaemon(daemon: Daemon): Promise<void> {
  const gone = new Promise((resolve) => daemon.child.once('exit', resolve));
  daemon.child.kill('SIGTERM');
  await gone;
  await rm(daemon.dir, { recursive: true, force: true });
}

/** Navigation start → the 16 switches in the page (the page marks `pipdu:grid`), on a cold cache each time. */
async function firstPaint(browser: Browser, url: string): Promise<{ samples: number[]; bytes: Bytes }> {
  const samples: number[] = [];
  let bytes: Bytes = { br: 0, gzip: 0, files: [] };
  // One more load first, not counted: the daemon's first answers run cold code.
  for (let i = -1; i < LOADS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.locator('[role="switch"]').nth(15).waitFor();
    const took = Number(await waitInPage(page, `performance.getEntriesByName('pipdu:grid')[0]?.startTime`));
    if (i >= 0) samples.push(took);
    if (i === 0) bytes = await firstLoadBytes(page, url);
    await context.close();
  }
  return { samples, bytes };
}

interface Bytes {
  /** What Chromium transferred (it takes brotli), headers included. */
  br: number;
  /** The same files, gzip-encoded as served to a client that takes only gzip, headers not counted. */
  gzip: number;
  files: string[];
}

async function firstLoadBytes(page: Page, url: string): Promise<Bytes> {
  const entries = await page.evaluate<Array<{ name: string; transferSize: number }>>(
    `[...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
      .map((e) => ({ name: e.name, transferSize: e.transferSize }))`,
  );
  // The event stream never ends and the API's JSON is data, not the page: counted too (all but the stream).
  const loaded = entries.filter((entry) => !entry.name.includes('/api/v1/events'));
  let gzip = 0;
  for (const entry of loaded) {
    const path = new URL(entry.name).pathname;
    const reply = await fetch(`${url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
    const body = Buffer.from(await reply.arrayBuffer());
    // fetch decodes: the encoded size is the precompressed file's, or the gzip of a JSON answer.
    gzip += reply.headers.get('content-encoding') === 'gzip' ? await encodedSize(path, body) : body.length;
  }
  return {
    br: loaded.reduce((sum, entry) => sum + entry.transferSize, 0),
    gzip,
    files: loaded.map((entry) => new URL(entry.name).pathname),
  };
}

async function encodedSize(path: string, body: Buffer): Promise<number> {
  const file = join(root, 'dist/web', path === '/' ? 'index.html' : path);
  try {
    return (await readFile(`${file}.gz`)).length;
  } catch {
    return gzipSync(body).length;
  }
}

/** A click on lab's switch → the SET line at the board, and a SET at the board → the switch's aria-checked. */
async function clickAndFollow(
  browser: Browser,
  url: string,
  sim: SimulatorProcess,
): Promise<{ click: number[]; follow: number[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${url}/`);
  const lab = page.locator('article[data-socket="2"] [role="switch"]');
  await lab.waitFor();
  await page.locator('p.live', { hasText: 'Live' }).waitFor();
  // The page notes when aria-checked changes (Date.now(): the same clock as this process's).
  await page.evaluate(`(() => {
    window.__changes = [];
    const target = document.querySelector('article[data-socket="2"] [role="switch"]');
    new MutationObserver(() => window.__changes.push({ at: Date.now(), value: target.getAttribute('aria-checked') }))
      .observe(target, { attributes: true, attributeFilter: ['aria-checked'] });
  })()`);
  const isSet = (event: Record<string, unknown>) =>
    event.event === 'request' && / SET 1 [01]$/.test(String(event.line));
  const click: number[] = [];
  const follow: number[] = [];
  for (let i = 0; i < CLICKS + 10; i++) {
    const before = await lab.getAttribute('aria-checked');
    const since = sim.events.length;
    const sent = Number(
      await page.evaluate(`(() => {
      const at = Date.now();
      document.querySelector('article[data-socket="2"] [role="switch"]').click();
      return at;
    })()`),
    );
    await sim.waitFor(isSet, 5000, since);
    if (i >= 10) click.push(Date.now() - sent);
    await waitInPage(
      page,
      `document.querySelector('article[data-socket="2"] [role="switch"]').getAttribute('aria-checked') !== ${JSON.stringify(before)}`,
    );
  }
  // Changes made elsewhere (another API client): from the SET at the board to the page's switch.
  for (let i = 0; i < CLICKS + 10; i++) {
    const before = await lab.getAttribute('aria-checked');
    const marks = Number(await page.evaluate('window.__changes.length'));
    const since = sim.events.length;
    const answered = fetch(`${url}/api/v1/sockets/2/${before === 'true' ? 'off' : 'on'}`, { method: 'POST' });
    await sim.waitFor(isSet, 5000, since);
    const atBoard = Date.now();
    await waitInPage(page, `window.__changes.length > ${marks}`);
    const changed = Number(await page.evaluate(`window.__changes[${marks}].at`));
    if (i >= 10) follow.push(Math.max(0, changed - atBoard));
    await answered;
  }
  await context.close();
  return { click, follow };
}

/** GET /api/v1/sockets round trips, in ms. */
async function apiLatency(url: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < API_CALLS; i++) {
    const started = performance.now();
    const reply = await fetch(`${url}/api/v1/sockets`);
    await reply.arrayBuffer();
    samples.push(performance.now() - started);
  }
  return samples;
}

async function manyDashboards(
  browser: Browser,
  daemon: Daemon,
): Promise<{ before: number; after: number; apiBefore: number[]; apiAfter: number[] }> {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5000));
  await settle();
  const before = (await residentMb(daemon.child.pid ?? 0)).rss;
  const apiBefore = await apiLatency(daemon.url);
  // One context each, as 20 people's browsers: a browser keeps six HTTP/1.1 connections per host,
  // each dashboard's event stream holds one.
  const contexts: BrowserContext[] = [];
  for (let i = 0; i < PAGES; i++) {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${daemon.url}/`);
    await page.locator('p.live', { hasText: 'Live' }).waitFor();
  }
  await settle();
  const after = (await residentMb(daemon.child.pid ?? 0)).rss;
  const apiAfter = await apiLatency(daemon.url);
  for (const context of contexts) await context.close();
  return { before, after, apiBefore, apiAfter };
}

/**
 * Resolves once the page expression `expression` is truthy, with its value. Polled inside the page by a
 * CDP evaluate: the dashboard's CSP (rightly) refuses the eval that page.waitForFunction(string) uses.
 */
async function waitInPage(page: Page, expression: string): Promise<unknown> {
  return page.evaluate(`new Promise((resolve) => {
    const check = () => {
      const value = (${expression});
      if (value) resolve(value);
      else setTimeout(check, 1);
    };
    check();
  })`);
}

const ms = (value: number) => `${value.toFixed(1)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export async function benchDashboard(): Promise<void> {
  const sim = await startSimulator();
  const browser = await launchBrowser();
  let daemon: Daemon | null = null;
  try {
    daemon = await startDaemon(sim);
    const paint = await firstPaint(browser, daemon.url);
    const grid = summary(paint.samples);
    const { click, follow } = await clickAndFollow(browser, daemon.url, sim);
    const clicks = summary(click);
    const follows = summary(follow);
    const many = await manyDashboards(browser, daemon);
    const apiBefore = summary(many.apiBefore);
    const apiAfter = summary(many.apiAfter);
    console.log('web dashboard in Chromium (the built daemon, prp1 on a simulator process over a pty):');
    console.log(
      `  navigation start → 16 switches rendered, ${LOADS} cold caches (after one uncounted): median ${ms(grid.median)}  p99 ${ms(grid.p99)}  (target <= 300 ms)`,
    );
    console.log(
      `  first load: ${kb(paint.bytes.gzip)} gzip (${kb(paint.bytes.br)} as Chromium took it, brotli)  (target <= 150 KB gzip); ${paint.bytes.files.join(', ')}`,
    );
    console.log(
      `  click → SET at the board, ${CLICKS}: median ${ms(clicks.median)}  p99 ${ms(clicks.p99)}  (target p99 <= 50 ms)`,
    );
    console.log(
      `  SET at the board (another client's request) → aria-checked updated, ${CLICKS}: median ${ms(follows.median)}  p99 ${ms(follows.p99)}  (target p99 <= 100 ms)`,
    );
    console.log(
      `  ${PAGES} dashboards open at once: daemon RSS ${many.before.toFixed(1)} → ${many.after.toFixed(1)} MB, growth ${(many.after - many.before).toFixed(1)} MB  (target <= 10 MB)`,
    );
    console.log(
      `  API GET /api/v1/sockets, ${API_CALLS}: p99 ${ms(apiBefore.p99)} with no dashboard, ${ms(apiAfter.p99)} with ${PAGES} open\n`,
    );
  } finally {
    await browser.close();
    if (daemon) await stopDaemon(daemon);
    await sim.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchDashboard();
}
