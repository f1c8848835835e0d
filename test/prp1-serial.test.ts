/**
 * The PRP/1 driver through the real serialport code, against the board
 * simulator as its own process on a socat pty (test/helpers/simulator-process.ts).
 * Connect, switch, BADCH, power loss and restart are the cases
 * prp1-firmware.test.ts runs against the firmware in the emulator
 * (test/helpers/prp1-driver-cases.ts). Everything runs once with each serial
 * binding (direct I/O and stock bindings-cpp), chosen through
 * PIPDU_SERIAL_BINDING, which every SerialTransport reads when it is made.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Logger } from 'pino';
import { type Prp1Board, RESET_ON_OPEN_WARNING } from '../hardware/prp1-board.js';
import { SERIAL_BINDINGS } from '../hardware/serial-transport.js';
import type { PduError } from '../src/errors.js';
import { captureLogger, eventWaiter, rejectsWith } from './helpers/board-rig.js';
import {
  badChannelCase,
  connectCase,
  DriverRig,
  driverRestartCase,
  lateSetCase,
  powerLossCase,
  serialBoard as serialBoardWith,
  simulatorUnderTest,
  switchCase,
  verbs,
} from './helpers/prp1-driver-cases.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

const REPLY_TIMEOUT_MS = 200;

const next = eventWaiter(5000);

function serialBoard(devicePath: string, logger: Logger, replyTimeoutMs = REPLY_TIMEOUT_MS): Prp1Board {
  return serialBoardWith(devicePath, logger, replyTimeoutMs);
}

/** The simulator reports what it received on its stdout: wait until it has reported `line`. */
async function received(sim: SimulatorProcess, line: string | RegExp, since = 0): Promise<void> {
  await sim.waitFor(
    (event) =>
      event.event === 'request' &&
      typeof event.line === 'string' &&
      (typeof line === 'string' ? event.line === line : line.test(event.line)),
    3000,
    since,
  );
}

