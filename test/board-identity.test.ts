import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { createDaemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { ALICE, once, serialDaemon } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

// A state file belongs to one board (docs/decisions.md #13): its driver, port
// and serial. A file from another board is first contact: adopt what the board
// reports, switch nothing. Only the same board with a new boot id is a reset.
// Real parts: the simulator as its own process on a socat pty, the prp1 driver.

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const SOCKETS = 'sockets:\n  - { number: 3, restore: last }\n  - { number: 4, restore: off }\n';

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-identity-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function simulator(path: string | undefined, args: string[]): Promise<SimulatorProcess> {
  const sim = await startSimulator(path ? { path, args } : { args });
  cleanups.push(() => sim.stop());
  return sim;
}

/** The SET and MASK lines the board received (its reports, flushed first: they come over its stdout). */
async function switching(sim: SimulatorProcess): Promise<string[]> {
  await sim.command('delay 0');
  return sim.requests
    .filter((line) => / (SET|MASK) /.test(line))
    .map((line) => line.split(' ').slice(1).join(' '));
}

async function savedBoard(dir: string): Promise<unknown> {
  return (JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { board: unknown }).board;
}

const on = (service: PduService) =>
  service
    .list()
    .filter((socket) => socket.on)
    .map((socket) => socket.number);

/** A daemon on the board at `path`, switches socket 3 on, and stops: state.json says 3 was on. */
async function firstRun(dir: string, sim: SimulatorProcess): Promise<void> {
  const service = await serialDaemon(sim.path, SOCKETS, [], { stateDir: dir });
  await requests(service).on(3, ALICE);
  await service.stop();
}

test("the built-in simulator's state, then a real board with its relays on and no reset: adopted, nothing switched", async () => {
  const dir = await stateDir();
  // `npm start` without a config first: the built-in simulator writes state.json (its own board).
  const config = parseConfig(
    `version: 1\nboard: { driver: simulator }\nstate: { dir: ${dir} }\n`,
    'try.yaml',
  );
  const trial = await createDaemon(config, { logger: silentLogger() });
  const online = once(trial.service, 'boardOnline');
  await trial.start();
  await online;
  await trial.stop();
  assert.deepEqual(((await savedBoard(dir)) as { driver: string }).driver, 'simulator');

  // Then a board that was left with every relay on, and is not reset.
  const sim = await simulator(undefined, ['--power-up-mask', 'FFFF']);
  const service = await serialDaemon(sim.path, SOCKETS, cleanups, { stateDir: dir });
  await service.settled();
  assert.deepEqual(await switching(sim), [], 'no SET and no MASK: the live sockets stay live');
  assert.deepEqual(
    on(service),
    Array.from({ length: 16 }, (_, i) => i + 1),
    'all 16 adopted as on',
  );
  await service.stop(); // writes what is pending
  assert.deepEqual(await savedBoard(dir), { driver: 'prp1', port: sim.path, serial: sim.serial });
});

test('another serial on the same port is another board: first contact, nothing restored', async () => {
  const dir = await stateDir();
  const first = await simulator(join(dir, 'ttyPDU'), ['--serial', '1111AAAA1111AAAA']);
  await firstRun(dir, first);
  const path = first.path;
  await first.kill();
  const other = await simulator(path, ['--serial', '2222BBBB2222BBBB']);
  const service = await serialDaemon(path, SOCKETS, cleanups, { stateDir: dir });
  await service.settled();
  assert.deepEqual(await switching(other), [], 'socket 3 (restore: last) was not switched on');
  assert.deepEqual(on(service), []);
  await service.stop();
  assert.equal(((await savedBoard(dir)) as { serial: string }).serial, '2222BBBB2222BBBB');
});

test('the same serial with a new boot id lost its state: reset, and the restore policies apply', async () => {
  const dir = await stateDir();
  const first = await simulator(join(dir, 'ttyPDU'), ['--serial', '1111AAAA1111AAAA']);
  await firstRun(dir, first);
  const path = first.path;
  await first.kill();
  const again = await simulator(path, ['--serial', '1111AAAA1111AAAA']); // powered up again: relays off
  const service = await serialDaemon(path, SOCKETS, cleanups, { stateDir: dir });
  await service.settled();
  assert.deepEqual(
    await switching(again),
    ['SET 2 1'],
    'socket 3 (restore: last) back on, socket 4 (off) left',
  );
  assert.deepEqual(on(service), [3]);
});

test('a board without serial= (older firmware) is known by driver and port: a new boot id is a reset', async () => {
  const dir = await stateDir();
  const first = await simulator(join(dir, 'ttyPDU'), ['--no-serial']);
  await firstRun(dir, first);
  assert.deepEqual(await savedBoard(dir), { driver: 'prp1', port: first.path, serial: null });
  const path = first.path;
  await first.kill();
  const again = await simulator(path, ['--no-serial']);
  const service = await serialDaemon(path, SOCKETS, cleanups, { stateDir: dir });
  await service.settled();
  assert.deepEqual(await switching(again), ['SET 2 1']);
  assert.deepEqual(on(service), [3]);
});

test('a state file without a board (an older PiPDU) is first contact: nothing is switched', async () => {
  const dir = await stateDir();
  const first = await simulator(join(dir, 'ttyPDU'), []);
  await firstRun(dir, first);
  const file = join(dir, 'state.json');
  const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  delete saved.board;
  await writeFile(file, JSON.stringify(saved));
  const path = first.path;
  await first.kill();
  const again = await simulator(path, []);
  const service = await serialDaemon(path, SOCKETS, cleanups, { stateDir: dir });
  await service.settled();
  assert.deepEqual(await switching(again), []);
  assert.deepEqual(on(service), []);
});
