import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.js';
import { ApiServer, type ApiServerDeps } from '../../src/api/server.js';
import type { ApiConfig, Role } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { PduService } from '../../src/pdu/pdu-service.js';

/** Debian's chromium, headless, with nothing that phones home. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** The dashboard built into a temp dir (as `npm run build` does into dist/web); `dispose()` removes it. */
export async function buildDashboard(): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-web-'));
  await buildWeb(dir);
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The API (and so the dashboard) on 127.0.0.1, port 0, over plain HTTP:
 * every page it serves acts with `role` (api.loopbackRole).
 */
export async function startDashboard(
  service: PduService,
  webRoot: string,
  role: Role,
  extra: Partial<ApiConfig> = {},
  energy?: ApiServerDeps['energy'],
): Promise<{ server: ApiServer; url: string }> {
  const config: ApiConfig = { listen: '127.0.0.1:0', clients: {}, loopbackRole: role, ...extra } as ApiConfig;
  const server = new ApiServer({
    config,
    service,
    logger: silentLogger(),
    webRoot,
    ...(energy ? { energy } : {}),
  });
  const { url } = await server.start();
  return { server, url };
}

/** Opens the dashboard and waits until its 16 switches are drawn. */
export async function openDashboard(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.locator('[role="switch"]').nth(15).waitFor();
}

/** The switch of socket `n` (its accessible name holds the number). */
export function switchOf(page: Page, n: number) {
  return page.locator(`article[data-socket="${n}"] [role="switch"]`);
}
