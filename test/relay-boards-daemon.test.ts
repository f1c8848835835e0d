/**
 * The daemon on the numato and lcus drivers, each over a real pty to the
 * device model in its own process: a restart switches nothing (numato: the
 * module's relays are read; lcus: the assumed mask comes from state.json),
 * and a module that comes back from a power loss is adopted as it reads, not
 * restored (it cannot show a reset).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { createRelayBoard } from '../hardware/index.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { PduService } from '../src/pdu/pdu-service.js';
import { StateStore } from '../src/state/state-store.js';
import { ALICE, once } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const SOCKETS = 'sockets:\n  - { number: 1, restore: on }\n  - { number: 2, restore: last }\n';

async function daemon(dir: string, board: string): Promise<PduService> {
  const config = parseConfig(`version: 1\nboard: ${board}\nstate: { dir: ${dir} }\n${SOCKETS}`, 'pipdu.yaml');
  config.board.switchSpacingMs = 0;
  const logger = silentLogger();
  const store = new StateStore({ dir, logger });
  // As the daemon does (src/daemon.ts): a board that cannot report starts from the saved mask.
  const saved = await store.load();
  const service = new PduService({
    config,
    board: createRelayBoard(config.board, {
      logger,
      assumedMask: saved?.mask ?? 0,
      backoff: { initialMs: 20, maxMs: 100 },
    }),
    store,
    audit: new AuditLog({ dir, maxBytes: 1_000_000, logger }),
    logger,
  });
  const online = once(service, 'boardOnline');
  await service.start();
  await online;
  return service;
}

async function simulator(path: string, args: string[]): Promise<SimulatorProcess> {
  const sim = await startSimulator({ path, args });
  cleanups.push(() => sim.stop());
  return sim;
}

const on = (service: PduService) =>
  service
    .list()
    .filter((socket) => socket.on)
    .map((socket) => socket.number);

const switching = (sim: SimulatorProcess, since: number) =>
  sim.events
    .slice(since)
    .filter((e) => e.event === 'request' && /^(relay (on|off) |A0 )/.test(String(e.line)))
    .map((e) => String(e.line));

test('numato: a restart reads and switches nothing; a module back from a power loss is adopted, not restored', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-numato-daemon-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'relay');
  const args = ['--board', 'numato', '--channels', '8'];
  let sim = await simulator(path, args);
  const board = `{ driver: numato, port: ${path}, channels: 8 }`;
  let service = await daemon(dir, board);
  assert.deepEqual(switching(sim, 0), [], 'first contact switches nothing, not even restore: on');
  await requests(service).on(1, ALICE);
  await requests(service).on(2, ALICE);
  await sim.waitFor((e) => e.event === 'relays' && e.mask === '03', 3000, 0);
  await service.stop();

  const since = sim.events.length;
  service = await daemon(dir, board);
  cleanups.push(() => service.stop());
  assert.deepEqual(on(service), [1, 2]);
  assert.equal(service.list()[0]?.assumed, false, 'read back from the module');
  assert.deepEqual(switching(sim, since), []);

  // Power loss: the module vanishes and comes back with every relay off.
  const offline = once(service, 'boardOffline');
  await sim.kill();
  await offline;
  const online = once(service, 'boardOnline');
  sim = await simulator(path, args);
  await online;
  assert.deepEqual(on(service), [], 'shown as it reads');
  // A switch now goes out after anything the reconnect might have sent (one call at a time).
  await requests(service).on(2, ALICE);
  await sim.waitFor((e) => e.event === 'request' && e.line === 'relay on 1', 3000, 0);
  assert.deepEqual(
    switching(sim, 0),
    ['relay on 1'],
    'restore: on was not applied: the module cannot show a reset',
  );
});

test('lcus: every socket assumed; a restart starts from the saved mask and sends nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-lcus-daemon-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const sim = await simulator(join(dir, 'relay'), ['--board', 'lcus', '--channels', '4']);
  const board = `{ driver: lcus, port: ${sim.path}, channels: 4 }`;
  let service = await daemon(dir, board);
  assert.equal(service.list()[0]?.assumed, true);
  await requests(service).on(2, ALICE);
  await sim.waitFor((e) => e.event === 'relays' && e.mask === '2', 3000, 0);
  await service.stop();
  const since = sim.events.length;
  service = await daemon(dir, board);
  cleanups.push(() => service.stop());
  assert.deepEqual(on(service), [2]);
  assert.deepEqual(switching(sim, since), []);
  const error = await requests(service)
    .on(9, ALICE)
    .then(
      () => null,
      (caught: Error) => caught,
    );
  assert.match(String(error?.message), /channel 8 has no relay: the LCUS board has 4 channels \(0\.\.3\)/);
});

test('an 8-channel module: all on and all off switch its 8 sockets, with no failures for the 8 it has no relay for', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-numato-all-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'relay');
  const sim = await simulator(path, ['--board', 'numato', '--channels', '8']);
  const service = await daemon(dir, `{ driver: numato, port: ${path}, channels: 8 }`);
  cleanups.push(() => service.stop());
  const allOn = await requests(service).allOn(ALICE);
  assert.deepEqual(
    allOn.outcomes.map((outcome) => [outcome.socket, outcome.ok]),
    [1, 2, 3, 4, 5, 6, 7, 8].map((socket) => [socket, true]),
  );
  await sim.waitFor((e) => e.event === 'relays' && e.mask === 'FF', 3000, 0);
  assert.deepEqual(on(service), [1, 2, 3, 4, 5, 6, 7, 8]);
  const allOff = await requests(service).allOff(ALICE, { confirmed: true });
  assert.equal(allOff.outcomes.filter((outcome) => !outcome.ok).length, 0);
  assert.deepEqual(on(service), []);
  // Asked by number, a socket without a relay is one clear refusal.
  await assert.rejects(requests(service).on(9, ALICE), /channel 8 has no relay: the .* has 8 channels/);
});
