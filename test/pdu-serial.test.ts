import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import type { PduError } from '../src/errors.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { ALICE, once, serialDaemon } from './helpers/pdu-fixture.js';
import {
  bootRestoreCase,
  daemonRestartCase,
  simulatorUnderTest,
  switching,
} from './helpers/prp1-driver-cases.js';
import { requests } from './helpers/requests.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

// The whole chain with real parts: Pdu service → prp1 driver → real serialport
// → socat pty → the simulator as its own process. Restart safety and `! BOOT`
// restore are the cases prp1-firmware.test.ts runs against the firmware in the
// emulator (helpers/prp1-driver-cases.ts).

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

test('over a real pty: switch, lose the board mid-call, fail fast, reconnect by itself without switching', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-replug-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const sim = await simulator(join(dir, 'ttyPDU'));
  // restore: off, so that a board coming back all off has nothing to restore.
  const service = await daemonOn(
    sim,
    'sockets:\n  - { number: 3, restore: off }\n  - { number: 7, restore: off }\n',
  );
  assert.deepEqual(switching(sim.requests), [], 'connecting sent no SET or MASK');
  await requests(service).on(3, ALICE);
  await requests(service).on(7, ALICE);
  assert.deepEqual(
    service
      .list()
      .filter((s) => s.on)
      .map((s) => s.number),
    [3, 7],
  );

  await sim.command('delay 300'); // the next reply is late: the call is in flight when the board vanishes
  const offline = once(service, 'boardOffline');
  const inFlight = requests(service).off(3, ALICE);
  await sim.waitFor((event) => event.event === 'request' && String(event.line).endsWith('SET 2 0'), 2000, 0);
  const failed = assert.rejects(inFlight, (error: PduError) => error.code === 'BOARD_OFFLINE');
  const t0 = performance.now();
  await sim.kill();
  await failed;
  await offline;
  await assert.rejects(requests(service).on(5, ALICE), (error: PduError) => error.code === 'BOARD_OFFLINE');
  // The BOARD_OFFLINE codes already show it: a driver that missed the close would time out (BOARD_TIMEOUT).
  assert.ok(performance.now() - t0 < 1500, 'failed before three reply timeouts could pass');
  assert.equal(service.status().board.online, false);

  const back = once(service, 'boardOnline', ({ reconnect }) => reconnect, 10_000);
  const again = await simulator(sim.path); // the device node comes back, as after a USB replug
  await back;
  // The board's reports come over its stdout, the replies over the pty: flush the former.
  await again.command('delay 0');
  assert.deepEqual(
    again.requests.slice(0, 2).map((line) => line.split(' ')[1]),
    ['HELLO', 'STATE'],
  );
  assert.deepEqual(switching(again.requests), [], 'reconnecting sent no SET or MASK');
  // A new simulator process is a board that lost power: it reports all off, and that is the truth now.
  assert.ok(service.list().every((s) => s.on === false));
  assert.equal((await requests(service).on(5, ALICE)).socket.on, true);
});

test('over a real pty: a daemon restart switches nothing; state.json says on, the board off: the board wins', async () =>
  daemonRestartCase(simulatorUnderTest(await simulator()), cleanups));

test('over a real pty: `! BOOT` applies restore policies with switch-ons at least switchSpacingMs apart', async () =>
  bootRestoreCase(simulatorUnderTest(await simulator()), cleanups, SPACING_MS));
