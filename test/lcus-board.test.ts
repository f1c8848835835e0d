/**
 * The LCUS driver: frames, then over an in-memory link to the LCUS device
 * model (assumed state, garbage, unplug, restart), then built from a config
 * by createRelayBoard against the simulator process (`--board lcus`) on a
 * socat pty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExchangeBoard } from '../hardware/exchange-board.js';
import { createRelayBoard } from '../hardware/index.js';
import { LcusProtocol, lcusFrame, lcusHex } from '../hardware/lcus-protocol.js';
import { MemoryTransport } from '../hardware/memory-transport.js';
import { LcusDevice } from '../hardware/sim/lcus-device.js';
import { parseConfig } from '../src/config/load.js';
import { captureLogger, next, rejectsWith, stopAfterSuite, until } from './helpers/board-rig.js';
import { startSimulator } from './helpers/simulator-process.js';

describe('LCUS frames', () => {
  test('A0, channel 1..8, 00/01, the byte sum', () => {
    assert.equal(lcusHex(lcusFrame(0, true)), 'A0 01 01 A2');
    assert.equal(lcusHex(lcusFrame(0, false)), 'A0 01 00 A1');
    assert.equal(lcusHex(lcusFrame(7, true)), 'A0 08 01 A9');
  });

  test('the device model ignores bad sums and channels it lacks, and resynchronises on A0', () => {
    const device = new LcusDevice({ channels: 2 });
    const seen: string[] = [];
    device.on('request', (line) => seen.push(line));
    device.receive(`\x55${lcusFrame(1, true)}`);
    device.receive('\xa0\x01\x01\xa3');
    device.receive(lcusFrame(2, true));
    assert.deepEqual(seen, ['A0 02 01 A3', 'A0 01 01 A3 ignored', 'A0 03 01 A4 ignored']);
    assert.equal(device.relays, 0b10);
  });
});

describe('LcusBoard over an in-memory link', () => {
  const owned = stopAfterSuite();

  function rig(options: { assumedMask?: number; channels?: number } = {}) {
    const channels = options.channels ?? 4;
    const device = owned.device(new LcusDevice({ channels }));
    const frames: string[] = [];
    device.on('request', (line) => frames.push(line));
    device.start();
    const transport = new MemoryTransport({ device, description: 'lcus sim' });
    const { logger, lines } = captureLogger();
    const make = () =>
      owned.board(
        new ExchangeBoard({
          driver: 'lcus',
          transport,
          protocol: new LcusProtocol(channels),
          logger,
          channels,
          reportsState: false,
          assumedMask: options.assumedMask,
          backoff: { initialMs: 5, maxMs: 40 },
        }),
      );
    return { device, transport, board: make(), make, frames, lines };
  }

  test('online at open with the assumed mask, writing nothing; frames per switch; every mask assumed', async () => {
    const { board, device, frames } = rig({ assumedMask: 0x5 });
    const connected = next(board, 'connected');
    await board.start();
    const [event] = await connected;
    assert.equal(event.mask, 0x5);
    assert.equal(event.identity.protocol, 'lcus');
    assert.equal(event.identity.serial, null);
    assert.equal(board.reportsState, false);
    assert.deepEqual(frames, [], 'connecting sends nothing');
    assert.equal(await board.set(1, true), 0x7);
    assert.equal(await board.set(0, false), 0x6);
    assert.equal(await board.setMask(0x9), 0x9);
    assert.deepEqual(frames, [
      'A0 02 01 A3',
      'A0 01 00 A1',
      'A0 01 01 A2',
      'A0 02 00 A2',
      'A0 03 00 A3',
      'A0 04 01 A5',
    ]);
    assert.equal(device.relays, 0x9);
    // The board cannot say: a relay switched by hand is not seen, state() is what was sent.
    device.relays = 0;
    assert.equal(await board.state(), 0x9);
    await rejectsWith(board.set(4, true), 'BAD_REQUEST');
    await rejectsWith(board.setMask(0x10), 'BAD_REQUEST');
  });

  test('garbage from a board that never talks is counted and ignored', async () => {
    const { board, device } = rig();
    await board.start();
    device.sendGarbage('\x00\x13 noise');
    await until(() => board.stats.garbageLines === 1);
    assert.equal(await board.set(0, true), 0x1);
    assert.equal(board.online, true);
  });

  test('unplugged: offline and calls fail at once; replugged: online with the mask it had, sending nothing', async () => {
    const { board, transport, frames } = rig();
    await board.start();
    await board.set(2, true);
    const disconnected = next(board, 'disconnected');
    transport.unplug();
    assert.equal((await disconnected)[0].code, 'BOARD_OFFLINE');
    await rejectsWith(board.set(0, true), 'BOARD_OFFLINE');
    const since = frames.length;
    const connected = next(board, 'connected');
    transport.plug();
    const [event] = await connected;
    assert.equal(event.reconnect, true);
    assert.equal(event.mask, 0x4);
    assert.deepEqual(frames.slice(since), []);
  });

  test('restart: a new driver starts from the saved mask and sends nothing', async () => {
    const first = rig();
    await first.board.start();
    await first.board.setMask(0x3);
    await first.board.stop();
    const since = first.frames.length;
    const again = owned.board(
      new ExchangeBoard({
        driver: 'lcus',
        transport: new MemoryTransport({ device: first.device, description: 'lcus sim' }),
        protocol: new LcusProtocol(4),
        logger: captureLogger().logger,
        channels: 4,
        reportsState: false,
        assumedMask: 0x3,
      }),
    );
    const connected = next(again, 'connected');
    await again.start();
    assert.equal((await connected)[0].mask, 0x3);
    assert.deepEqual(first.frames.slice(since), []);
    assert.equal(first.device.relays, 0x3);
  });
});

describe('LcusBoard from the config, over a real pty, the LCUS simulator in its own process', () => {
  test('frames on the wire; a restart sends nothing; the process gone is offline at once', async () => {
    const sim = await startSimulator({ args: ['--board', 'lcus', '--channels', '8'] });
    const config = parseConfig(
      `version: 1\nboard: { driver: lcus, port: ${sim.path}, channels: 8 }\n`,
      'pipdu.yaml',
    );
    const make = (assumedMask: number) =>
      createRelayBoard(config.board, {
        logger: captureLogger().logger,
        assumedMask,
        backoff: { initialMs: 20, maxMs: 100 },
      });
    let board = make(0);
    try {
      await board.start();
      assert.equal(board.online, true);
      assert.equal(board.driver, 'lcus');
      assert.equal(await board.set(7, true), 0x80);
      assert.equal(await board.set(0, true), 0x81);
      await sim.waitFor((e) => e.event === 'relays' && e.mask === '81', 3000, 0);
      assert.deepEqual(sim.requests, ['A0 08 01 A9', 'A0 01 01 A2']);
      await board.stop();
      board = make(0x81);
      const connected = next(board, 'connected');
      await board.start();
      assert.equal((await connected)[0].mask, 0x81);
      assert.equal(await board.set(0, false), 0x80);
      await sim.waitFor((e) => e.event === 'request' && e.line === 'A0 01 00 A1', 3000, 0);
      assert.deepEqual(
        sim.requests,
        ['A0 08 01 A9', 'A0 01 01 A2', 'A0 01 00 A1'],
        'the restart sent nothing',
      );
      const disconnected = next(board, 'disconnected', 5000);
      await sim.kill();
      await disconnected;
      await rejectsWith(board.set(1, true), 'BOARD_OFFLINE');
    } finally {
      await board.stop();
      await sim.stop();
    }
  });
});
