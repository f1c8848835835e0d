import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PduMetrics } from '../src/api/metrics.js';
import { ApiServer } from '../src/api/server.js';
import type { ApiConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import { type Certs, type Client, call, makeCerts } from './helpers/api-client.js';
import { once, PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

const run = promisify(execFile);
const _SCRIPT = join(import.meta.dirname, '..', 'scripts', 'make-certs.sh');

const SOCKETS = `
sockets:
  - { number: 1, name: pi-self, protected: true }
  - { number: 2, name: lab }
  - { number: 3, name: slow, preOff: [{ delay: 300ms }] }
  - { number: 4, name: nas, roles: [homelab] }
`;

/** A client certificate for `cn` signed by the CA in `pkiDir`, valid only on 1 January 2020. */
async function expiredClient(pkiDir: string, cn: string): Promise<Client> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-expired-'));
  try {
    const file = (name: string) => join(dir, name);
    await writeFile(file('index.txt'), '');
    await writeFile(file('serial'), '1000\n');
    await writeFile(
      file('ca.cnf'),
      `[ca]\ndefault_ca = old\n[old]\ndatabase = ${file('index.txt')}\nserial = ${file('serial')}\nnew_certs_dir = ${dir}\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n`,
    );
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      file('old.key'),
      '-subj',
      `/CN=${cn}`,
      '-out',
      file('old.csr'),
    ]);
    await run('openssl', [
      'ca',
      '-batch',
      '-config',
      file('ca.cnf'),
      '-cert',
      join(pkiDir, 'ca.crt'),
      '-keyfile',
      join(pkiDir, 'ca.key'),
      '-in',
      file('old.csr'),
      '-out',
      file('old.crt'),
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200102000000Z',
      '-notext',
    ]);
    return { cert: await readFile(file('old.crt')), key: await readFile(file('old.key')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('API over mutual TLS', () => {
  let dir: string;
  let certs: Certs;
  let otherCa: Certs;
  let fixture: PduFixture;
  let server: ApiServer;
  let base: string;
  let metrics: PduMetrics | undefined;
  const as = (cn: string, method: string, path: string, body?: string, headers?: Record<string, string>) =>
    call(base, method, path, { client: certs.clients[cn], ca: certs.ca, body, headers });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-api-'));
    certs = await makeCerts(join(dir, 'pki'), ['ci', 'boss', 'watcher', 'stranger']);
    otherCa = await makeCerts(join(dir, 'other'), ['boss']);
    fixture = await PduFixture.create(SOCKETS);
    await fixture.startDaemon();
    const config: ApiConfig = {
      listen: '127.0.0.1:0',
      tls: {
        cert: join(dir, 'pki', 'server.crt'),
        key: join(dir, 'pki', 'server.key'),
        ca: join(dir, 'pki', 'ca.crt'),
      },
      clients: { ci: 'operator', boss: 'admin', watcher: 'viewer' },
      loopbackRole: 'viewer',
    };
    metrics = new PduMetrics({ service: fixture.service, pduName: fixture.config.name });
    metrics.start();
    server = new ApiServer({
      config,
      service: fixture.service,
      logger: silentLogger(),
      metrics,
    });
    base = (await server.start()).url;
  });

  after(async () => {
    metrics?.stop();
    await server?.stop();
    await fixture?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('serves https on 127.0.0.1 and lists the sockets', async () => {
    assert.match(base, /^https:\/\/127\.0\.0\.1:\d+$/);
    const reply = await as('watcher', 'GET', '/api/v1/sockets');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.sockets.length, 16);
    assert.equal(reply.body.sockets[1].name, 'lab');
    assert.equal(reply.body.board.online, true);
    const one = await as('watcher', 'GET', '/api/v1/sockets/nas');
    assert.equal(one.status, 200);
    assert.equal(one.body.number, 4);
    assert.equal((await as('ci', 'GET', '/ping')).status, 200);
  });

  test('GET /metrics serves Prometheus text; pdudaemon requests work on this listener too', async () => {
    const reply = await as('watcher', 'GET', '/metrics');
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain/);
    assert.match(reply.text, /^pipdu_board_online\{pdu="pipdu"\} 1$/m);
    const on = await as('ci', 'GET', '/power/control/on?hostname=pipdu&port=6');
    assert.deepEqual([on.status, on.text], [200, 'OK - accepted request\n']);
    assert.equal(fixture.service.info(6).on, true);
    const refused = await as('watcher', 'GET', '/power/control/off?hostname=pipdu&port=6');
    assert.deepEqual([refused.status, refused.text], [500, 'Invalid request\n'], 'a viewer may not switch');
    assert.equal(fixture.service.info(6).on, true);
  });

  test('an operator switches a socket off: the board gets the SET', async () => {
    await as('boss', 'POST', '/api/v1/sockets/2/on');
    const from = fixture.received.length;
    const reply = await as('ci', 'POST', '/api/v1/sockets/lab/off', JSON.stringify({ reason: 'test' }));
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.body.action, 'off');
    assert.equal(reply.body.socket.on, false);
    assert.deepEqual(fixture.switchingLines(from).length, 1);
    assert.match(fixture.switchingLines(from)[0]!, /SET 1 0/);
    const entries = await fixture.service.auditLog(5);
    assert.deepEqual(entries.at(-1)?.actor, { kind: 'api', id: 'ci' });
    const on = await as('ci', 'POST', '/api/v1/sockets/lab/on', JSON.stringify({ reason: 'back to work' }));
    assert.equal(on.status, 200, on.text);
    assert.equal(
      (await fixture.service.auditLog(1))[0]?.details?.reason,
      'back to work',
      'the reason is audited',
    );
    assert.equal(
      (await as('ci', 'POST', '/api/v1/sockets/lab/off')).status,
      200,
      'left off, as later tests expect',
    );
  });

  test('permissions: viewer and unknown CN get 403, protected sockets need an admin', async () => {
    const viewer = await as('watcher', 'POST', '/api/v1/sockets/2/on');
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.error.code, 'FORBIDDEN');
    const stranger = await as('stranger', 'GET', '/api/v1/sockets');
    assert.equal(stranger.status, 403);
    assert.equal((await as('stranger', 'GET', '/api/v1/nothing-here')).status, 403);
    assert.equal((await as('stranger', 'GET', '/ping')).status, 200);
    const protectedOff = await as('ci', 'POST', '/api/v1/sockets/pi-self/off');
    assert.equal(protectedOff.status, 403);
    assert.match(protectedOff.body.error.message, /protected/);
    const roleSocket = await as('ci', 'POST', '/api/v1/sockets/nas/on');
    assert.equal(roleSocket.status, 403);
    const forced = await as('ci', 'POST', '/api/v1/sockets/lab/off', '{"force":true}');
    assert.equal(forced.status, 403);
    const admin = await as('boss', 'POST', '/api/v1/sockets/pi-self/off');
    assert.equal(admin.status, 200, admin.text);
    assert.equal((await as('ci', 'GET', '/api/v1/audit?limit=5')).status, 403);
    const audit = await as('boss', 'GET', '/api/v1/audit?limit=50');
    assert.equal(audit.status, 200);
    const refusals = audit.body.entries.filter((entry: { code?: string }) => entry.code === 'FORBIDDEN');
    assert.ok(refusals.some((entry: { actor: { id: string } }) => entry.actor.id === 'stranger'));
    assert.ok(
      refusals.some(
        (entry: { action: string; socket?: number }) => entry.action === 'off' && entry.socket === 1,
      ),
    );
  });

  test('without a valid client certificate the handshake is refused', async () => {
    await assert.rejects(call(base, 'GET', '/api/v1/sockets', { ca: certs.ca }));
    await assert.rejects(call(base, 'GET', '/ping', { ca: certs.ca }));
    await assert.rejects(
      call(base, 'GET', '/api/v1/sockets', { ca: certs.ca, client: otherCa.clients.boss }),
    );
    // An admin's CN, signed by the right CA, but expired in 2020.
    const expired = await expiredClient(join(dir, 'pki'), 'boss');
    await assert.rejects(call(base, 'GET', '/api/v1/sockets', { ca: certs.ca, client: expired }));
    // The same CN with a valid certificate still works: it was the expiry that was refused.
    assert.equal((await as('boss', 'GET', '/ping')).status, 200);
  });

  test('bad requests: unknown socket, route, method, JSON, keys, sizes, media type', async () => {
    const unknown = await as('boss', 'POST', '/api/v1/sockets/nope/on');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'UNKNOWN_SOCKET');
    assert.equal((await as('boss', 'GET', '/api/v1/sockets/17')).status, 404);
    assert.equal((await as('boss', 'GET', '/api/v2/whatever')).status, 404);
    const method = await as('boss', 'GET', '/api/v1/sockets/2/on');
    assert.equal(method.status, 405);
    assert.equal(method.headers.allow, 'POST');
    const badJson = await as('boss', 'POST', '/api/v1/sockets/2/on', '{"reason":');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.error.code, 'BAD_REQUEST');
    const key = await as('boss', 'POST', '/api/v1/sockets/2/off', '{"forse":true}');
    assert.equal(key.status, 400);
    assert.match(key.body.error.message, /forse/);
    assert.equal((await as('boss', 'POST', '/api/v1/sockets/2/off', '{"offTime":"1s"}')).status, 400);
    assert.equal((await as('boss', 'POST', '/api/v1/sockets/2/off', '[]')).status, 400);
    assert.equal((await as('boss', 'POST', '/api/v1/sockets/2/off', '{"force":"yes"}')).status, 400);
    const longReason = JSON.stringify({ reason: 'x'.repeat(201) });
    assert.equal((await as('boss', 'POST', '/api/v1/sockets/2/off', longReason)).status, 400);
    const duration = await as('boss', 'POST', '/api/v1/sockets/2/cycle', '{"offTime":"soon"}');
    assert.equal(duration.status, 400);
    assert.equal(duration.body.error.code, 'BAD_DURATION');
    const big = await as(
      'boss',
      'POST',
      '/api/v1/sockets/2/off',
      JSON.stringify({ reason: 'x'.repeat(5000) }),
    );
    assert.equal(big.status, 413);
    const text = await as('boss', 'POST', '/api/v1/sockets/2/off', 'off please', {
      'content-type': 'text/plain',
    });
    assert.equal(text.status, 415);
    assert.equal((await as('boss', 'GET', '/api/v1/audit?limit=zero')).status, 400);
    assert.equal((await as('boss', 'POST', '/api/v1/sockets/2/on?wait=maybe')).status, 400);
  });

  test('the event stream gets socketChanged, and its listeners go with the client', async () => {
    const before = fixture.service.events.listenerCount('socketChanged');
    const { req, lines } = await openStream(base, { client: certs.clients.watcher!, ca: certs.ca });
    assert.equal(fixture.service.events.listenerCount('socketChanged'), before + 1);
    // A change made from another interface (the service directly).
    await requests(fixture.service).on(2, { kind: 'panel', id: 'button-2' });
    const event = await lines.next('socketChanged');
    assert.equal(event.socket.number, 2);
    assert.equal(event.socket.on, true);
    req.destroy();
    const deadline = Date.now() + 2000;
    while (fixture.service.events.listenerCount('socketChanged') !== before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(fixture.service.events.listenerCount('socketChanged'), before);
  });

  test('?wait=false answers 202 with the pending work', async () => {
    await requests(fixture.service).on(3, { kind: 'panel', id: 'button-3' });
    const reply = await as('boss', 'POST', '/api/v1/sockets/slow/off?wait=false');
    assert.equal(reply.status, 202, reply.text);
    assert.equal(reply.body.pending.action, 'off');
    assert.deepEqual(reply.body.pending.actor, { kind: 'api', id: 'boss' });
    const busy = await as('boss', 'POST', '/api/v1/sockets/slow/on');
    assert.equal(busy.status, 409);
    assert.equal(busy.body.error.code, 'BUSY');
    await until(fixture.service, 'pending', () => fixture.service.info(3).pending === null);
    assert.equal(fixture.service.info(3).on, false);
  });

  test('all-off needs an admin and leaves protected sockets alone', async () => {
    assert.equal((await as('ci', 'POST', '/api/v1/sockets/all/off')).status, 403);
    const reply = await as('boss', 'POST', '/api/v1/sockets/all/off', '{"reason":"end of day"}');
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.body.skipped, [1]);
  });

  test('an offline board is a 503', async () => {
    fixture.transport.unplug();
    await until(fixture.service, 'boardOffline', () => !fixture.service.status().board.online);
    const reply = await as('boss', 'POST', '/api/v1/sockets/2/on');
    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.code, 'BOARD_OFFLINE');
    const online = once(fixture.service, 'boardOnline');
    fixture.transport.plug();
    await online;
  });
});

