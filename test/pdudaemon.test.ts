import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, pino } from 'pino';
import { PDUDAEMON_INVALID, PDUDAEMON_OK, PdudaemonListener } from '../src/api/pdudaemon.js';
import { runPdudaemonCommand } from '../src/api/pdudaemon-command.js';
import { PDUDAEMON_ACK, PDUDAEMON_NACK, sniffProtocol } from '../src/api/pdudaemon-tcp.js';
import { ApiServer } from '../src/api/server.js';
import { silentLogger } from '../src/log.js';
import { ALICE, PduFixture, until } from './helpers/pdu-fixture.js';
import { requester, requests } from './helpers/requests.js';

// pdudaemon's HTTP interface as LAVA and labgrid call it; the answers are
// pdudaemon's own (httplistener.py in Debian's pdudaemon 0.0.8 package).

let fixture: PduFixture | null = null;
let listener: PdudaemonListener | null = null;
let api: ApiServer | null = null;
afterEach(async () => {
  await listener?.stop();
  await api?.stop();
  await fixture?.dispose();
  listener = null;
  api = null;
  fixture = null;
});

async function start(
  allow = ['127.0.0.1'],
  role: 'viewer' | 'operator' | 'admin' = 'operator',
  logger = silentLogger(),
): Promise<string> {
  fixture = await PduFixture.create('sockets:\n  - { number: 1, protected: true }\n');
  await fixture.startDaemon();
  listener = new PdudaemonListener({
    config: { listen: '127.0.0.1:0', allow, role },
    service: fixture.service,
    logger,
  });
  return (await listener.start()).url;
}

/** A logger whose lines a test can wait for, by message. */
function watchLog(): { logger: Logger; next(msg: string): Promise<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const waiting: Array<{ msg: string; resolve: (line: Record<string, unknown>) => void }> = [];
  const logger = pino(
    { level: 'info' },
    {
      write: (text: string) => {
        const line = JSON.parse(text) as Record<string, unknown>;
        const index = waiting.findIndex((entry) => entry.msg === line.msg);
        if (index === -1) lines.push(line);
        else waiting.splice(index, 1)[0]?.resolve(line);
      },
    },
  );
  return {
    logger,
    next: (msg) => {
      const index = lines.findIndex((line) => line.msg === msg);
      if (index !== -1) return Promise.resolve(lines.splice(index, 1)[0] as Record<string, unknown>);
      return new Promise((resolve) => waiting.push({ msg, resolve }));
    },
  };
}

