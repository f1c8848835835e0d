/**
 * The Modbus RTU driver (modbus-serial on the driver's own link): the CRC,
 * the device model's frames, exceptions and CRC checks, then the driver over
 * an in-memory link (read back, exception replies, a corrupted CRC, garbage,
 * silence, unplug, restart), then built from a config by createRelayBoard
 * against the simulator process (`--board modbus`) on a socat pty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExchangeBoard } from '../hardware/exchange-board.js';
import { createRelayBoard } from '../hardware/index.js';
import { MemoryTransport } from '../hardware/memory-transport.js';
import { ModbusProtocol, modbusCrc } from '../hardware/modbus-protocol.js';
import { ModbusDevice } from '../hardware/sim/modbus-device.js';
import { parseConfig } from '../src/config/load.js';
import { captureLogger, next, rejectsWith, stopAfterSuite, until } from './helpers/board-rig.js';
import { startSimulator } from './helpers/simulator-process.js';

/** A frame with its CRC, as latin1 text. */
function frame(...bytes: number[]): string {
  const crc = modbusCrc(bytes);
  return String.fromCharCode(...bytes, crc & 0xff, crc >> 8);
}

const hex = (text: string) =>
  [...text].map((c) => c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join(' ');

describe('Modbus frames and the device model', () => {
  test('CRC-16/Modbus of a known frame', () => {
    // 01 05 00 00 FF 00 -> CRC 8C 3A (low byte first), the textbook "coil 0 on" frame.
    assert.equal(hex(frame(0x01, 0x05, 0x00, 0x00, 0xff, 0x00)), '01 05 00 00 FF 00 8C 3A');
  });

  test('the model answers 01/05/0F, refuses with exceptions, drops bad CRCs and other slaves', () => {
    const device = new ModbusDevice({ channels: 8, slaveId: 3 });
    const out: string[] = [];
    device.on('output', (bytes) => out.push(hex(bytes)));
    device.receive(frame(3, 0x05, 0, 2, 0xff, 0));
    assert.equal(device.relays, 0x04);
    assert.equal(out.pop(), hex(frame(3, 0x05, 0, 2, 0xff, 0)), '05 echoes the request');
    device.receive(frame(3, 0x01, 0, 0, 0, 8));
    assert.equal(out.pop(), hex(frame(3, 0x01, 1, 0x04)));
    device.receive(frame(3, 0x0f, 0, 0, 0, 8, 1, 0x81));
    assert.equal(device.relays, 0x81);
    device.receive(frame(3, 0x01, 0, 0, 0, 16));
    assert.equal(out.pop(), hex(frame(3, 0x81, 2)), 'coils beyond the board: exception 2');
    device.receive(frame(3, 0x03, 0, 0, 0, 1));
    assert.equal(out.pop(), hex(frame(3, 0x83, 1)), 'an unknown function: exception 1');
    device.receive(frame(3, 0x05, 0, 1, 0x12, 0x34));
    assert.equal(out.pop(), hex(frame(3, 0x85, 3)), 'a bad 05 value: exception 3');
    const before = out.length;
    device.receive(frame(4, 0x05, 0, 1, 0xff, 0));
    const bad = frame(3, 0x05, 0, 1, 0xff, 0);
    device.receive(bad.slice(0, 6) + String.fromCharCode(0, 0));
    assert.equal(out.length, before, 'another slave and a bad CRC get no answer');
    assert.equal(device.relays, 0x81);
  });
});

describe('ModbusBoard over an in-memory link', () => {
  const owned = stopAfterSuite();

  function rig(
    options: { channels?: number; deviceChannels?: number; relays?: number; slaveId?: number } = {},
  ) {
    const channels = options.channels ?? 8;
    const device = owned.device(
      new ModbusDevice({ channels: options.deviceChannels ?? channels, slaveId: options.slaveId ?? 1 }),
    );
    device.relays = options.relays ?? 0;
    const requests: string[] = [];
    device.on('request', (line) => requests.push(line));
    device.start();
    const transport = new MemoryTransport({ device, description: 'modbus sim' });
    const { logger, lines } = captureLogger();
    const make = () =>
      owned.board(
        new ExchangeBoard({
          driver: 'modbus',
          transport,
          protocol: new ModbusProtocol({ channels, slaveId: options.slaveId ?? 1 }),
          logger,
          channels,
          reportsState: true,
          replyTimeoutMs: 100,
          backoff: { initialMs: 5, maxMs: 40 },
        }),
      );
    return { device, transport, board: make(), make, requests, lines };
  }

  /** Function codes of the frames the device took. */
  const codes = (requests: string[]) => requests.map((line) => line.split(' ')[1]);

  test('connects by reading the coils (01), switches with 05 and 0F, reads back', async () => {
    const { board, device, requests } = rig({ channels: 16, relays: 0x8001, slaveId: 7 });
    const connected = next(board, 'connected');
    await board.start();
    const [event] = await connected;
    assert.equal(event.mask, 0x8001);
    assert.deepEqual(event.identity, {
      protocol: 'modbus-rtu',
      channels: 16,
      firmware: 'slave 7',
      features: [],
      bootId: null,
      serial: null,
    });
    assert.deepEqual(codes(requests), ['01'], 'connecting reads only');
    let sent = 0;
    assert.equal(await board.set(9, true, { onSent: (at) => (sent = at) }), 0x8201);
    assert.ok(sent > 0);
    assert.equal(await board.set(15, false), 0x0201);
    assert.equal(await board.setMask(0x00f0), 0x00f0);
    assert.equal(device.relays, 0x00f0);
    device.relays = 0x0100;
    assert.equal(await board.state(), 0x0100);
    assert.deepEqual(codes(requests), ['01', '05', '05', '0F', '01']);
  });

  test('32 coils: the top coil and a 32-bit mask', async () => {
    const { board, device } = rig({ channels: 32, relays: 0x80000000 });
    const connected = next(board, 'connected');
    await board.start();
    assert.equal((await connected)[0].mask, 0x80000000);
    assert.equal(await board.set(30, true), 0xc0000000);
    assert.equal(await board.setMask(0xffffffff), 0xffffffff);
    assert.equal(device.relays, 0xffffffff);
    assert.equal(await board.state(), 0xffffffff);
  });

  test('an exception reply is BOARD_ERROR naming it; a config with more coils than the board never comes up', async () => {
    const { board, lines } = rig({ channels: 16, deviceChannels: 8 });
    await board.start();
    assert.equal(board.online, false);
    await until(() =>
      lines.some((line) =>
        /refused function 01 \(read coils\): exception 2 \(Illegal data address/.test(String(line.msg)),
      ),
    );
  });

  test('a corrupted CRC is BOARD_PROTOCOL, and the coils are re-read before the next call', async () => {
    const { board, device, requests } = rig();
    await board.start();
    device.corruptNextReply = true;
    const error = await rejectsWith(board.set(1, true), 'BOARD_PROTOCOL');
    assert.match(error.message, /bad reply to function 05 \(write coil\): CRC error/);
    assert.equal(device.relays, 0x02, 'the coil did switch; only the answer was damaged');
    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    assert.equal(await board.set(2, true), 0x06);
    assert.deepEqual(masks, [0x02, 0x06], 're-read, then the switch');
    assert.deepEqual(codes(requests).slice(-3), ['05', '01', '05']);
  });

  test('garbage: skipped before a reply, and ignored with no request out', async () => {
    const { board, device } = rig();
    await board.start();
    device.sendGarbage('\x00\xff\x13');
    await until(() => board.stats.garbageLines === 1);
    device.faults.muted = true;
    device.once('request', () => {
      // Noise, then the reply (the muted model's own answer stays unsent).
      device.sendGarbage(`\x55\xaa${frame(1, 0x05, 0, 3, 0xff, 0)}`);
    });
    assert.equal(await board.set(3, true), 0x08);
    device.faults.muted = false;
    assert.equal(board.stats.garbageLines, 2);
    assert.equal(await board.state(), 0x08);
  });

  test('silence: BOARD_TIMEOUT, queued calls fail at once, the link is reopened and re-read', async () => {
    const { board, device } = rig();
    await board.start();
    device.faults.muted = true;
    const disconnected = next(board, 'disconnected');
    const first = board.set(0, true);
    const second = board.state();
    const error = await rejectsWith(first, 'BOARD_TIMEOUT');
    assert.match(error.message, /slave 1\) did not answer function 05 \(write coil\) within 100 ms/);
    await rejectsWith(second, 'BOARD_TIMEOUT');
    await disconnected;
    const connected = next(board, 'connected');
    device.faults.muted = false;
    const [event] = await connected;
    assert.equal(event.reconnect, true);
    assert.equal(event.mask, 0x01);
  });

  test('unplugged: fails at once; replugged and restarted: read, nothing switched', async () => {
    const { board, transport, device, requests, make } = rig({ relays: 0x11 });
    await board.start();
    const disconnected = next(board, 'disconnected');
    transport.unplug();
    await disconnected;
    await rejectsWith(board.set(0, true), 'BOARD_OFFLINE');
    const connected = next(board, 'connected');
    transport.plug();
    assert.equal((await connected)[0].mask, 0x11);
    await board.stop();
    const since = requests.length;
    const again = make();
    const up = next(again, 'connected');
    await again.start();
    assert.equal((await up)[0].mask, 0x11);
    assert.deepEqual(codes(requests.slice(since)), ['01']);
    assert.equal(device.relays, 0x11);
  });
});

describe('ModbusBoard from the config, over a real pty, the Modbus simulator in its own process', () => {
  test('slave id and parity from the config; switch, read back, restart switching nothing', async () => {
    const sim = await startSimulator({ args: ['--board', 'modbus', '--channels', '16', '--slave', '5'] });
    const config = parseConfig(
      `version: 1\nboard: { driver: modbus, port: ${sim.path}, channels: 16, slaveId: 5, parity: even, baudRate: 19200 }\n`,
      'pipdu.yaml',
    );
    const make = () =>
      createRelayBoard(config.board, {
        logger: captureLogger().logger,
        backoff: { initialMs: 20, maxMs: 100 },
      });
    let board = make();
    try {
      const connected = next(board, 'connected');
      await board.start();
      assert.equal((await connected)[0].identity.firmware, 'slave 5');
      assert.equal(await board.set(12, true), 0x1000);
      assert.equal(await board.setMask(0x1003), 0x1003);
      await sim.waitFor((e) => e.event === 'relays' && e.mask === '1003', 3000, 0);
      assert.equal(await board.state(), 0x1003);
      await until(() => sim.requests.length === 4); // 01 at connect, 05, 0F, 01: all reported
      await board.stop();
      const since = sim.events.length;
      board = make();
      const again = next(board, 'connected');
      await board.start();
      assert.equal((await again)[0].mask, 0x1003);
      await sim.waitFor((e) => e.event === 'request', 3000, since);
      assert.deepEqual(
        sim.events
          .slice(since)
          .filter((e) => e.event === 'request')
          .map((e) => String(e.line).split(' ')[1]),
        ['01'],
      );
      await sim.command('corrupt');
      await rejectsWith(board.set(0, false), 'BOARD_PROTOCOL');
      assert.equal(await board.state(), 0x1002);
    } finally {
      await board.stop();
      await sim.stop();
    }
  });
});