describe('API over plain HTTP on loopback', () => {
  test('callers get api.loopbackRole; a non-loopback address without tls is refused', async () => {
    const fixture = await PduFixture.create(SOCKETS);
    const servers: ApiServer[] = [];
    try {
      await fixture.startDaemon();
      const make = (listen: string): ApiServer => {
        const server = new ApiServer({
          config: { listen, clients: {}, loopbackRole: 'operator' },
          service: fixture.service,
          logger: silentLogger(),
        });
        servers.push(server);
        return server;
      };
      await assert.rejects(make('0.0.0.0:0').start(), /not a loopback address: that needs api\.tls/);
      const { url } = await make('127.0.0.1:0').start();
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await call(url, 'GET', '/api/v1/sockets')).status, 200);
      const from = fixture.received.length;
      const on = await call(url, 'POST', '/api/v1/sockets/2/on');
      assert.equal(on.status, 200, on.text);
      assert.match(fixture.switchingLines(from)[0]!, /SET 1 1/);
      assert.equal((await call(url, 'POST', '/api/v1/sockets/pi-self/off')).status, 403);
      assert.equal((await call(url, 'GET', '/api/v1/audit')).status, 403);
      // A port another program holds: said in words, and nothing is left listening.
      const port = new URL(url).port;
      await assert.rejects(
        make(`127.0.0.1:${port}`).start(),
        new RegExp(
          `the API cannot listen on 127\\.0\\.0\\.1:${port}: another program is using that port \\(EADDRINUSE\\)`,
        ),
      );
    } finally {
      for (const server of servers) await server.stop();
      await fixture.dispose();
    }
  });
});

