/**
 * The Numato driver: answer parsing, then over an in-memory link to the
 * Numato device model (garbage, silence, unplug, restart), then through the
 * real serialport code against the simulator process (`--board numato`) on
 * a socat pty.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ExchangeBoard } from '../hardware/exchange-board.js';
import { MemoryTransport } from '../hardware/memory-transport.js';
import {
  matchNumatoAnswer,
  NumatoProtocol,
  numatoChannel,
  numatoChannelName,
} from '../hardware/numato-protocol.js';
import { SerialTransport } from '../hardware/serial-transport.js';
import { NumatoDevice } from '../hardware/sim/numato-device.js';
import { captureLogger, next, rejectsWith, stopAfterSuite, until } from './helpers/board-rig.js';
import { startSimulator } from './helpers/simulator-process.js';

const SWITCHING = /^relay (on|off|writeall) /;

describe('Numato parsing', () => {
  test('channel names: 0..9 then A..V', () => {
    assert.deepEqual([0, 9, 10, 15, 31].map(numatoChannelName), ['0', '9', 'A', 'F', 'V']);
    assert.deepEqual(['0', '9', 'A', 'f', 'V', 'W', '10', ''].map(numatoChannel), [
      0,
      9,
      10,
      15,
      31,
      null,
      null,
      null,
    ]);
  });

  test('an answer is the echo, the reply and the prompt; anything else is BOARD_PROTOCOL', () => {
    assert.deepEqual(matchNumatoAnswer('ver', 'ver\n\r00000008\n\r>'), { value: '00000008', rest: '' });
    assert.deepEqual(matchNumatoAnswer('relay on 1', 'relay on 1\n\r>'), { value: '', rest: '' });
    assert.equal(matchNumatoAnswer('relay on 1', 'relay on 1\n\r'), null, 'no prompt yet');
    assert.throws(() => matchNumatoAnswer('ver', 'hello\n\r>'), /answered "hello\\n\\r>" to "ver"/);
    assert.throws(() => matchNumatoAnswer('ver', 'ver\n\rA\n\rB\n\r>'), /BOARD_PROTOCOL|not an echo/);
    assert.throws(() => matchNumatoAnswer('ver', 'x'.repeat(200)), /not an echo/);
  });
});

describe('NumatoBoard over an in-memory link', () => {
  const owned = stopAfterSuite();

  function rig(options: { channels?: number; relays?: number; id?: string } = {}) {
    const channels = options.channels ?? 8;
    const device = owned.device(new NumatoDevice({ channels, id: options.id ?? 'NUMATO01' }));
    device.relays = options.relays ?? 0;
    const requests: string[] = [];
    device.on('request', (line) => requests.push(line));
    device.start();
    const transport = new MemoryTransport({ device, description: 'numato sim' });
    const { logger, lines } = captureLogger();
    const board = owned.board(
      new ExchangeBoard({
        driver: 'numato',
        transport,
        protocol: new NumatoProtocol(channels),
        logger,
        channels,
        reportsState: true,
        replyTimeoutMs: 100,
        backoff: { initialMs: 5, maxMs: 40 },
      }),
    );
    return { device, transport, board, requests, lines };
  }

  test('connects by reading (ver, id, readall), adopts the relays, switches and reads back', async () => {
    const { board, device, requests } = rig({ relays: 0x81 });
    const connected = next(board, 'connected');
    await board.start();
    const [event] = await connected;
    assert.equal(event.mask, 0x81);
    assert.equal(event.reconnect, false);
    assert.deepEqual(event.identity, {
      protocol: 'numato',
      channels: 8,
      firmware: '00000008',
      features: [],
      bootId: null,
      serial: 'NUMATO01',
    });
    assert.deepEqual(requests, ['ver', 'id get', 'relay readall'], 'connecting writes no relay');
    assert.equal(board.reportsState, true);

    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    let sentAt = 0;
    assert.equal(await board.set(2, true, { onSent: (at) => (sentAt = at) }), 0x85);
    assert.ok(sentAt > 0, 'onSent was called');
    assert.equal(await board.set(0, false), 0x84);
    assert.equal(device.relays, 0x84);
    assert.equal(await board.setMask(0x03), 0x03);
    assert.equal(device.relays, 0x03);
    device.relays = 0x10; // someone pressed the module's own buttons (or another program)
    assert.equal(await board.state(), 0x10, 'state() reads the module');
    assert.deepEqual(masks, [0x85, 0x84, 0x03, 0x10]);
    await rejectsWith(board.set(8, true), 'BAD_REQUEST');
    await rejectsWith(board.current(), 'UNSUPPORTED');
    await rejectsWith(board.powerUpMask(), 'UNSUPPORTED');
  });

  test('16 and 32 channels: channel letters on the wire, a 32-bit readall', async () => {
    const { board, device, requests } = rig({ channels: 32, relays: 0x80000001 });
    const connected = next(board, 'connected');
    await board.start();
    assert.equal((await connected)[0].mask, 0x80000001);
    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    assert.equal(await board.set(10, true), 0x80000401);
    assert.equal(await board.set(31, false), 0x00000401);
    assert.ok(requests.includes('relay on A') && requests.includes('relay off V'));
    assert.equal(device.relays, 0x401);
    assert.equal(await board.state(), 0x401);
    assert.deepEqual(masks, [0x80000401, 0x401, 0x401], 'masks are unsigned, channel 31 included');
  });

  test('garbage: unsolicited bytes are counted and ignored; a garbled answer is BOARD_PROTOCOL and the relays are re-read', async () => {
    const { board, device } = rig();
    await board.start();
    device.sendGarbage('\x00\xff noise');
    await until(() => board.stats.garbageLines === 1);
    assert.equal(await board.set(1, true), 0x02);

    device.faults.muted = true;
    device.once('request', () => device.sendGarbage('NAK\n\r>'));
    const call = board.set(3, true);
    const error = await rejectsWith(call, 'BOARD_PROTOCOL');
    assert.match(error.message, /Numato module answered "NAK\\n\\r>" to "relay on 3"/);
    device.faults.muted = false;
    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    assert.equal(await board.set(4, true), 0x1a, 'the relays were re-read before the next call');
    assert.deepEqual(masks, [0x0a, 0x1a], 're-read mask, then the switch');
    assert.equal(board.online, true);
  });

  test('silence: the call fails with BOARD_TIMEOUT, queued calls at once; the port is reopened and re-read', async () => {
    const { board, device, lines } = rig();
    await board.start();
    device.faults.muted = true;
    const disconnected = next(board, 'disconnected');
    const first = board.set(0, true);
    const second = board.set(1, true);
    const error = await rejectsWith(first, 'BOARD_TIMEOUT');
    assert.match(error.message, /did not answer "relay on 0" within 100 ms.*may have switched/);
    await rejectsWith(second, 'BOARD_TIMEOUT');
    await disconnected;
    await rejectsWith(board.set(2, true), 'BOARD_OFFLINE');
    await until(() => lines.some((line) => /does not answer as one/.test(String(line.msg))));
    const connected = next(board, 'connected');
    device.faults.muted = false;
    const [event] = await connected;
    assert.equal(event.reconnect, true);
    assert.equal(event.mask, device.relays, 'the mask after silence is the one read');
    assert.equal(
      device.relays,
      0x01,
      'a muted module still obeys: relay 0 switched, and the re-read says so',
    );
  });

  test('unplugged: calls fail at once; replugged: reconnects by reading, switching nothing', async () => {
    const { board, transport, device, requests } = rig({ relays: 0x05 });
    await board.start();
    const disconnected = next(board, 'disconnected');
    transport.unplug();
    assert.equal((await disconnected)[0].code, 'BOARD_OFFLINE');
    const started = performance.now();
    await rejectsWith(board.set(0, true), 'BOARD_OFFLINE');
    assert.ok(performance.now() - started < 20, 'fails fast');
    device.relays = 0x06; // what it shows when it comes back
    const since = requests.length;
    const connected = next(board, 'connected');
    transport.plug();
    const [event] = await connected;
    assert.equal(event.reconnect, true);
    assert.equal(event.mask, 0x06);
    assert.deepEqual(
      requests.slice(since).filter((line) => SWITCHING.test(line)),
      [],
    );
  });

  test('restart: a new driver on the same module switches nothing and adopts its relays', async () => {
    const first = rig({ relays: 0 });
    await first.board.start();
    await first.board.setMask(0x5a);
    await first.board.stop();
    await rejectsWith(first.board.state(), 'STOPPED');
    const since = first.requests.length;
    const again = new ExchangeBoard({
      driver: 'numato',
      transport: new MemoryTransport({ device: first.device, description: 'numato sim' }),
      protocol: new NumatoProtocol(8),
      logger: captureLogger().logger,
      channels: 8,
      reportsState: true,
      replyTimeoutMs: 100,
    });
    owned.board(again);
    const connected = next(again, 'connected');
    await again.start();
    assert.equal((await connected)[0].mask, 0x5a);
    assert.deepEqual(first.requests.slice(since), ['ver', 'id get', 'relay readall']);
    assert.equal(first.device.relays, 0x5a);
  });

  test('a device that is no Numato module (garbage at connect) stays offline, said once, retried', async () => {
    const gadget = new (class extends EventEmitter<{ output: [string] }> {
      receive(): void {
        this.emit('output', 'Hello from another gadget>');
      }
      start(): void {}
      stop(): void {}
    })();
    const { logger, lines } = captureLogger();
    const board = owned.board(
      new ExchangeBoard({
        driver: 'numato',
        transport: new MemoryTransport({ device: gadget, description: 'gadget' }),
        protocol: new NumatoProtocol(8),
        logger,
        channels: 8,
        reportsState: true,
        replyTimeoutMs: 100,
        backoff: { initialMs: 5, maxMs: 20 },
      }),
    );
    await board.start();
    assert.equal(board.online, false);
    await rejectsWith(board.state(), 'BOARD_OFFLINE');
    await until(
      () =>
        board.stats.requests === 0 &&
        lines.filter((l) => /Numato module answered/.test(String(l.msg))).length >= 1,
    );
    const warned = () => lines.filter((l) => l.level === 40 && /does not answer as one/.test(String(l.msg)));
    await until(() => lines.filter((l) => /still/.test(String(l.msg))).length >= 2);
    assert.equal(warned().length, 1, 'warned once per outage');
    assert.match(String(warned()[0]!.msg), /answered "Hello from another gadget>" to "ver"/);
  });
});

describe('NumatoBoard over a real pty, the Numato simulator in its own process', () => {
  test('switch, read back, restart switching nothing, unplug and replug', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipdu-numato-'));
    const path = join(dir, 'relay');
    const args = ['--board', 'numato', '--channels', '16', '--id', 'ABCD1234'];
    let sim = await startSimulator({ path, args });
    const make = () =>
      new ExchangeBoard({
        driver: 'numato',
        transport: new SerialTransport({ path: sim.path, baudRate: 19200 }),
        protocol: new NumatoProtocol(16),
        logger: captureLogger().logger,
        channels: 16,
        reportsState: true,
        replyTimeoutMs: 500,
        backoff: { initialMs: 20, maxMs: 100 },
      });
    let board = make();
    try {
      const connected = next(board, 'connected');
      await board.start();
      const [event] = await connected;
      assert.equal(event.identity.serial, 'ABCD1234');
      assert.equal(event.mask, 0);
      assert.equal(await board.set(11, true), 0x0800);
      assert.equal(await board.set(0, true), 0x0801);
      await sim.waitFor((e) => e.event === 'relays' && e.mask === '0801', 3000, 0);
      assert.equal(await board.state(), 0x0801);
      await until(() => sim.requests.length === 6); // ver, id get, readall, two switches, readall: all reported

      // Restart: a new driver reads, and writes no relay.
      await board.stop();
      const since = sim.events.length;
      board = make();
      const again = next(board, 'connected');
      await board.start();
      assert.equal((await again)[0].mask, 0x0801);
      await sim.waitFor((e) => e.event === 'request' && e.line === 'relay readall', 3000, since);
      assert.deepEqual(
        sim.events
          .slice(since)
          .filter((e) => e.event === 'request')
          .map((e) => e.line),
        ['ver', 'id get', 'relay readall'],
        'a restart reads and switches nothing',
      );

      // Unplug: the module's process goes away; calls fail fast; a new one on the same path is found.
      const disconnected = next(board, 'disconnected', 5000);
      await sim.kill();
      await disconnected;
      await rejectsWith(board.set(1, true), 'BOARD_OFFLINE');
      const back = next(board, 'connected', 5000);
      sim = await startSimulator({ path, args });
      const [replug] = await back;
      assert.equal(replug.reconnect, true);
      assert.equal(replug.mask, 0, 'a replugged module powered up all off, and is shown so');
      assert.equal(await board.set(1, true), 0x0002);
    } finally {
      await board.stop();
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
