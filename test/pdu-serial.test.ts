import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import type { PduError } from '../src/errors.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { ALICE, once, serialDaemon, until } from './helpers/pdu-fixture.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

// The whole chain with real parts: Pdu service → prp1 driver → real serialport
// → socat pty → the simulator as its own process.

const SPACING_MS = 40;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function daemonOn(sim: SimulatorProcess, sockets = ''): Promise<PduService> {
  return serialDaemon(sim.path, sockets, cleanups, { switchSpacingMs: SPACING_MS });
}

async function simulator(path?: string): Promise<SimulatorProcess> {
  const sim = await startSimulator(path ? { path } : {});
  cleanups.push(() => sim.stop());
  return sim;
}

const switching = (requests: string[]) => requests.filter((line) => / (SET|MASK) /.test(line));

test('over a real pty: switch, lose the board mid-call, fail fast, reconnect by itself without switching', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-replug-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const sim = await simulator(join(dir, 'ttyPDU'));
  const service = await daemonOn(sim);
  assert.deepEqual(switching(sim.requests), [], 'connecting sent no SET or MASK');
  await service.on(3, ALICE);
  await service.on(7, ALICE);
  assert.deepEqual(
    service
      .list()
      .filter((s) => s.on)
      .map((s) => s.number),
    [3, 7],
  );

  await sim.command('delay 300'); // the next reply is late: the call is in flight when the board vanishes
  const offline = once(service, 'boardOffline');
  const inFlight = service.off(3, ALICE);
  await sim.waitFor((event) => event.event === 'request' && String(event.line).endsWith('SET 2 0'), 2000, 0);
  const failed = assert.rejects(inFlight, (error: PduError) => error.code === 'BOARD_OFFLINE');
  const t0 = performance.now();
  await sim.kill();
  await failed;
  await offline;
  await assert.rejects(service.on(5, ALICE), (error: PduError) => error.code === 'BOARD_OFFLINE');
  // The BOARD_OFFLINE codes already show it: a driver that missed the close would time out (BOARD_TIMEOUT).
  assert.ok(performance.now() - t0 < 1500, 'failed before three reply timeouts could pass');
  assert.equal(service.status().board.online, false);

  const back = once(service, 'boardOnline', ({ reconnect }) => reconnect, 10_000);
  const again = await simulator(sim.path); // the device node comes back, as after a USB replug
  await back;
  assert.deepEqual(
    again.requests.slice(0, 2).map((line) => line.split(' ')[1]),
    ['HELLO', 'STATE'],
  );
  assert.deepEqual(switching(again.requests), [], 'reconnecting sent no SET or MASK');
  // A new simulator process is a board that lost power: it reports all off, and that is the truth now.
  assert.ok(service.list().every((s) => s.on === false));
  assert.equal((await service.on(5, ALICE)).socket.on, true);
});

test('over a real pty: `! BOOT` applies restore policies with switch-ons at least switchSpacingMs apart', async () => {
  const sim = await simulator();
  const service = await daemonOn(
    sim,
    `sockets:
  - { number: 2, restore: last }
  - { number: 3, restore: last }
  - { number: 4, restore: last }
  - { number: 5, restore: off }
  - { number: 6, restore: on }
`,
  );
  for (const socket of [2, 3, 4, 5]) await service.on(socket, ALICE);
  let restored = 0;
  service.events.on('socketChanged', ({ cause, socket }) => {
    if (cause === 'restore' && socket.on) restored++;
  });
  const reset = once(service, 'boardReset');
  const since = sim.events.length;
  sim.signal('SIGUSR1');
  const { mask } = await reset;
  assert.equal(mask, 1 << 5, 'the board came up with its power-up mask: socket 6 (restore: on)');
  await until(service, 'socketChanged', () => restored === 3, 10_000);
  assert.deepEqual(
    service
      .list()
      .filter((s) => s.on)
      .map((s) => s.number),
    [2, 3, 4, 6],
  );
  // Timed where it matters, when the board received each switch-on (the host
  // sends them at least S apart; 1 ms allows for the pty's delivery jitter).
  const lastOn = await sim.waitFor(
    (e) => e.event === 'request' && / SET 3 1$/.test(String(e.line)),
    5000,
    since,
  );
  const ons = sim.events
    .slice(since, sim.events.indexOf(lastOn) + 1)
    .filter((e) => e.event === 'request' && / SET \d+ 1$/.test(String(e.line)));
  assert.deepEqual(
    ons.map((e) => String(e.line).split(' ').slice(1).join(' ')),
    ['SET 1 1', 'SET 2 1', 'SET 3 1'],
  );
  for (let i = 1; i < ons.length; i++) {
    const gap = Number(ons[i]!.at) - Number(ons[i - 1]!.at);
    assert.ok(gap >= SPACING_MS - 1, `the board saw switch-ons ${gap.toFixed(1)} ms apart`);
  }
  await until(service, 'pending', () => service.list().every((s) => s.pending === null));
  const audit = await service.auditLog(3);
  assert.equal(audit.length, 3);
  assert.ok(audit.every((entry) => entry.actor.kind === 'system' && entry.details?.restore === 'last'));
});
