import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import type { SimulatedBoard } from '../hardware/simulated-board.js';
import { ApiServer } from '../src/api/server.js';
import type { ApiConfig } from '../src/config/schema.js';
import type { PduError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import type { Requester } from '../src/pdu/actor.js';
import { type Certs, call, makeCerts } from './helpers/api-client.js';
import { once, PduFixture, until } from './helpers/pdu-fixture.js';
import { requester } from './helpers/requests.js';

// One way in: a request is decided inside its socket's lane, at the moment it
// acts, against the state it acts on. The race that let an operator cut a
// protected socket (an `on` and a `toggle` queued together: the toggle was
// checked while the socket was off, and ran when it was on) is tried through
// the API with client certificates, and at the service; Discord's and the
// panel's are in bot.test.ts and panel.test.ts.

const SOCKETS = `
sockets:
  - { number: 4, name: guarded, protected: true, roles: [op-b], hookTimeout: 3s, preOff: [{ delay: 10s }] }
  - { number: 5, name: web, roles: [op-b], hookTimeout: 1s, preOff: [{ delay: 10s }] }
`;

/** The SETs for a channel the board received since `from`. */
function setsFor(f: PduFixture, channel: number, from = 0): string[] {
  return f
    .switchingLines(from)
    .map((line) => line.split(' ').slice(1).join(' '))
    .filter((line) => line.startsWith(`SET ${channel} `));
}

/** A board that answers every request `ms` late (after switching). */
function slowBoard(f: PduFixture, ms: number): void {
  (f.sim as SimulatedBoard).faults.extraDelayMs = ms;
}

/** Resolves when the board has received a line matching `pattern`. */
function received(f: PduFixture, pattern: RegExp): Promise<void> {
  if (f.received.some((entry) => pattern.test(entry.line))) return Promise.resolve();
  return new Promise((resolve) => {
    const onRequest = (line: string): void => {
      if (!pattern.test(line)) return;
      f.sim.off('request', onRequest);
      resolve();
    };
    f.sim.on('request', onRequest);
  });
}

describe('the race through the API, with client certificates', () => {
  let dir: string;
  let certs: Certs;
  let f: PduFixture;
  let server: ApiServer;
  let base: string;
  const as = (cn: string, path: string, body?: string) =>
    call(base, 'POST', path, { client: certs.clients[cn], ca: certs.ca, body });
  const boss: Requester = requester({ kind: 'api', id: 'boss' }, 'admin');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-oneway-'));
    certs = await makeCerts(join(dir, 'pki'), ['op-b', 'boss']);
    f = await PduFixture.create(SOCKETS);
    await f.startDaemon();
    const config: ApiConfig = {
      listen: '127.0.0.1:0',
      tls: {
        cert: join(dir, 'pki', 'server.crt'),
        key: join(dir, 'pki', 'server.key'),
        ca: join(dir, 'pki', 'ca.crt'),
      },
      clients: { 'op-b': 'operator', boss: 'admin' },
      loopbackRole: 'viewer',
    };
    server = new ApiServer({ config, service: f.service, logger: silentLogger() });
    base = (await server.start()).url;
  });

  after(async () => {
    await server?.stop();
    await f?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    slowBoard(f, 0);
    // Back to off for the next test, as an admin skipping the shutdown delay.
    if (f.service.info(4).on) {
      await f.service.submit({ socket: 4, action: 'off', by: boss, options: { force: true } });
    }
    await until(
      f.service,
      'pending',
      () => f.service.info(4).pending === null && f.service.info(5).pending === null,
    );
  });

  test('an operator sending on and toggle at the same moment never cuts the protected socket (3 tries)', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const from = f.received.length;
      const [on, toggle] = await Promise.all([
        as('op-b', '/api/v1/sockets/4/on'),
        as('op-b', '/api/v1/sockets/4/toggle'),
      ]);
      assert.equal(on.status, 200, on.text);
      // Whichever ran second found the socket on: an on does nothing, a toggle would be an off.
      if (toggle.status !== 200) {
        assert.equal(toggle.status, 403, toggle.text);
        assert.equal(toggle.body.error.code, 'FORBIDDEN');
        assert.match(toggle.body.error.message, /the toggle found socket 4 \(guarded\) on/);
      }
      assert.deepEqual(setsFor(f, 3, from), ['SET 3 1'], 'switched on once, never off');
      assert.equal(f.service.info(4).on, true);
      await f.service.submit({ socket: 4, action: 'off', by: boss, options: { force: true } });
    }
  });

  test("an operator's toggle queued behind an admin's on, on a slow board, is refused when it acts (audited)", async () => {
    slowBoard(f, 300);
    const from = f.received.length;
    const adminOn = as('boss', '/api/v1/sockets/4/on');
    await received(f, / SET 3 1$/);
    // The socket is still shown off: checked on arrival, the toggle would have been an on.
    assert.equal(f.service.info(4).on, false);
    const toggle = await as('op-b', '/api/v1/sockets/4/toggle');
    assert.equal((await adminOn).status, 200);
    assert.equal(toggle.status, 403, toggle.text);
    assert.equal(toggle.body.error.code, 'FORBIDDEN');
    assert.match(toggle.body.error.message, /switch it off.*admin/);
    assert.deepEqual(setsFor(f, 3, from), ['SET 3 1'], 'the protected socket was never cut');
    const [entry] = await f.service.auditLog(1);
    assert.equal(entry?.action, 'toggle');
    assert.equal(entry?.code, 'FORBIDDEN');
    assert.equal(entry?.actor.id, 'op-b');
  });

  test('a lone operator toggle that turns the protected socket on still works', async () => {
    const reply = await as('op-b', '/api/v1/sockets/guarded/toggle');
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.body.changed, true);
    assert.equal(reply.body.socket.on, true);
  });

  test('a toggle that becomes an off with preOff hooks runs as a pipeline: its own pending, progress, Cancel, hookTimeout', async () => {
    slowBoard(f, 200);
    const adminOn = as('boss', '/api/v1/sockets/web/on');
    await received(f, / SET 4 1$/);
    const pending = once(
      f.service,
      'pending',
      ({ socket, pending }) =>
        socket.number === 5 && pending?.actor.id === 'op-b' && pending.direction === 'off',
    );
    const step = once(
      f.service,
      'step',
      ({ socket, step }) => socket.number === 5 && step.status === 'running',
    );
    const toggle = as('op-b', '/api/v1/sockets/web/toggle');
    assert.equal((await adminOn).status, 200);
    const { pending: shown } = await pending;
    assert.equal(shown?.action, 'toggle', 'pending names the request and its own actor');
    assert.equal((await step).step.kind, 'delay', 'progress: the preOff step runs');
    const cancel = await as('op-b', '/api/v1/sockets/web/cancel');
    assert.equal(cancel.status, 200, cancel.text);
    const cancelled = await toggle;
    assert.equal(cancelled.status, 409);
    assert.equal(cancelled.body.error.code, 'CANCELLED');
    assert.equal(f.service.info(5).on, true, 'the relay was not touched');

    // The same toggle again: hookTimeout (1s) ends the 10 s step.
    const timedOut = await as('op-b', '/api/v1/sockets/web/toggle');
    assert.equal(timedOut.status, 504, timedOut.text);
    assert.equal(timedOut.body.error.code, 'TIMEOUT');
    assert.equal(f.service.info(5).on, true);
    await f.service.submit({ socket: 5, action: 'off', by: boss, options: { force: true } });
  });
});