/** A request with its path sent as written (no URL parsing on the way). */
function raw(base: string, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    request({ host: hostname, port, method, path }, (response) => {
      let body = '';
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** One request of pdudaemon's TCP protocol, written in one write as pduclient does; resolves the answer. */
function tcp(base: string, line: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(line));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      let body = '';
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('on, off and reboot as pdudaemon answers them, and only after the switch happened', async () => {
  const base = await start();
  const on = await get(`${base}/power/control/on?hostname=pipdu&port=5`);
  assert.deepEqual(on, { status: 200, body: PDUDAEMON_OK });
  assert.equal(fixture!.service.info(5).on, true, 'switched before the answer');
  const off = await get(`${base}/power/control/off?hostname=pipdu&port=5`);
  assert.deepEqual(off, { status: 200, body: PDUDAEMON_OK });
  assert.equal(fixture!.service.info(5).on, false);
  await requests(fixture!.service).on(5, ALICE);
  const from = fixture!.received.length;
  const reboot = await get(`${base}/power/control/reboot?hostname=pipdu&port=5&delay=0`);
  assert.deepEqual(reboot, { status: 200, body: PDUDAEMON_OK });
  assert.deepEqual(
    fixture!.switchingLines(from).map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 4 0', 'SET 4 1'],
  );
  const [entry] = await fixture!.service.auditLog(1);
  assert.deepEqual([entry?.actor.kind, entry?.action], ['pdudaemon', 'cycle']);
});

test('bad requests get pdudaemon\'s 500 "Invalid request" and switch nothing', async () => {
  const base = await start();
  for (const bad of [
    '/power/control/on?hostname=other-pdu&port=5',
    '/power/control/on?hostname=pipdu&port=17',
    '/power/control/on?hostname=pipdu',
    '/power/control/on?hostname=pipdu&port=x',
    '/power/control/on?hostname=pipdu&port=5&delay=-1',
    '/power/control/on?hostname=pipdu&port=5&delay=0x1',
    '/power/control/on?hostname=pipdu&port=5&delay=',
    '/power/control/on?hostname=pipdu&port=5&delay=1e0',
    '/power/control/on?hostname=pipdu&port=5&delay=3601',
    '/power/control/reboot?hostname=pipdu&port=5&delay=0x1',
    '/power/control/on?hostname=pipdu&port=0x5',
    '/power/control/on?alias=nas',
    '/power/control/off?hostname=pipdu&port=1', // protected: an operator may not switch it off
  ]) {
    assert.deepEqual(await get(`${base}${bad}`), { status: 500, body: PDUDAEMON_INVALID }, bad);
  }
  assert.equal((await get(`${base}/power/control/dance?hostname=pipdu&port=5`)).status, 404);
  // A path means what it says: this one is not /power/control/on.
  for (const dotted of [
    '/power/control/../control/on',
    '/power/control/%2e/on',
    '/x/%2E%2e/power/control/on',
  ]) {
    assert.equal((await raw(base, 'GET', `${dotted}?hostname=pipdu&port=5`)).status, 404, dotted);
  }
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('a source address not in the allow list gets 403, every time', async () => {
  const base = await start(['10.0.0.0/8']);
  for (let attempt = 1; attempt <= 3; attempt++) {
    const answer = await get(`${base}/power/control/on?hostname=pipdu&port=5`);
    assert.equal(answer.status, 403, `attempt ${attempt}`);
  }
  assert.equal(fixture!.service.info(5).on, false);
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('a client that goes away during its delay never switches later', async () => {
  const base = await start();
  const pending = request(`${base}/power/control/on?hostname=pipdu&port=6&delay=1`);
  pending.on('error', () => undefined);
  pending.end();
  await new Promise((resolve) => pending.once('socket', (socket) => socket.once('connect', resolve)));
  pending.destroy();
  // Proving a negative: wait out the delay (1 s) and a margin, then look.
  await sleep(1500);
  assert.equal(fixture!.service.info(6).on, false);
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('the TCP protocol on the same port: on, off and reboot answered ack once switched', async () => {
  const base = await start();
  assert.equal(await tcp(base, 'pipdu 5 on'), PDUDAEMON_ACK);
  assert.equal(fixture!.service.info(5).on, true, 'switched before the answer');
  assert.equal(await tcp(base, 'pipdu 05 off\n'), PDUDAEMON_ACK);
  assert.equal(fixture!.service.info(5).on, false);
  await requests(fixture!.service).on(5, ALICE);
  const from = fixture!.received.length;
  assert.equal(await tcp(base, 'pipdu 5 reboot 0'), PDUDAEMON_ACK);
  assert.deepEqual(
    fixture!.switchingLines(from).map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 4 0', 'SET 4 1'],
  );
  const [entry] = await fixture!.service.auditLog(1);
  assert.deepEqual([entry?.actor.kind, entry?.actor.id, entry?.action], ['pdudaemon', '127.0.0.1', 'cycle']);
  // HTTP still works on the same port after TCP connections.
  assert.deepEqual(await get(`${base}/power/control/on?hostname=pipdu&port=6`), {
    status: 200,
    body: PDUDAEMON_OK,
  });
});

test('bad TCP requests get nack and switch nothing', async () => {
  const base = await start();
  for (const bad of [
    'pipdu 5',
    'pipdu 5 on 1 2',
    'other-pdu 5 on',
    'pipdu 17 on',
    'pipdu x on',
    'pipdu 5 dance',
    'pipdu 5 on 0x1',
    'pipdu 5 on -1',
    'pipdu 5 reboot 1e0',
    'pipdu 1 off', // protected: an operator may not switch it off
    'pipdu 1 reboot',
    'GET 5 on', // a PDU named like an HTTP method is still the TCP protocol
  ]) {
    assert.equal(await tcp(base, bad), PDUDAEMON_NACK, bad);
  }
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('a TCP client not in the allow list gets nack and switches nothing', async () => {
  const base = await start(['10.0.0.0/8']);
  assert.equal(await tcp(base, 'pipdu 5 on'), PDUDAEMON_NACK);
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('a viewer role switches nothing over either protocol', async () => {
  const base = await start(['127.0.0.1'], 'viewer');
  assert.equal(await tcp(base, 'pipdu 5 on'), PDUDAEMON_NACK);
  assert.equal((await get(`${base}/power/control/on?hostname=pipdu&port=5`)).status, 500);
  assert.deepEqual(fixture!.switchingLines(), []);
  const [entry] = await fixture!.service.auditLog(1);
  assert.deepEqual([entry?.result, entry?.code], ['error', 'FORBIDDEN']);
});

test('a TCP client that goes away during its delay never switches later', async () => {
  const log = watchLog();
  const base = await start(['127.0.0.1'], 'operator', log.logger);
  const { hostname, port } = new URL(base);
  const socket = connect({ host: hostname, port: Number(port) }, () => socket.write('pipdu 6 on 1'));
  await log.next('pdudaemon TCP request');
  socket.destroy();
  const left = await log.next('pdudaemon client went away');
  assert.match(String(left.why), /nothing switched/);
  // Proving a negative: wait out the rest of the delay (1 s) and a margin, then look.
  await sleep(1200);
  assert.equal(fixture!.service.info(6).on, false);
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('a reboot whose client leaves during the off-time still comes back on', async () => {
  const base = await start();
  await requests(fixture!.service).on(5, ALICE);
  const from = fixture!.received.length;
  const pending = request(`${base}/power/control/reboot?hostname=pipdu&port=5&delay=1`);
  pending.on('error', () => undefined);
  pending.end();
  await until(fixture!.service, 'socketChanged', () => fixture!.service.info(5).on === false);
  pending.destroy();
  await until(fixture!.service, 'socketChanged', () => fixture!.service.info(5).on === true);
  assert.deepEqual(
    fixture!.switchingLines(from).map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 4 0', 'SET 4 1'],
  );
  // Over TCP too.
  const socket = connect({ host: '127.0.0.1', port: Number(new URL(base).port) }, () =>
    socket.write('pipdu 5 reboot 1'),
  );
  socket.on('error', () => undefined);
  await until(fixture!.service, 'socketChanged', () => fixture!.service.info(5).on === false);
  socket.destroy();
  await until(fixture!.service, 'socketChanged', () => fixture!.service.info(5).on === true);
  assert.deepEqual(
    fixture!.switchingLines(from).map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 4 0', 'SET 4 1', 'SET 4 0', 'SET 4 1'],
  );
});

test('a reboot whose client left before its off never starts', async () => {
  fixture = await PduFixture.create();
  await fixture.startDaemon();
  await requests(fixture.service).on(5, ALICE);
  const from = fixture.received.length;
  const left = new AbortController();
  left.abort();
  const outcome = await runPdudaemonCommand({
    service: fixture.service,
    by: requester({ kind: 'pdudaemon', id: '127.0.0.1' }, 'operator', ['127.0.0.1']),
    hostname: 'pipdu',
    command: 'reboot',
    port: '5',
    delay: '0',
    signal: left.signal,
  });
  assert.deepEqual(outcome, {
    ok: false,
    kind: 'gone',
    reason: 'the client went away before its switch started: nothing switched',
  });
  assert.equal(fixture.service.info(5).on, true);
  assert.deepEqual(fixture.switchingLines(from), []);
});

test('which protocol a connection speaks, from its first bytes', () => {
  const cases: Array<[string, ReturnType<typeof sniffProtocol>]> = [
    ['GET /power/control/on?hostname=pipdu&port=1 HTTP/1.1\r\n', 'http'],
    ['POST /api HTTP/1.1', 'http'],
    ['OPTIONS * HTTP/1.1', 'http'],
    ['G', 'more'],
    ['GET', 'more'],
    ['GET ', 'more'],
    ['GET 5 on', 'tcp'],
    ['pipdu 5 on', 'tcp'],
    ['get /x', 'tcp'],
    ['Gx', 'tcp'],
  ];
  for (const [head, expected] of cases) assert.equal(sniffProtocol(Buffer.from(head)), expected, head);
});

test('the HTTPS API refuses paths with . or .. segments instead of resolving them', async () => {
  fixture = await PduFixture.create();
  await fixture.startDaemon();
  api = new ApiServer({
    config: { listen: '127.0.0.1:0', clients: {}, loopbackRole: 'admin' },
    service: fixture.service,
    logger: silentLogger(),
  });
  const { url } = await api.start();
  for (const path of [
    '/api/v1/sockets/3/../../sockets/all/on',
    '/api/v1/sockets/3/%2e%2e/%2E%2E/sockets/all/on',
    '/api/v1/sockets/3/.%2e/..%2E/sockets/all/on',
    '/api/v1/sockets/./3/on',
    '/api/v1/sockets/3/..\\..\\sockets/all/on',
  ]) {
    const answer = await raw(url, 'POST', path);
    assert.equal(answer.status, 400, path);
    assert.deepEqual(JSON.parse(answer.body), {
      error: { code: 'BAD_REQUEST', message: 'a request path may not have "." or ".." segments' },
    });
  }
  assert.equal((await raw(url, 'GET', '/api/v1/sockets/../ping')).status, 400);
  // The plain paths still work, and names with dots in them are not segments.
  assert.equal((await raw(url, 'GET', '/api/v1/sockets/3')).status, 200);
  assert.equal((await raw(url, 'GET', '/api/v1/sockets/...')).status, 404);
  assert.deepEqual(fixture.switchingLines(), []);
});
