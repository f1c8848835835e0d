import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type IncomingMessage, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { ApiServer } from '../src/api/server.js';
import { type Certs, call, makeCerts } from './helpers/api-client.js';
import { buildDashboard, startDashboard } from './helpers/browser.js';
import { ALICE, once, PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

const SOCKETS = `
sockets:
  - { number: 1, name: pi-self, protected: true }
  - { number: 2, name: lab }
  - { number: 3, name: nas, roles: [homelab] }
`;

interface Raw {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** One plain-HTTP request, the path sent as written; the body as the bytes sent (no decoding). */
function raw(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
) {
  const { hostname, port } = new URL(base);
  return new Promise<Raw>((resolve, reject) => {
    const req = request(
      { hostname, port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** An event stream read as it comes: the event names so far, and a wait for a condition on them. */
function eventNames(url: string) {
  const names: string[] = [];
  const waiters = new Set<() => void>();
  const controller = new AbortController();
  let connected = false;
  const reading = fetch(url, { signal: controller.signal })
    .then(async (reply) => {
      const decoder = new TextDecoder();
      for await (const chunk of reply.body!) {
        connected = true;
        for (const match of decoder.decode(chunk).matchAll(/^event: (\w+)$/gm)) names.push(match[1]!);
        for (const waiter of waiters) waiter();
      }
    })
    .catch(() => undefined);
  const until = (check: () => boolean) =>
    new Promise<void>((resolve) => {
      const waiter = () => {
        if (!check()) return;
        waiters.delete(waiter);
        resolve();
      };
      waiters.add(waiter);
      waiter();
    });
  return {
    names,
    connected: () => until(() => connected),
    until,
    stop: async () => {
      controller.abort();
      await reading;
    },
  };
}

describe('the dashboard files and its view, over HTTP', () => {
  let fixture: PduFixture;
  let web: Awaited<ReturnType<typeof buildDashboard>>;
  const servers: ApiServer[] = [];
  const urls = { viewer: '', operator: '', admin: '' };
  let script: string;

  before(async () => {
    [web, fixture] = await Promise.all([buildDashboard(), PduFixture.create(SOCKETS)]);
    await fixture.startDaemon();
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      const { server, url } = await startDashboard(fixture.service, web.dir, role);
      servers.push(server);
      urls[role] = url;
    }
    const html = await readFile(join(web.dir, 'index.html'), 'utf8');
    script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
  });

  after(async () => {
    for (const server of servers) await server.stop();
    await fixture?.dispose();
    await web?.dispose();
  });

  test('each file comes in the encoding the client takes, the same bytes once decoded', async () => {
    const file = await readFile(join(web.dir, script.slice(1)));
    const plain = await raw(urls.viewer, script);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(plain.body, file);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.headers.vary, 'accept-encoding');
    const gzip = await raw(urls.viewer, script, { headers: { 'accept-encoding': 'gzip, deflate' } });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.ok(gzip.body.length < file.length / 2, 'compressed');
    assert.deepEqual(gunzipSync(gzip.body), file);
    const br = await raw(urls.viewer, script, { headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.deepEqual(brotliDecompressSync(br.body), file);
    const refused = await raw(urls.viewer, script, { headers: { 'accept-encoding': 'br;q=0, gzip;q=0' } });
    assert.equal(refused.headers['content-encoding'], undefined, 'q=0 means not that one');
    assert.match(String(br.headers['cache-control']), /max-age=31536000, immutable/);
  });

  test('ETags revalidate the page; HEAD has the headers and no body', async () => {
    const page = await raw(urls.viewer, '/');
    assert.equal(page.headers['cache-control'], 'no-cache');
    const etag = String(page.headers.etag);
    const again = await raw(urls.viewer, '/', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const head = await raw(urls.viewer, '/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(page.body.length));
    assert.match(String(head.headers['content-security-policy']), /frame-ancestors 'none'/);
  });

  test('what is not a dashboard file is refused in words', async () => {
    const missing = await raw(urls.viewer, '/assets/app-NOPE.js');
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /no dashboard file \/assets\/app-NOPE\.js/);
    const post = await call(urls.admin, 'POST', '/');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const dots = await raw(urls.viewer, '/assets/../package.json');
    assert.equal(dots.status, 400);
  });

  test('without a build, GET / says how to make one and the API still works', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'pipdu-noweb-'));
    try {
      const { server, url } = await startDashboard(fixture.service, empty, 'viewer');
      servers.push(server);
      const page = await raw(url, '/');
      assert.equal(page.status, 404);
      assert.match(page.body.toString(), /not built: run `npm run build`/);
      assert.equal((await call(url, 'GET', '/api/v1/sockets')).status, 200);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  test('GET /api/v1/dashboard says what each caller may do, as the service would decide it', async () => {
    const viewer = (await call(urls.viewer, 'GET', '/api/v1/dashboard')).body;
    assert.equal(viewer.status.sockets.length, 16);
    assert.deepEqual(viewer.you, { actor: 'loopback', role: 'viewer' });
    assert.match(viewer.may.sockets[1].on, /needs the operator role; you are a viewer/);
    assert.match(viewer.may.audit, /admin/);

    const operator = (await call(urls.operator, 'GET', '/api/v1/dashboard')).body;
    const [piSelf, lab, nas] = operator.may.sockets;
    assert.equal(lab.on, null);
    assert.equal(lab.off, null);
    assert.equal(lab.cycle, null);
    assert.match(lab.force, /admin/);
    assert.match(piSelf.off, /protected.*needs the admin role/);
    assert.match(nas.on, /.+/, 'a socket whose roles the operator does not hold');
    assert.match(operator.may.allOff, /admin/);

    const admin = (await call(urls.admin, 'GET', '/api/v1/dashboard')).body;
    assert.ok(
      admin.may.sockets.every((one: Record<string, unknown>) =>
        ['on', 'off', 'cycle', 'cancel', 'force'].every((key) => one[key] === null),
      ),
    );
    assert.equal(admin.may.allOff, null);
    assert.equal(admin.may.audit, null);
    assert.deepEqual(admin.board, { offlineSince: null, lastReset: null });
  });

  test('the view remembers when the board went offline and when it last reset', async () => {
    fixture.transport.unplug();
    await until(fixture.service, 'boardOffline', () => !fixture.service.status().board.online);
    const offline = (await call(urls.viewer, 'GET', '/api/v1/dashboard')).body;
    assert.equal(offline.status.board.online, false);
    assert.ok(Date.now() - Date.parse(offline.board.offlineSince) < 10_000);
    const online = once(fixture.service, 'boardOnline');
    fixture.transport.plug();
    await online;
    assert.equal((await call(urls.viewer, 'GET', '/api/v1/dashboard')).body.board.offlineSince, null);
    const reset = once(fixture.service, 'boardReset');
    fixture.sim.reset();
    await reset;
    const after = (await call(urls.viewer, 'GET', '/api/v1/dashboard')).body;
    assert.ok(Date.now() - Date.parse(after.board.lastReset) < 10_000);
  });

  test('the event stream carries telemetry only to those who ask for it', async () => {
    const plain = eventNames(`${urls.viewer}/api/v1/events`);
    const withTelemetry = eventNames(`${urls.viewer}/api/v1/events?telemetry=1`);
    await Promise.all([plain.connected(), withTelemetry.connected()]);
    await requests(fixture.service).on(2, ALICE);
    await plain.until(() => plain.names.includes('socketChanged'));
    // Two telemetry reports after the change reached the plain stream: the plain one had its chance.
    const from = withTelemetry.names.length;
    await withTelemetry.until(
      () => withTelemetry.names.slice(from).filter((n) => n === 'telemetry').length >= 2,
    );
    await Promise.all([plain.stop(), withTelemetry.stop()]);
    assert.ok(withTelemetry.names.includes('telemetry'));
    const bad = await call(urls.viewer, 'GET', '/api/v1/events?telemetry=yes');
    assert.deepEqual([bad.status, bad.body.error.message], [400, 'telemetry must be true or false']);
    assert.ok(!plain.names.includes('telemetry'), `no telemetry: ${plain.names}`);
  });
});

describe('the dashboard over mutual TLS', () => {
  let dir: string;
  let certs: Certs;
  let fixture: PduFixture;
  let web: Awaited<ReturnType<typeof buildDashboard>>;
  let server: ApiServer;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-web-tls-'));
    [certs, web, fixture] = await Promise.all([
      makeCerts(join(dir, 'pki'), ['boss', 'stranger']),
      buildDashboard(),
      PduFixture.create(SOCKETS),
    ]);
    await fixture.startDaemon();
    const pki = join(dir, 'pki');
    ({ server, url: base } = await startDashboard(fixture.service, web.dir, 'viewer', {
      tls: { cert: join(pki, 'server.crt'), key: join(pki, 'server.key'), ca: join(pki, 'ca.crt') },
      clients: { boss: 'admin' },
    }));
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
    await web?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('a certificate with no role gets the page (to sign in) and none of the PDU', async () => {
    const as = (cn: string, path: string) =>
      call(base, 'GET', path, { client: certs.clients[cn], ca: certs.ca });
    const page = await as('stranger', '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /<script type="module" src="\/assets\//);
    assert.equal((await as('stranger', '/api/v1/dashboard')).status, 403);
    const boss = await as('boss', '/api/v1/dashboard');
    assert.equal(boss.status, 200);
    assert.deepEqual(boss.body.you, { actor: 'boss', role: 'admin' });
  });
});
