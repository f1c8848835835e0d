import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import type { SimulatedBoard } from '../hardware/simulated-board.js';
import type { PduError } from '../src/errors.js';
import type { SocketInfo } from '../src/pdu/types.js';
import { ALICE, once, PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

const SOCKETS = `
sockets:
  - { number: 1, name: router, protected: true, restore: on }
  - { number: 2, name: nas, restore: last }
  - { number: 3, name: lamp, restore: off }
  - { number: 4, name: fan, restore: last, offTime: 50ms }
  - { number: 9, name: swapped, channel: 15 }
  - { number: 16, channel: 8 }
`;

let fixture: PduFixture | null = null;
afterEach(async () => {
  await fixture?.dispose();
  fixture = null;
});

async function started(extra = SOCKETS, options: { legacy?: boolean } = {}): Promise<PduFixture> {
  fixture = await PduFixture.create(extra, options);
  await fixture.startDaemon();
  return fixture;
}

function sim(f: PduFixture): SimulatedBoard {
  return f.sim as SimulatedBoard;
}

function onNumbers(sockets: SocketInfo[]): number[] {
  return sockets.filter((socket) => socket.on).map((socket) => socket.number);
}

test('first contact adopts the board state and switches nothing', async () => {
  const f = await started();
  assert.equal(f.service.status().board.online, true);
  assert.deepEqual(f.switchingLines(), []);
  assert.deepEqual(
    f.linesSince(0).map((line) => line.split(' ')[1]),
    ['HELLO', 'STATE', 'DEFAULT', 'DEFAULT'],
    'HELLO then STATE, then the power-up mask check and its update (restore: on sockets)',
  );
  assert.equal(sim(f).storedPowerUpMask, 0b1, 'the power-up mask is the restore: on sockets (socket 1)');
  assert.ok(f.service.list().every((socket) => socket.on === false && !socket.assumed));
});

test('sockets are addressed by number, digits or name; an unknown one is refused and nothing is sent', async () => {
  const f = await started();
  assert.equal(f.service.info('nas').number, 2);
  assert.equal(f.service.info('2').name, 'nas');
  assert.equal(f.service.info(16).channel, 8);
  const before = f.received.length;
  for (const bad of ['17', 0, 'nsa', '']) {
    await assert.rejects(
      () => requests(f.service).on(bad, ALICE),
      (error: PduError) => error.code === 'UNKNOWN_SOCKET' && error.message.includes(String(bad)),
    );
  }
  // `all` is every socket, for on and off only.
  await assert.rejects(
    () => requests(f.service).toggle('all', ALICE),
    (error: PduError) => error.code === 'BAD_REQUEST' && /on or off/.test(error.message),
  );
  assert.equal(f.received.length, before, 'nothing reached the board');
});

test('on, off and toggle drive the configured channel, report the board mask, emit, audit and save', async () => {
  const f = await started();
  const changes: Array<{ number: number; on: boolean | null; cause: string }> = [];
  f.service.events.on('socketChanged', ({ socket, cause }) =>
    changes.push({ number: socket.number, on: socket.on, cause }),
  );

  const on = await requests(f.service).on('swapped', ALICE);
  assert.equal(on.changed, true);
  assert.equal(on.socket.on, true);
  assert.equal(sim(f).relays, 1 << 15, 'socket 9 is wired to channel 15');

  const again = await requests(f.service).on(9, ALICE);
  assert.equal(again.changed, false, 'already on: nothing to switch');

  const toggled = await requests(f.service).toggle('9', ALICE);
  assert.equal(toggled.socket.on, false);
  await requests(f.service).toggle('lamp', ALICE);
  const off = await requests(f.service).off('lamp', ALICE, { reason: 'bedtime' });
  assert.equal(off.socket.on, false);
  assert.equal(sim(f).relays, 0);

  assert.deepEqual(changes, [
    { number: 9, on: true, cause: 'command' },
    { number: 9, on: false, cause: 'command' },
    { number: 3, on: true, cause: 'command' },
    { number: 3, on: false, cause: 'command' },
  ]);
  const audit = await f.service.auditLog(10);
  assert.deepEqual(
    audit.map((entry) => [entry.action, entry.socket, entry.result]),
    [
      ['on', 9, 'ok'],
      ['on', 9, 'ok'],
      ['toggle', 9, 'ok'],
      ['toggle', 3, 'ok'],
      ['off', 3, 'ok'],
    ],
  );
  assert.deepEqual(audit[4]?.actor, ALICE);
  assert.equal(audit[4]?.details?.reason, 'bedtime');
  assert.equal(audit[4]?.socketName, 'lamp');
  await f.store.flush();
  const saved = JSON.parse(await readFile(join(f.dir, 'state.json'), 'utf8'));
  assert.equal(saved.mask, 0);
  assert.equal(saved.bootId, sim(f).bootId);
});

test('50 concurrent calls on one socket run one at a time, in order, and none is lost', async () => {
  const f = await started();
  const from = f.received.length;
  let running = 0;
  let overlapped = false;
  f.service.events.on('pending', ({ pending }) => {
    if (pending && pending.requests > 50) overlapped = true;
  });
  const calls = Array.from({ length: 50 }, (_, n) => {
    running++;
    const call =
      n % 5 === 4 ? requests(f.service).off('nas', ALICE) : requests(f.service).toggle('nas', ALICE);
    return call.finally(() => running--);
  });
  const results = await Promise.all(calls);
  assert.equal(results.length, 50);
  assert.equal(running, 0);
  assert.equal(overlapped, false);
  // Replay the sequence to know the only consistent final state.
  let expected = false;
  for (let n = 0; n < 50; n++) expected = n % 5 === 4 ? false : !expected;
  assert.equal(f.service.info('nas').on, expected);
  assert.equal((sim(f).relays & 0b10) !== 0, expected, 'the board agrees');
  const sets = f.linesSince(from).filter((line) => line.includes(' SET 1 '));
  const expectedSets = results.filter((result) => result.changed).length;
  assert.equal(sets.length, expectedSets, 'one SET per change, nothing doubled');
  const audit = await f.service.auditLog(100);
  assert.equal(audit.filter((entry) => entry.socket === 2).length, 50, 'every call is audited');
  assert.equal(f.service.info('nas').pending, null);
});

test('all-on switches every socket with at least switchSpacingMs between switch-ons', async () => {
  const f = await started();
  const from = f.received.length;
  const result = await requests(f.service).allOn(ALICE);
  assert.equal(result.outcomes.length, 16);
  assert.ok(result.outcomes.every((outcome) => outcome.ok));
  assert.equal(sim(f).relays, 0xffff);
  const sets = f.received.slice(from).filter((entry) => / SET \d+ 1$/.test(entry.line));
  assert.equal(sets.length, 16);
  for (let i = 1; i < sets.length; i++) {
    const gap = sets[i]!.at - sets[i - 1]!.at;
    assert.ok(gap >= 30 - 0.5, `gap ${gap.toFixed(1)} ms between switch-ons is under switchSpacingMs`);
  }
  const audit = await f.service.auditLog(1);
  assert.equal(audit[0]?.action, 'all-on');
  assert.equal(audit[0]?.result, 'ok');
});

test('all-off leaves protected sockets alone unless asked for explicitly', async () => {
  const f = await started();
  await requests(f.service).allOn(ALICE);
  const result = await requests(f.service).allOff(ALICE, { reason: 'maintenance' });
  assert.deepEqual(result.skipped, [1]);
  assert.deepEqual(onNumbers(f.service.list()), [1]);
  await requests(f.service).allOff(ALICE, { includeProtected: true });
  assert.deepEqual(onNumbers(f.service.list()), []);
  assert.equal(sim(f).relays, 0);
});

test('cycle switches off, waits the off-time, switches on; a bad off-time is refused', async () => {
  const f = await started();
  await requests(f.service).on('fan', ALICE);
  const from = f.received.length;
  const started_ = performance.now();
  const result = await requests(f.service).cycle('fan', ALICE);
  const elapsed = performance.now() - started_;
  assert.equal(result.socket.on, true);
  const lines = f.received.slice(from).filter((entry) => entry.line.includes(' SET 3 '));
  assert.deepEqual(
    lines.map((entry) => entry.line.split(' ').slice(1).join(' ')),
    ['SET 3 0', 'SET 3 1'],
  );
  assert.ok(lines[1]!.at - lines[0]!.at >= 49, 'the off-time (50ms) passed between off and on');
  assert.ok(elapsed >= 50);
  await assert.rejects(
    () => requests(f.service).cycle('fan', ALICE, { offTimeMs: -1 }),
    (error: PduError) => error.code === 'BAD_DURATION',
  );
});

test('a board reset applies each socket restore policy, switch-ons staggered, and keeps the power-up mask', async () => {
  const f = await started();
  await requests(f.service).on('nas', ALICE); // restore: last → back on
  await requests(f.service).on('lamp', ALICE); // restore: off → stays off
  await requests(f.service).on('fan', ALICE); // restore: last → back on
  await requests(f.service).off('router', ALICE); // protected, restore: on → on
  const from = f.received.length;
  const resets: boolean[] = [];
  f.service.events.on('boardReset', ({ resetOnOpen }) => resets.push(resetOnOpen));
  const reset = once(f.service, 'boardReset');
  sim(f).reset();
  const { mask } = await reset;
  assert.equal(mask, 0b1, 'the board came up with its power-up mask: the restore: on socket');
  await until(
    f.service,
    'socketChanged',
    () => f.service.info('fan').on === true && f.service.info('nas').on === true,
  );
  await until(f.service, 'pending', () => f.service.list().every((socket) => socket.pending === null));
  assert.equal(resets.length, 1);
  assert.deepEqual(onNumbers(f.service.list()), [1, 2, 4]);
  assert.equal(sim(f).relays, 0b1011);
  const ons = f.received.slice(from).filter((entry) => / SET \d+ 1$/.test(entry.line));
  assert.equal(ons.length, 2, 'router came up by itself from the power-up mask; nas and fan were restored');
  assert.ok(ons[1]!.at - ons[0]!.at >= 29.5, 'restores are staggered by switchSpacingMs');
  const audit = await f.service.auditLog(2);
  assert.deepEqual(
    audit.map((entry) => [entry.actor.kind, entry.action, entry.details?.restore]),
    [
      ['system', 'on', 'last'],
      ['system', 'on', 'last'],
    ],
  );
});

test('a daemon restart switches nothing and adopts what the board reports', async () => {
  const f = await started();
  await requests(f.service).on('nas', ALICE);
  await requests(f.service).on('lamp', ALICE);
  await f.service.stop();
  const from = f.received.length;
  await f.startDaemon();
  assert.deepEqual(f.switchingLines(from), []);
  assert.deepEqual(onNumbers(f.service.list()), [2, 3]);
});

test('a board that reset while the daemon was away is detected by its boot id and restored', async () => {
  const f = await started();
  await requests(f.service).on('nas', ALICE);
  await requests(f.service).on('lamp', ALICE);
  await f.service.stop();
  sim(f).reset(); // its `! BOOT` goes nowhere: nobody has the port open
  assert.equal(sim(f).relays, 0b1, 'the board came up with its power-up mask');
  const from = f.received.length;
  await f.startDaemon();
  await until(f.service, 'socketChanged', () => f.service.info('nas').on === true);
  assert.deepEqual(f.switchingLines(from), [expect1SetLine(f, from)]);
  assert.deepEqual(onNumbers(f.service.list()), [1, 2]);
});

function expect1SetLine(f: PduFixture, from: number): string {
  const line = f.linesSince(from).find((l) => l.endsWith('SET 1 1'));
  assert.ok(line, 'nas (channel 1) was restored with a SET');
  return line;
}

test('while the board is offline calls fail at once and change nothing; it comes back by itself', async () => {
  const f = await started();
  await requests(f.service).on('nas', ALICE);
  const offline = once(f.service, 'boardOffline');
  f.transport.unplug();
  await offline;
  const t0 = performance.now();
  await assert.rejects(
    () => requests(f.service).off('nas', ALICE),
    (error: PduError) => error.code === 'BOARD_OFFLINE' && /offline/.test(error.message),
  );
  await assert.rejects(
    () => requests(f.service).allOff(ALICE),
    (error: PduError) => error.code === 'BOARD_OFFLINE',
  );
  assert.ok(performance.now() - t0 < 500, 'failed without waiting for a reply timeout');
  assert.equal(f.service.info('nas').on, true, 'last known state is kept');
  const back = once(f.service, 'boardOnline', ({ reconnect }) => reconnect);
  f.transport.plug();
  await back;
  assert.equal((await requests(f.service).off('nas', ALICE)).socket.on, false);
});

test('telemetry gives current and watts at the configured mains voltage', async () => {
  const f = await started(`${SOCKETS}mainsVoltage: 120\n`);
  await requests(f.service).on('fan', ALICE);
  await until(f.service, 'telemetry', () => (f.service.info('fan').currentMa ?? 0) > 0);
  const fan = f.service.info('fan');
  assert.ok(fan.currentMa! > 700 && fan.currentMa! < 900, `fan draws about 800 mA, got ${fan.currentMa}`);
  assert.equal(fan.watts, Math.round((fan.currentMa! / 1000) * 120 * 10) / 10);
  const lamp = f.service.info('lamp');
  assert.equal(lamp.currentMa, 0);
  assert.ok((f.service.status().totalWatts ?? 0) >= fan.watts!);
});

test('stop() finishes the call in flight, refuses what waits, and switches nothing itself', async () => {
  const f = await started();
  sim(f).faults.extraDelayMs = 40;
  const first = requests(f.service).on('nas', ALICE);
  const second = requests(f.service).on('lamp', ALICE);
  const queued = requests(f.service).off('nas', ALICE);
  assert.equal(f.service.info('nas').pending?.requests, 2, 'one in flight, one waiting');
  const stopping = f.service.stop();
  await assert.rejects(
    () => queued,
    (error: PduError) => error.code === 'STOPPED',
  );
  assert.equal((await first).socket.on, true);
  assert.equal((await second).socket.on, true);
  await stopping;
  assert.equal(sim(f).relays, 0b110, 'the queued off never reached the board');
  await assert.rejects(
    () => requests(f.service).on('fan', ALICE),
    (error: PduError) => error.code === 'STOPPED',
  );
});

test('on a board that cannot report state (legacy) every socket is assumed, from the saved state', async () => {
  const f = await started(SOCKETS, { legacy: true });
  assert.ok(f.service.list().every((socket) => socket.assumed));
  await requests(f.service).on('nas', ALICE);
  assert.deepEqual(f.switchingLines(), ['B']);
  await f.service.stop();
  await f.startDaemon();
  assert.equal(f.service.info('nas').on, true, 'the assumed state survives a restart');
  assert.equal(f.service.info('nas').assumed, true);
});