describe('the service decides when the request acts', () => {
  let f: PduFixture;
  const operator = requester({ kind: 'api', id: 'op-b' }, 'operator', ['op-b']);
  const admin = requester({ kind: 'api', id: 'boss' }, 'admin');
  const viewer = requester({ kind: 'api', id: 'vera' }, 'viewer');

  before(async () => {
    f = await PduFixture.create(SOCKETS);
    await f.startDaemon();
  });
  after(() => f?.dispose());

  test('refusals on arrival are audited and switch nothing: a viewer, a force by an operator, no role', async () => {
    const from = f.received.length;
    await assert.rejects(
      f.service.submit({ socket: 5, action: 'on', by: viewer }),
      (error: PduError) => error.code === 'FORBIDDEN' && /viewer/.test(error.message),
    );
    await assert.rejects(
      f.service.submit({ socket: 5, action: 'off', by: operator, options: { force: true } }),
      (error: PduError) => error.code === 'FORBIDDEN' && /admin/.test(error.message),
    );
    await assert.rejects(
      f.service.submit({ socket: 'all', action: 'off', by: operator }),
      (error: PduError) => error.code === 'FORBIDDEN',
    );
    assert.deepEqual(f.switchingLines(from), []);
    const entries = await f.service.auditLog(3);
    assert.deepEqual(
      entries.map((entry) => [entry.action, entry.code]),
      [
        ['on', 'FORBIDDEN'],
        ['off', 'FORBIDDEN'],
        ['all-off', 'FORBIDDEN'],
      ],
    );
  });

  test('an interface that confirms must say so: an unconfirmed protected off is NEEDS_CONFIRMATION, a confirmed one runs', async () => {
    const discordAdmin: Requester = { ...admin, confirms: true };
    await f.service.submit({ socket: 4, action: 'on', by: discordAdmin });
    assert.deepEqual(f.service.preview({ socket: 4, action: 'toggle', by: discordAdmin }), {
      ok: false,
      id: 'needsConfirmation',
      message:
        'socket 4 (guarded) is protected and would switch off: that needs a confirmation; nothing was switched',
    });
    await assert.rejects(
      f.service.submit({ socket: 4, action: 'toggle', by: discordAdmin }),
      (error: PduError) => error.code === 'NEEDS_CONFIRMATION',
    );
    assert.equal(f.service.info(4).on, true);
    const outcome = await f.service.submit({
      socket: 4,
      action: 'off',
      by: discordAdmin,
      options: { confirmed: true, force: true },
    });
    assert.equal(outcome.kind === 'switch' && outcome.result.socket.on, false);
  });

  test('a request whose caller went away while it waited in the lane never acts', async () => {
    slowBoard(f, 200);
    const from = f.received.length;
    const first = f.service.submit({ socket: 6, action: 'on', by: admin });
    const left = new AbortController();
    const queued = f.service.submit({
      socket: 6,
      action: 'off',
      by: admin,
      options: { signal: left.signal },
    });
    left.abort();
    await first;
    slowBoard(f, 0);
    await assert.rejects(
      queued,
      (error: PduError) => error.code === 'CANCELLED' && /went away/.test(error.message),
    );
    assert.deepEqual(setsFor(f, 5, from), ['SET 5 1'], 'only the first request reached the board');
    assert.equal(f.service.info(6).on, true);
  });

  test('joining pending work is checked for the direction joined', async () => {
    await f.service.submit({ socket: 5, action: 'on', by: admin });
    const off = f.service.submit({ socket: 5, action: 'off', by: admin });
    await once(f.service, 'step', ({ socket, step }) => socket.number === 5 && step.status === 'running');
    // A viewer may not join; an operator's force may not either; an operator's plain off joins.
    await assert.rejects(
      f.service.submit({ socket: 5, action: 'toggle', by: viewer }),
      (error: PduError) => error.code === 'FORBIDDEN',
    );
    await assert.rejects(
      f.service.submit({ socket: 5, action: 'off', by: operator, options: { force: true } }),
      (error: PduError) => error.code === 'FORBIDDEN',
    );
    const joined = f.service.submit({ socket: 5, action: 'toggle', by: operator });
    await assert.rejects(
      f.service.submit({ socket: 5, action: 'on', by: operator }),
      (error: PduError) => error.code === 'BUSY',
    );
    await f.service.submit({ socket: 5, action: 'off', by: admin, options: { force: true } });
    const [first, second] = await Promise.all([off, joined]);
    assert.equal(first.kind === 'switch' && first.result.socket.on, false);
    assert.deepEqual(second, first, 'the joined toggle shares the off');
  });
});