for (const binding of SERIAL_BINDINGS) {
  describe(`${binding} binding`, () => {
    let previous: string | undefined;
    before(() => {
      previous = process.env.PIPDU_SERIAL_BINDING;
      process.env.PIPDU_SERIAL_BINDING = binding;
    });
    after(() => {
      if (previous === undefined) delete process.env.PIPDU_SERIAL_BINDING;
      else process.env.PIPDU_SERIAL_BINDING = previous;
    });

    describe('PRP/1 over a real pty, simulator in its own process', () => {
      let sim: SimulatorProcess;
      let rig: DriverRig;

      before(async () => {
        sim = await startSimulator({ args: ['--power-up-mask', '00FF', '--telemetry', '50'] });
        rig = new DriverRig(simulatorUnderTest(sim, { powerUpMask: 0x00ff }), REPLY_TIMEOUT_MS);
        await rig.connect();
      });

      after(() => rig?.stop());

      test('connect sends exactly HELLO then STATE and adopts the reply', async () => {
        await connectCase(rig);
        assert.equal(rig.board.identity?.bootId, sim.bootId);
      });

      test('every verb', async () => {
        const currents = await switchCase(rig);
        assert.ok(currents[0]! > 0 && currents[4] === 0);
        await sim.waitFor((event) => event.event === 'default' && event.mask === '0101', 3000, 0);
      });

      test('BADCH and UNSUPPORTED replies become typed errors', async () => {
        await badChannelCase(rig);
        const other = await startSimulator({ args: ['--features', '', '--telemetry', '0'] });
        const plain = serialBoard(other.path, captureLogger().logger);
        try {
          await plain.start();
          assert.deepEqual(plain.identity?.features, []);
          const unsupported = await rejectsWith(plain.current(), 'UNSUPPORTED');
          assert.equal((unsupported as PduError & { boardCode: string }).boardCode, 'UNSUPPORTED');
          await rejectsWith(plain.powerUpMask(), 'UNSUPPORTED');
        } finally {
          await plain.stop();
          await other.stop();
        }
      });

      test('a SET answered late (the board switched): STATE re-read at once, its mask emitted, state() agrees', () =>
        lateSetCase(rig));

      test('garbage lines and unknown events are ignored and counted; calls still work', async () => {
        const { board } = rig;
        const before = board.stats;
        await sim.command('garbage ~~~ line noise ~~~');
        await sim.command('event WEATHER sunny');
        await sim.command('garbage 65000 OK 0000');
        await board.ping(); // the injected lines went out before this reply
        const stats = board.stats;
        assert.equal(stats.garbageLines - before.garbageLines, 1);
        assert.equal(stats.unknownEvents - before.unknownEvents, 1);
        assert.equal(stats.staleReplies - before.staleReplies, 1);
        assert.equal(await board.set(0, false), 0x0f0e);
      });

      test('! CURRENT is emitted as current, ! FAULT as fault', async () => {
        const { board } = rig;
        const [milliamps] = await next(board, 'current', 2000, (values) => values[1]! > 0);
        assert.equal(milliamps.length, 16);
        const fault = next(board, 'fault');
        await sim.command('event FAULT relay 7 welded');
        assert.deepEqual(await fault, ['relay 7 welded']);
      });

      test('a mute board: timeout, queued calls fail at once, offline at 3, back by itself on unmute', async () => {
        const { board } = rig;
        await sim.command('mute');
        const started = performance.now();
        const first = board.state();
        const queued = [board.set(1, true), board.state(), board.current()];
        await rejectsWith(first, 'BOARD_TIMEOUT');
        const firstMs = performance.now() - started;
        for (const call of queued) await rejectsWith(call, 'BOARD_TIMEOUT');
        const queuedMs = performance.now() - started;
        assert.ok(
          firstMs >= REPLY_TIMEOUT_MS - 5 && firstMs < REPLY_TIMEOUT_MS * 2,
          `first failed after ${firstMs} ms`,
        );
        assert.ok(queuedMs - firstMs < 50, `queued calls failed ${queuedMs - firstMs} ms after the first`);

        const [reason] = await next(board, 'disconnected');
        assert.equal(reason.code, 'BOARD_TIMEOUT');
        assert.equal(board.online, false);
        await rejectsWith(board.ping(), 'BOARD_OFFLINE');

        const reconnected = next(board, 'connected');
        const since = sim.requests.length;
        const sinceEvent = sim.events.length;
        await sim.command('unmute');
        const [event] = await reconnected;
        await received(sim, / STATE$/, sinceEvent);
        assert.equal(event.reconnect, true);
        assert.equal(board.online, true);
        const sent = verbs(sim.requests.slice(since));
        assert.ok(!sent.includes('SET') && !sent.includes('MASK'), sent.join(' '));
        assert.deepEqual(sent.slice(-2), ['HELLO', 'STATE']);
        assert.equal(await board.state(), 0x0f0e, 'the relays were never touched');
      });

      test('SIGUSR1 (power loss): boot with the power-up mask, identity re-read with the new boot id', async () => {
        await powerLossCase(rig);
        await sim.waitFor((e) => e.event === 'boot' && e.bootId === rig.board.identity!.bootId, 3000, 0);
      });

      test('restart: a new driver on the same port sends HELLO and STATE only and switches nothing', () =>
        driverRestartCase(rig));

      test('a reset within 2 s of opening the port is warned about (DTR auto-reset)', async () => {
        const fresh = await startSimulator({ args: ['--telemetry', '0'] });
        const captured = captureLogger();
        const early = serialBoard(fresh.path, captured.logger);
        try {
          await early.start();
          const boot = next(early, 'boot');
          fresh.signal('SIGUSR1');
          const [event] = await boot;
          assert.ok(event.msSinceOpen < 2000, `${event.msSinceOpen} ms`);
          const warning = captured.lines.find(
            (line) => line.msg === RESET_ON_OPEN_WARNING && line.msSinceOpen === event.msSinceOpen,
          );
          assert.ok(warning, 'the warning was logged');
          assert.equal(warning.level, 40);
        } finally {
          await early.stop();
          await fresh.stop();
        }
      });
    });

    describe('PRP/1 over a real pty: the device goes away and comes back', () => {
      test('killed mid-call: fast BOARD_OFFLINE, disconnected; restarted: reconnects by itself', async () => {
        const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-prp1-'));
        const devicePath = path.join(dir, 'board');
        let sim = await startSimulator({ path: devicePath, args: ['--telemetry', '0'] });
        const { logger, lines } = captureLogger();
        const board = serialBoard(devicePath, logger, 500);
        try {
          await board.start();
          assert.equal(await board.set(2, true), 0x0004);
          await sim.command('delay 2000'); // keep the next call in flight
          const disconnected = next(board, 'disconnected');
          const since = sim.events.length;
          const inFlight = board.state();
          await received(sim, / STATE$/, since);
          const killedAt = performance.now();
          const killed = sim.kill();
          await rejectsWith(inFlight, 'BOARD_OFFLINE');
          const failedAfter = performance.now() - killedAt;
          assert.ok(failedAfter < 500, `the in-flight call failed ${failedAfter} ms after the kill`);
          const [reason] = await disconnected;
          assert.equal(reason.code, 'BOARD_OFFLINE');
          const newCall = performance.now();
          await rejectsWith(board.set(3, true), 'BOARD_OFFLINE');
          assert.ok(performance.now() - newCall < 50);
          await killed;

          const reconnected = next(board, 'connected', 10_000);
          sim = await startSimulator({ path: devicePath, args: ['--telemetry', '0'] });
          const [event] = await reconnected;
          await received(sim, / STATE$/);
          assert.equal(event.reconnect, true);
          assert.equal(event.identity.bootId, sim.bootId);
          // The new board's power-up BOOT may race the reopen: then the handshake is redone.
          const sent = verbs(sim.requests);
          assert.ok(
            sent.every((verb) => verb === 'HELLO' || verb === 'STATE'),
            sent.join(' '),
          );
          assert.deepEqual(sent.slice(0, 2), ['HELLO', 'STATE']);
          assert.equal(event.mask, 0, 'the new board powered up with everything off and that is adopted');
          assert.equal(board.stats.reconnects, 1);
          const outageWarnings = lines.filter(
            (line) => line.level === 40 && /cannot be opened/.test(String(line.msg)),
          );
          assert.ok(outageWarnings.length <= 1, 'the missing device is logged once per outage');
          assert.equal(await board.set(5, true), 0x0020);
          await received(sim, / SET 5 1$/);
          assert.deepEqual(
            verbs(sim.requests).filter((verb) => verb === 'SET' || verb === 'MASK'),
            ['SET'],
            'the only switching request is the one asked for',
          );
        } finally {
          await board.stop();
          await sim.stop();
          await rm(dir, { recursive: true, force: true });
        }
      });
    });
  });
}