/** Opens the event stream; `lines.next(name)` resolves with the data of the next event of that name. */
async function openStream(
  base: string,
  options: { client: Client; ca: Buffer },
  // biome-ignore lint/suspicious/noExplicitAny: event data, checked field by field
): Promise<{ req: ReturnType<typeof httpsRequest>; lines: { next(name: string): Promise<any> } }> {
  let buffer = '';
  const waiters: Array<{ name: string; resolve: (data: unknown) => void }> = [];
  const events: Array<{ name: string; data: unknown }> = [];
  const deliver = (): void => {
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i]!;
      const index = events.findIndex((event) => event.name === waiter.name);
      if (index < 0) continue;
      waiter.resolve(events.splice(index, 1)[0]!.data);
      waiters.splice(i--, 1);
    }
  };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL('/api/v1/events', base),
      { ca: options.ca, cert: options.client.cert, key: options.client.key, agent: false },
      (res) => {
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /text\/event-stream/);
        res.setEncoding('utf8');
        let opened = false;
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const name = /^event: (.+)$/m.exec(block)?.[1];
            const data = /^data: (.+)$/m.exec(block)?.[1];
            if (name && data) events.push({ name, data: JSON.parse(data) });
            end = buffer.indexOf('\n\n');
          }
          deliver();
          if (!opened) {
            opened = true;
            resolve({
              req,
              lines: {
                next: (name) =>
                  new Promise((done) => {
                    waiters.push({ name, resolve: done });
                    deliver();
                  }),
              },
            });
          }
        });
        res.on('error', () => {});
      },
    );
    req.on('error', (error) => {
      if (!req.destroyed) reject(error);
    });
    req.end();
  });
}