describe('cancel on every socket is one request the service decides', () => {
  let f: PduFixture;
  const operator = requester({ kind: 'api', id: 'op-b' }, 'operator', ['op-b']);
  const admin = requester({ kind: 'api', id: 'boss' }, 'admin');

  before(async () => {
    f = await PduFixture.create(`
hooks: { allOffConcurrency: 1 }
sockets:
  - { number: 4, name: slow, hookTimeout: 20s, preOff: [{ delay: 10s }] }
`);
    await f.startDaemon();
  });
  after(() => f?.dispose());

  test('an operator may not stop an all-off (refused, audited, nothing stopped); an admin stops it: the sockets not started stay on', async () => {
    for (const socket of [4, 5, 6]) await f.service.submit({ socket, action: 'on', by: admin });
    const allOff = f.service.submit({
      socket: 'all',
      action: 'off',
      by: admin,
      options: { confirmed: true },
    });
    await until(f.service, 'step', () => f.service.info(4).pending?.step !== undefined, 5000);
    await assert.rejects(
      f.service.submit({ socket: 'all', action: 'cancel', by: operator }),
      (error: PduError) => error.code === 'FORBIDDEN',
    );
    const [refused] = await f.service.auditLog(1);
    assert.deepEqual([refused?.action, refused?.code], ['all-cancel', 'FORBIDDEN']);
    assert.notEqual(f.service.info(4).pending, null, 'still running');

    const outcome = await f.service.submit({ socket: 'all', action: 'cancel', by: admin });
    assert.equal(outcome.kind, 'cancelAll');
    if (outcome.kind !== 'cancelAll') return;
    assert.equal(outcome.stopped, 1);
    assert.deepEqual(
      outcome.cancelled.map((socket) => socket.number),
      [4],
    );
    const done = await allOff;
    assert.equal(done.kind, 'all');
    if (done.kind !== 'all') return;
    // Sockets 1..3 were done before; 4 was running; 5..16 had not started and stay as they are.
    const failed = done.result.outcomes.flatMap((one) => (one.ok ? [] : [[one.socket, one.error.code]]));
    assert.deepEqual(
      failed,
      Array.from({ length: 13 }, (_, k) => [k + 4, 'CANCELLED']),
    );
    assert.deepEqual(
      [4, 5, 6, 7].map((socket) => f.service.info(socket).on),
      [true, true, true, false],
    );
  });
});
