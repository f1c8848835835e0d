/**
 * The legacy firmware driver: pure parsing, then over an in-memory link to
 * the legacy simulator (silence, unplug), then through the real serialport
 * code against the simulator process (`--legacy`) on a socat pty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LEGACY_IDENTITY, LegacyBoard, lettersFor, parseLegacyTelemetry } from '../hardware/legacy-board.js';
import { LegacySimulatedBoard } from '../hardware/legacy-simulated-board.js';
import { MemoryTransport } from '../hardware/memory-transport.js';
import { SerialTransport } from '../hardware/serial-transport.js';
import { captureLogger, next, rejectsWith, stopAfterSuite, until } from './helpers/board-rig.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

/** The letters the simulator process reported receiving after event index `since`, once there are `count`. */
async function received(sim: SimulatorProcess, count: number, since: number): Promise<string[]> {
  const letters = () =>
    sim.events
      .slice(since)
      .filter((event) => event.event === 'request')
      .map((event) => String(event.line));
  while (letters().length < count) await sim.waitFor((event) => event.event === 'request', 3000);
  return letters();
}

describe('legacy parsing', () => {
  test('telemetry in both formats, 16 values, anything else is null', () => {
    const amps = Array.from({ length: 16 }, (_, i) => (i === 0 ? '0.12' : i === 15 ? '2.50' : '0.00'));
    assert.deepEqual(parseLegacyTelemetry(amps.join(','))?.slice(0, 1), [0.12]);
    const spaced = parseLegacyTelemetry(`${amps.join(' ')} `);
    assert.equal(spaced?.length, 16);
    assert.equal(spaced?.[15], 2.5);
    assert.equal(parseLegacyTelemetry(amps.join(' '))?.length, 16, 'a missing trailing space is fine');
    assert.equal(parseLegacyTelemetry(amps.slice(1).join(',')), null, '15 values');
    assert.equal(parseLegacyTelemetry([...amps, '0.00'].join(',')), null, '17 values');
    assert.equal(parseLegacyTelemetry(amps.join(', ')), null);
    assert.equal(parseLegacyTelemetry(amps.join('  ')), null);
    assert.equal(parseLegacyTelemetry('booting...'), null);
    assert.equal(parseLegacyTelemetry(amps.join(',').replace('0.12', '-0.12')), null);
  });

  test('letters: per changed channel, q for all off, r for all on', () => {
    assert.equal(lettersFor(0x0000, 0x0005), 'AC');
    assert.equal(lettersFor(0x0005, 0x0006), 'aB');
    assert.equal(lettersFor(0x8000, 0x8000), '');
    assert.equal(lettersFor(0x1234, 0x0000), 'q');
    assert.equal(lettersFor(0x0000, 0x0000), 'q');
    assert.equal(lettersFor(0x1234, 0xffff), 'r');
    assert.equal(lettersFor(0x0000, 0x8001), 'AP');
  });
});

describe('LegacyBoard over an in-memory link', () => {
  const owned = stopAfterSuite();

  function rig(options: { telemetryIntervalMs?: number; assumedMask?: number } = {}) {
    const sim = owned.device(
      new LegacySimulatedBoard({ telemetryIntervalMs: options.telemetryIntervalMs ?? 10 }),
    );
    const letters: string[] = [];
    sim.on('request', (letter) => letters.push(letter));
    sim.start();
    const transport = new MemoryTransport({ device: sim, description: 'legacy sim' });
    const { logger, lines } = captureLogger();
    const board = owned.board(
      new LegacyBoard({
        transport,
        logger,
        assumedMask: options.assumedMask,
        telemetryTimeoutMs: 100,
        telemetryFreshMs: 100,
        backoff: { initialMs: 5, maxMs: 40 },
      }),
    );
    return { sim, transport, board, letters, lines };
  }

  test('online at the first telemetry line, with the assumed mask; letters, q and r', async () => {
    const { board, sim, letters } = rig({ assumedMask: 0x0003 });
    assert.equal(board.identity, null);
    const connected = next(board, 'connected');
    await board.start();
    assert.equal(board.online, true);
    const [event] = await connected;
    assert.deepEqual(event, {
      identity: LEGACY_IDENTITY,
      mask: 0x0003,
      reconnect: false,
      bootDuringConnect: null,
    });
    assert.equal(board.reportsState, false);
    assert.equal(board.driver, 'legacy');
    assert.equal(await board.state(), 0x0003);

    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    assert.equal(await board.set(2, true), 0x0007);
    assert.equal(await board.set(0, false), 0x0006);
    assert.equal(await board.setMask(0x0106), 0x0106);
    assert.equal(await board.setMask(0), 0);
    assert.equal(sim.relays, 0);
    assert.equal(await board.setMask(0xffff), 0xffff);
    assert.equal(await board.setMask(0x7fff), 0x7fff);
    assert.deepEqual(letters, ['C', 'a', 'I', 'q', 'r', 'p']);
    assert.deepEqual(masks, [0x0007, 0x0006, 0x0106, 0, 0xffff, 0x7fff]);
    assert.equal(sim.relays, 0x7fff);
    await rejectsWith(board.set(16, true), 'BAD_REQUEST');
    await rejectsWith(board.powerUpMask(), 'UNSUPPORTED');
    await rejectsWith(board.setPowerUpMask(1), 'UNSUPPORTED');
  });

  test('telemetry: amps to whole mA, current() and ping() from fresh lines, garbage counted', async () => {
    const { board, sim } = rig();
    await board.start();
    await board.setMask(0); // it powers up with every relay on: `q` makes the assumed mask true
    await board.set(0, true);
    const [milliamps] = await next(board, 'current', 2000, (values) => values[0]! > 0 && values[1] === 0);
    assert.equal(milliamps.length, 16);
    assert.ok(Number.isInteger(milliamps[0]) && Math.abs(milliamps[0]! - 120) <= 10, `${milliamps[0]} mA`);
    assert.equal(milliamps[1], 0);
    assert.equal((await board.current()).length, 16);
    await board.ping();
    sim.sendGarbage('Relay board v0.3 ready');
    sim.sendGarbage('1.00,2.00');
    await next(board, 'current');
    assert.equal(board.stats.garbageLines, 2);
  });

  test('silence: offline after the telemetry timeout, back when telemetry resumes', async () => {
    const { board, sim, lines } = rig();
    await board.start();
    const disconnected = next(board, 'disconnected');
    sim.faults.muted = true;
    const [reason] = await disconnected;
    assert.equal(reason.code, 'BOARD_TIMEOUT');
    assert.equal(board.online, false);
    await rejectsWith(board.set(0, true), 'BOARD_OFFLINE');
    await rejectsWith(board.current(), 'BOARD_OFFLINE');
    // While it stays silent the port is reopened with back-off, quietly.
    const silentLogged = () =>
      lines.filter((line) => /no telemetry/.test(String(line.msg)) && line.level === 40).length;
    await until(() => board.stats.timeouts >= 3);
    assert.equal(silentLogged(), 1, 'a silent board is warned about once per outage');
    const connected = next(board, 'connected');
    sim.faults.muted = false;
    const [event] = await connected;
    assert.equal(event.reconnect, true);
    assert.equal(await board.set(1, true), 0x0002);
  });

  test('unplugged: calls fail at once, reconnects when plugged back', async () => {
    const { board, transport } = rig();
    await board.start();
    const disconnected = next(board, 'disconnected');
    transport.unplug();
    assert.equal((await disconnected)[0].code, 'BOARD_OFFLINE');
    await rejectsWith(board.set(0, true), 'BOARD_OFFLINE');
    const connected = next(board, 'connected');
    transport.plug();
    assert.equal((await connected)[0].reconnect, true);
  });

  test('start resolves when a silent port gives no sign of life; stop leaves nothing running', async () => {
    const { board, sim } = rig();
    sim.faults.muted = true;
    await board.start();
    assert.equal(board.online, false);
    await board.stop();
    await rejectsWith(board.state(), 'STOPPED');
  });
});

describe('LegacyBoard over a real pty, legacy simulator in its own process', () => {
  for (const format of ['comma', 'space'] as const) {
    test(`letters on the wire and ${format} telemetry`, async () => {
      const sim = await startSimulator({ args: ['--legacy', '--format', format, '--telemetry', '50'] });
      const board = new LegacyBoard({
        transport: new SerialTransport({ path: sim.path, baudRate: 9600 }),
        logger: captureLogger().logger,
        assumedMask: 0xffff, // the legacy firmware powers up with every relay on
        telemetryTimeoutMs: 1000,
        backoff: { initialMs: 20, maxMs: 200 },
      });
      try {
        const connected = next(board, 'connected');
        await board.start();
        assert.equal((await connected)[0].mask, 0xffff);
        assert.equal(board.reportsState, false);
        assert.equal(board.identity?.bootId, null);
        const since = sim.events.length;
        assert.equal(await board.set(0, false), 0xfffe);
        assert.equal(await board.set(0, true), 0xffff);
        assert.equal(await board.setMask(0), 0);
        assert.equal(await board.setMask(0x0021), 0x0021);
        assert.equal(await board.setMask(0x0020), 0x0020);
        assert.deepEqual(await received(sim, 6, since), ['a', 'A', 'q', 'A', 'F', 'a']);
        await sim.waitFor((event) => event.event === 'relays' && event.mask === '0020', 3000, since);
        const [milliamps] = await next(board, 'current', 3000, (values) => values[5]! > 0);
        assert.equal(milliamps.length, 16);
        assert.ok(Math.abs(milliamps[5]! - 60) <= 5, `${milliamps[5]} mA on channel 5`);
        assert.equal(milliamps[0], 0);
        await rejectsWith(board.powerUpMask(), 'UNSUPPORTED');
        assert.equal(board.stats.garbageLines, 0);
      } finally {
        await board.stop();
        await sim.stop();
      }
    });
  }
});
