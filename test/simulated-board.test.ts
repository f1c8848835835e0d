import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { LegacySimulatedBoard } from '../hardware/legacy-simulated-board.js';
import { SimulatedBoard, type SimulatedBoardOptions } from '../hardware/simulated-board.js';

/** Collects a board's output lines and hands them out in order. */
class Lines {
  readonly all: string[] = [];
  private next = 0;
  private waiting: ((line: string) => void) | null = null;

  constructor(board: { on(event: 'output', listener: (line: string) => void): unknown }) {
    board.on('output', (line) => {
      this.all.push(line);
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = null;
        resolve(this.all[this.next++]!);
      }
    });
  }

  /** The next output line not taken yet. */
  take(timeoutMs = 2000): Promise<string> {
    if (this.next < this.all.length) return Promise.resolve(this.all[this.next++]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no output line within ${timeoutMs} ms; so far: ${JSON.stringify(this.all)}`));
      }, timeoutMs);
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  /** The next line that is not a `! CURRENT` event. */
  async takeSkippingTelemetry(): Promise<string> {
    for (;;) {
      const line = await this.take();
      if (!line.startsWith('! CURRENT ')) return line;
    }
  }
}

/** Boards started by booted(): stopped after each test, even a failed one, so no timer keeps the run alive. */
const started = new Set<SimulatedBoard>();
afterEach(() => {
  for (const board of started) board.stop();
  started.clear();
});

/** A started board with no telemetry, its `! BOOT` already taken. */
async function booted(options: SimulatedBoardOptions = {}) {
  const board = new SimulatedBoard({ telemetryIntervalMs: 0, ...options });
  started.add(board);
  const lines = new Lines(board);
  const requests: string[] = [];
  board.on('request', (line) => requests.push(line));
  board.start();
  const boot = await lines.take();
  assert.match(boot, /^! BOOT [0-9A-F]+\n$/);
  /** Sends one request line and returns the next line the board sends (without `\n`). */
  const ask = async (line: string) => {
    board.receive(`${line}\n`);
    const reply = await lines.take();
    assert.ok(reply.endsWith('\n'), `reply ${JSON.stringify(reply)} ends with \\n`);
    return reply.slice(0, -1);
  };
  return { board, lines, requests, ask, boot };
}

describe('SimulatedBoard (PRP/1)', () => {
  test('powers up all off with no stored mask: ! BOOT 0000 and a boot id', async () => {
    const board = new SimulatedBoard({ telemetryIntervalMs: 0 });
    const lines = new Lines(board);
    const boots: Array<[number, string]> = [];
    board.on('boot', (mask, bootId) => boots.push([mask, bootId]));
    assert.equal(board.bootId, '');
    board.start();
    assert.equal(lines.all.length, 0, 'the boot line is sent on a later tick');
    assert.equal(await lines.take(), '! BOOT 0000\n');
    assert.match(board.bootId, /^[0-9A-F]{1,8}$/);
    assert.deepEqual(boots, [[0, board.bootId]]);
    assert.equal(board.relays, 0);
    assert.equal(board.storedPowerUpMask, null);
    board.stop();
  });

  test('HELLO names protocol, channels, firmware, features, boot id and serial', async () => {
    const { board, ask } = await booted();
    assert.match(board.serial ?? '', /^[0-9A-F]{16}$/, 'a generated serial: 16 hex digits');
    assert.equal(
      await ask('1 HELLO'),
      `1 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${board.bootId} serial=${board.serial}`,
    );
    board.stop();
    const custom = await booted({
      firmware: '2.1.0',
      features: ['persist', 'current'],
      channels: 8,
      serial: '00C0FFEE',
    });
    assert.equal(
      await custom.ask('7 HELLO'),
      `7 OK PIPDU/1 channels=8 fw=2.1.0 features=current,persist boot=${custom.board.bootId} serial=00C0FFEE`,
    );
    custom.board.stop();
    const older = await booted({ serial: null });
    assert.equal(older.board.serial, null);
    assert.equal(
      await older.ask('2 HELLO'),
      `2 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${older.board.bootId}`,
      'serial: null is an older firmware without serial=',
    );
  });

  test('the serial stays across resets; two boards get different ones', async () => {
    const { board, ask, lines } = await booted();
    const serial = board.serial;
    const bootId = board.bootId;
    board.reset();
    assert.match(await lines.take(), /^! BOOT /);
    assert.notEqual(board.bootId, bootId);
    assert.equal(board.serial, serial);
    assert.match(await ask('1 HELLO'), new RegExp(` serial=${serial}$`));
    assert.notEqual(new SimulatedBoard().serial, new SimulatedBoard().serial);
  });

  test('STATE, SET and MASK reply with the mask; relays events follow every change', async () => {
    const { board, ask } = await booted();
    const changes: number[] = [];
    board.on('relays', (mask) => changes.push(mask));
    assert.equal(await ask('1 STATE'), '1 OK 0000');
    assert.equal(await ask('2 SET 4 1'), '2 OK 0010');
    assert.equal(await ask('3 SET 0 1'), '3 OK 0011');
    assert.equal(await ask('4 SET 0 1'), '4 OK 0011', 'switching on an on channel changes nothing');
    assert.equal(await ask('5 SET 15 1'), '5 OK 8011');
    assert.equal(await ask('6 SET 4 0'), '6 OK 8001');
    assert.equal(await ask('7 MASK 00ff'), '7 OK 00FF', 'lower-case accepted, upper-case sent');
    assert.equal(await ask('8 MASK ABCD'), '8 OK ABCD');
    assert.equal(await ask('9 STATE'), '9 OK ABCD');
    assert.equal(await ask('10 MASK 0000'), '10 OK 0000');
    assert.equal(board.relays, 0);
    assert.deepEqual(changes, [0x10, 0x11, 0x8011, 0x8001, 0xff, 0xabcd, 0]);
    board.stop();
  });

  test('PING answers PONG; ids 1 and 65535 are echoed, leading zeros dropped', async () => {
    const { board, ask } = await booted();
    assert.equal(await ask('1 PING'), '1 OK PONG');
    assert.equal(await ask('65535 PING'), '65535 OK PONG');
    assert.equal(await ask('0042 PING'), '42 OK PONG');
    board.stop();
  });

  test('CURRENT: whole mA, on channels near their load, off channels 0', async () => {
    const loads = [100, 2000, 0, 500, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1234];
    const { board, ask } = await booted({ loadsMa: loads });
    const read = async (id: number) => {
      const reply = await ask(`${id} CURRENT`);
      const match = /^(\d+) OK ([0-9,]+)$/.exec(reply);
      assert.ok(match, reply);
      assert.equal(match[1], String(id));
      return match[2]!.split(',').map(Number);
    };
    assert.deepEqual(await read(1), new Array(16).fill(0));
    await ask('2 MASK 801B'); // channels 0, 1, 3, 4, 15
    for (let id = 3; id < 8; id++) {
      const values = await read(id);
      assert.equal(values.length, 16);
      values.forEach((value, channel) => {
        assert.ok(Number.isInteger(value));
        const on = (0x801b >> channel) & 1;
        const load = loads[channel]!;
        if (!on) assert.equal(value, 0, `channel ${channel} is off`);
        else assert.ok(Math.abs(value - load) <= load * 0.02 + 0.5, `channel ${channel}: ${value} ≈ ${load}`);
      });
    }
    board.setLoad(1, 300);
    const [, second] = await read(9);
    assert.ok(second! >= 294 && second! <= 306, String(second));
    assert.throws(() => board.setLoad(16, 1), RangeError);
    assert.throws(() => board.setLoad(0, -1), RangeError);
    board.stop();
  });

  test('default loads are varied and plausible', () => {
    const board = new SimulatedBoard();
    const loads = board.loadsMa;
    assert.equal(loads.length, 16);
    assert.ok(loads.every((load) => load >= 40 && load <= 2500));
    assert.ok(new Set(loads).size > 8);
  });

  test('DEFAULT reads and stores the power-up mask; a reset powers up with it and a new boot id', async () => {
    const { board, ask, lines } = await booted();
    const stored: number[] = [];
    board.on('powerUpMaskStored', (mask) => stored.push(mask));
    assert.equal(await ask('1 DEFAULT'), '1 OK 0000', 'none stored reads as all off');
    assert.equal(await ask('2 DEFAULT 00a5'), '2 OK 00A5');
    assert.deepEqual(stored, [0xa5]);
    assert.equal(board.storedPowerUpMask, 0xa5);
    assert.equal(await ask('3 DEFAULT'), '3 OK 00A5');
    assert.equal(await ask('4 STATE'), '4 OK 0000', 'storing does not switch anything');
    await ask('5 SET 15 1');
    const firstBoot = board.bootId;
    const boots: Array<[number, string]> = [];
    board.on('boot', (mask, bootId) => boots.push([mask, bootId]));
    board.reset();
    assert.equal(await lines.take(), '! BOOT 00A5\n');
    assert.notEqual(board.bootId, firstBoot);
    assert.deepEqual(boots, [[0xa5, board.bootId]]);
    assert.equal(board.relays, 0xa5);
    assert.equal(await ask('6 STATE'), '6 OK 00A5');
    assert.equal(await ask('7 DEFAULT'), '7 OK 00A5', 'the stored mask survives the reset');
    assert.match(await ask('8 HELLO'), new RegExp(` boot=${board.bootId} serial=${board.serial}$`));
    board.stop();
  });

  test('a stored power-up mask from the options is used at the first start', async () => {
    const { board, boot, ask } = await booted({ powerUpMask: 0x8001 });
    assert.equal(boot, '! BOOT 8001\n');
    assert.equal(await ask('1 STATE'), '1 OK 8001');
    board.stop();
  });

  test('every reset gives a different boot id and drops replies still pending', async () => {
    const { board, lines } = await booted();
    const seen = [board.bootId];
    for (let i = 0; i < 20; i++) {
      board.receive('1 PING\n'); // its reply is lost with the power
      board.reset();
      assert.equal(await lines.take(), '! BOOT 0000\n');
      assert.notEqual(board.bootId, seen.at(-1));
      assert.match(board.bootId, /^[0-9A-F]{1,8}$/);
      seen.push(board.bootId);
    }
    board.receive('2 PING\n');
    assert.equal(await lines.take(), '2 OK PONG\n');
    board.stop();
  });

  describe('edge cases', () => {
    const cases: Array<[line: string, reply: RegExp]> = [
      ['0 PING', /^0 ERR BADREQ \S/],
      ['65536 PING', /^0 ERR BADREQ \S/],
      ['99999999999999999999 PING', /^0 ERR BADREQ \S/],
      ['abc PING', /^0 ERR BADREQ \S/],
      ['1a PING', /^0 ERR BADREQ \S/],
      ['-1 PING', /^0 ERR BADREQ \S/],
      ['+1 PING', /^0 ERR BADREQ \S/],
      [' 1 PING', /^0 ERR BADREQ \S/],
      ['PING', /^0 ERR BADREQ \S/],
      [' ', /^0 ERR BADREQ \S/],
      ['5', /^5 ERR BADREQ \S/],
      ['5 ping', /^5 ERR BADREQ \S/],
      ['5 FROB', /^5 ERR BADREQ \S/],
      ['5 PING x', /^5 ERR BADREQ \S/],
      ['5 PING ', /^5 ERR BADREQ \S/],
      ['5  PING', /^5 ERR BADREQ \S/],
      ['5 SET  1 1', /^5 ERR BADREQ \S/],
      ['5 HELLO x', /^5 ERR BADREQ \S/],
      ['5 STATE 0000', /^5 ERR BADREQ \S/],
      ['5 SET 1', /^5 ERR BADREQ \S/],
      ['5 SET', /^5 ERR BADREQ \S/],
      ['5 SET 1 1 1', /^5 ERR BADREQ \S/],
      ['5 SET x 1', /^5 ERR BADREQ \S/],
      ['5 SET -1 1', /^5 ERR BADREQ \S/],
      ['5 SET 1.0 1', /^5 ERR BADREQ \S/],
      ['5 SET 1 2', /^5 ERR BADREQ \S/],
      ['5 SET 1 on', /^5 ERR BADREQ \S/],
      ['5 SET 1 01', /^5 ERR BADREQ \S/],
      ['5 SET 99 2', /^5 ERR BADREQ \S/],
      ['5 SET 99 1', /^5 ERR BADCH channel 99 out of range 0\.\.15$/],
      ['5 SET 16 0', /^5 ERR BADCH channel 16 out of range 0\.\.15$/],
      ['5 SET 123456789012345678901234567890 1', /^5 ERR BADCH \S/],
      ['5 MASK', /^5 ERR BADREQ \S/],
      ['5 MASK 00F', /^5 ERR BADREQ \S/],
      ['5 MASK 000FF', /^5 ERR BADREQ \S/],
      ['5 MASK 00G0', /^5 ERR BADREQ \S/],
      ['5 MASK 0x0F', /^5 ERR BADREQ \S/],
      ['5 MASK 0000 0000', /^5 ERR BADREQ \S/],
      ['5 CURRENT 1', /^5 ERR BADREQ \S/],
      ['5 DEFAULT 0000 0000', /^5 ERR BADREQ \S/],
      ['5 DEFAULT 123', /^5 ERR BADREQ \S/],
      ['5 DEFAULT zzzz', /^5 ERR BADREQ \S/],
    ];
    for (const [line, reply] of cases) {
      test(JSON.stringify(line), async () => {
        const { board, ask } = await booted();
        assert.match(await ask(line), reply);
        assert.equal(board.relays, 0, 'a refused request changes nothing');
        assert.equal(board.storedPowerUpMask, null);
        board.stop();
      });
    }

    test('empty lines (\\n, \\r\\n) are ignored and not reported', async () => {
      const { board, lines, requests } = await booted();
      board.receive('\n\r\n\n');
      board.receive('1 PING\n');
      assert.equal(await lines.take(), '1 OK PONG\n', 'nothing was sent for the empty lines');
      assert.deepEqual(requests, ['1 PING']);
      board.stop();
    });

    test('a \\r before the \\n is ignored; anywhere else it is part of the line', async () => {
      const { board, ask, requests } = await booted();
      assert.equal(await ask('1 SET 2 1\r'), '1 OK 0004');
      assert.match(await ask('2 PING\r\r'), /^2 ERR BADREQ /);
      assert.match(await ask('3 PI\rNG'), /^3 ERR BADREQ /);
      assert.deepEqual(requests, ['1 SET 2 1', '2 PING\r', '3 PI\rNG']);
      board.stop();
    });

    test('bits above channel n-1 are BADREQ; the mask has ceil(n/4) digits', async () => {
      const { board, ask } = await booted({ channels: 10 });
      assert.match(await ask('1 MASK 400'), /^1 ERR BADREQ /);
      assert.match(await ask('2 MASK 0400'), /^2 ERR BADREQ /, '4 digits for 10 channels');
      assert.match(await ask('3 DEFAULT 800'), /^3 ERR BADREQ /);
      assert.equal(board.relays, 0);
      assert.equal(await ask('4 MASK 3ff'), '4 OK 3FF');
      assert.equal(await ask('5 SET 9 0'), '5 OK 1FF');
      assert.match(await ask('6 SET 10 1'), /^6 ERR BADCH channel 10 out of range 0\.\.9$/);
      assert.equal(await ask('7 DEFAULT 201'), '7 OK 201');
      board.stop();
      const sixteen = await booted();
      assert.equal(await sixteen.ask('1 MASK FFFF'), '1 OK FFFF', 'all 16 bits are channels');
      sixteen.board.stop();
    });

    test('32 channels: 8-digit masks and channel 31', async () => {
      const { board, ask } = await booted({ channels: 32 });
      assert.equal(await ask('1 SET 31 1'), '1 OK 80000000');
      assert.equal(await ask('2 MASK ffffffff'), '2 OK FFFFFFFF');
      assert.equal(await ask('3 SET 31 0'), '3 OK 7FFFFFFF');
      assert.match(await ask('4 CURRENT'), /^4 OK (\d+,){31}\d+$/);
      board.stop();
    });
  });

  describe('the 128-byte line limit', () => {
    // All-digit ids may have leading zeros: a PING padded to any length is still valid.
    const ping = (length: number, id = 1) => {
      const tail = `${id} PING`;
      return '0'.repeat(length - tail.length) + tail;
    };

    test('127 bytes + \\n is a line', async () => {
      const { board, ask } = await booted();
      assert.equal(ping(127).length, 127);
      assert.equal(await ask(ping(127)), '1 OK PONG');
      board.stop();
    });

    test('128 bytes + \\n is too long; the next line works', async () => {
      const { board, lines, requests } = await booted();
      board.receive(`${ping(128)}\n2 PING\n`);
      assert.equal(await lines.take(), '0 ERR BADREQ line too long\n');
      assert.equal(await lines.take(), '2 OK PONG\n');
      assert.equal(requests[0], ping(128), 'reported as the 128 bytes kept');
      assert.equal(requests[1], '2 PING');
      board.stop();
    });

    test('the \\r counts: 126 + \\r\\n fits, 127 + \\r\\n does not', async () => {
      const { board, lines } = await booted();
      board.receive(`${ping(126, 1)}\r\n${ping(127, 2)}\r\n3 PING\r\n`);
      assert.equal(await lines.take(), '1 OK PONG\n');
      assert.equal(await lines.take(), '0 ERR BADREQ line too long\n');
      assert.equal(await lines.take(), '3 OK PONG\n');
      board.stop();
    });

    test('a long line arriving in pieces is discarded up to its \\n, answered once', async () => {
      const { board, lines, requests } = await booted();
      board.receive('1 SET 3 1 ');
      board.receive('x'.repeat(200));
      board.receive('y'.repeat(300));
      board.receive('\n2 ST');
      board.receive('ATE\n');
      assert.equal(await lines.take(), '0 ERR BADREQ line too long\n');
      assert.equal(await lines.take(), '2 OK 0000\n', 'nothing of the long line was executed');
      assert.equal(requests.length, 2);
      assert.equal(requests[0]!.length, 128);
      board.stop();
    });
  });

  test('partial and coalesced lines; replies asynchronous and in request order', async () => {
    const { board, lines } = await booted();
    board.receive('1 SE');
    board.receive('T 1 1\n2 SET 2');
    board.receive(' 1\n3 STATE\n4 PING\n');
    assert.equal(lines.all.length, 1, 'only the boot line so far: nothing is sent inside receive()');
    assert.equal(board.relays, 0b110, 'requests are applied at once');
    assert.deepEqual(
      [await lines.take(), await lines.take(), await lines.take(), await lines.take()],
      ['1 OK 0002\n', '2 OK 0006\n', '3 OK 0006\n', '4 OK PONG\n'],
    );
    board.stop();
  });

  test('features=[]: CURRENT and DEFAULT are UNSUPPORTED, no telemetry', async () => {
    const { board, ask } = await booted({ features: [], telemetryIntervalMs: 5 });
    assert.equal(
      await ask('1 HELLO'),
      `1 OK PIPDU/1 channels=16 fw=1.0.0-sim features= boot=${board.bootId} serial=${board.serial}`,
    );
    assert.match(await ask('2 CURRENT'), /^2 ERR UNSUPPORTED \S/);
    assert.match(await ask('3 DEFAULT'), /^3 ERR UNSUPPORTED \S/);
    assert.match(await ask('4 DEFAULT 0001'), /^4 ERR UNSUPPORTED \S/);
    assert.equal(board.storedPowerUpMask, null);
    board.stop();
    mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'setTimeout'] });
    try {
      const quiet = new SimulatedBoard({ features: [], telemetryIntervalMs: 100 });
      const output: string[] = [];
      quiet.on('output', (line) => output.push(line));
      quiet.start();
      mock.timers.tick(5000);
      assert.deepEqual(output, ['! BOOT 0000\n'], 'no ! CURRENT without the current feature');
      quiet.stop();
    } finally {
      mock.timers.reset();
    }
    const onlyCurrent = await booted({ features: ['current'] });
    assert.match(await onlyCurrent.ask('1 HELLO'), / features=current boot=/);
    assert.match(await onlyCurrent.ask('2 DEFAULT'), /^2 ERR UNSUPPORTED /);
    assert.match(await onlyCurrent.ask('3 CURRENT'), /^3 OK /);
    onlyCurrent.board.stop();
  });

  test('telemetry: ! CURRENT about every interval, on channels near their load, off channels 0', async () => {
    const loads = [1000, 200, 3000, ...new Array(13).fill(500)];
    const board = new SimulatedBoard({ telemetryIntervalMs: 10, loadsMa: loads, powerUpMask: 0b101 });
    const lines = new Lines(board);
    board.start();
    assert.equal(await lines.take(), '! BOOT 0005\n');
    for (let i = 0; i < 3; i++) {
      const line = await lines.take();
      const match = /^! CURRENT ((?:\d+,){15}\d+)\n$/.exec(line);
      assert.ok(match, line);
      const values = match[1]!.split(',').map(Number);
      assert.ok(Math.abs(values[0]! - 1000) <= 20, String(values[0]));
      assert.ok(Math.abs(values[2]! - 3000) <= 60, String(values[2]));
      assert.deepEqual(values.slice(3), new Array(13).fill(0));
      assert.equal(values[1], 0);
    }
    board.stop();
  });

  test('noise comes from the random option', async () => {
    const low = await booted({ random: () => 0, loadsMa: new Array(16).fill(1000), powerUpMask: 1 });
    assert.match(await low.ask('1 CURRENT'), /^1 OK 980,0,/);
    low.board.stop();
    const high = await booted({ random: () => 0.999999, loadsMa: new Array(16).fill(1000), powerUpMask: 1 });
    assert.match(await high.ask('1 CURRENT'), /^1 OK 1020,0,/);
    high.board.stop();
  });

  describe('faults', () => {
    test('muted: requests are reported but neither obeyed nor answered', async () => {
      const { board, lines, requests } = await booted({ telemetryIntervalMs: 5 });
      await lines.take(); // telemetry flows
      board.faults.muted = true;
      const seen = lines.all.length;
      board.receive('1 SET 1 1\n2 PING\n');
      assert.deepEqual(requests, ['1 SET 1 1', '2 PING']);
      assert.equal(board.relays, 0);
      board.faults.muted = false;
      board.receive('3 PING\n');
      assert.equal(
        await lines.takeSkippingTelemetry(),
        '3 OK PONG\n',
        'the muted requests were never answered',
      );
      assert.ok(
        lines.all.slice(seen).every((line) => line === '3 OK PONG\n' || line.startsWith('! CURRENT')),
        JSON.stringify(lines.all.slice(seen)),
      );
      board.stop();
    });

    test('muted: no telemetry while hung, and reset() keeps the fault', () => {
      mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'setTimeout'] });
      try {
        const board = new SimulatedBoard({ telemetryIntervalMs: 100 });
        const lines: string[] = [];
        board.on('output', (line) => lines.push(line));
        board.faults.muted = true;
        board.start();
        mock.timers.tick(1000);
        board.reset();
        mock.timers.tick(1000);
        assert.deepEqual(lines, []);
        board.sendEvent('FAULT injected');
        mock.timers.tick(0);
        assert.deepEqual(lines, ['! FAULT injected\n'], 'injected lines still go out');
        board.faults.muted = false;
        mock.timers.tick(100);
        assert.equal(lines.length, 2);
        assert.match(lines[1]!, /^! CURRENT /);
        board.stop();
      } finally {
        mock.timers.reset();
      }
    });

    test('dropProbability 1: requests are obeyed but their replies lost', async () => {
      const { board, lines } = await booted();
      board.faults.dropProbability = 1;
      board.receive('1 SET 3 1\n');
      assert.equal(board.relays, 0b1000);
      board.faults.dropProbability = 0;
      board.receive('2 STATE\n');
      assert.equal(await lines.take(), '2 OK 0008\n');
      board.stop();
    });

    test('dropProbability 0.5 loses about half, decided by the random option', async () => {
      let flip = false;
      const { board, lines } = await booted({
        random: () => {
          flip = !flip;
          return flip ? 0.1 : 0.9;
        },
      });
      board.faults.dropProbability = 0.5;
      board.receive('1 PING\n2 PING\n3 PING\n4 PING\n');
      assert.equal(await lines.take(), '2 OK PONG\n');
      assert.equal(await lines.take(), '4 OK PONG\n');
      board.stop();
    });

    test('extraDelayMs delays replies, which stay in request order', async () => {
      const { board, lines } = await booted({ replyDelayMs: 5 });
      board.faults.extraDelayMs = 40;
      const started = performance.now();
      board.receive('1 PING\n');
      board.faults.extraDelayMs = 0;
      board.receive('2 PING\n');
      assert.equal(await lines.take(), '1 OK PONG\n');
      assert.ok(performance.now() - started >= 40, 'delayed by replyDelayMs + extraDelayMs');
      assert.equal(await lines.take(), '2 OK PONG\n', 'a faster reply never overtakes a slower one');
      board.stop();
    });

    test('setDelayMs: a slow SET/MASK switches when it answers, and what came after waits its turn', async () => {
      const { board, lines } = await booted({ setDelayMs: 60 });
      const changes: Array<[number, number]> = [];
      const started = performance.now();
      board.on('relays', (mask) => changes.push([mask, performance.now() - started]));
      board.receive('1 SET 11 1\n2 STATE\n');
      assert.equal(board.relays, 0, 'not switched on arrival');
      assert.equal(await lines.take(), '1 OK 0800\n');
      const answeredAt = performance.now() - started;
      // libuv timers count whole milliseconds: one may fire up to 1 ms early against performance.now().
      assert.ok(answeredAt >= 59, `answered after ${answeredAt} ms`);
      assert.equal(changes.length, 1);
      assert.ok(changes[0]![1] >= 59, 'the relay switched when the reply left');
      assert.equal(await lines.take(), '2 OK 0800\n', 'STATE behind the slow SET sees it');
      board.receive('3 MASK 00F0\n');
      assert.equal(await lines.take(), '3 OK 00F0\n');
      board.setDelayMs = 0;
      board.receive('4 SET 0 1\n');
      assert.equal(board.relays, 0x00f1, 'a fast board switches at once');
      assert.equal(await lines.take(), '4 OK 00F1\n');
      assert.throws(() => new SimulatedBoard({ setDelayMs: -1 }), RangeError);
    });

    test('setDelayMs: a power loss before the slow SET answered leaves the relay as it was', async () => {
      const { board, lines } = await booted({ setDelayMs: 30 });
      board.receive('1 SET 2 1\n');
      board.reset();
      assert.equal(await lines.take(), '! BOOT 0000\n');
      board.receive('2 STATE\n');
      assert.equal(await lines.take(), '2 OK 0000\n');
    });

    test('garbage and events go out as whole lines', async () => {
      const { board, lines } = await booted();
      board.sendGarbage('#$%^ noise');
      board.sendEvent('FAULT relay 3 stuck');
      board.sendGarbage('');
      assert.equal(await lines.take(), '#$%^ noise\n');
      assert.equal(await lines.take(), '! FAULT relay 3 stuck\n');
      assert.equal(await lines.take(), '\n');
      board.stop();
    });
  });

  test('stop(): no output afterwards, bytes lost, timers cleared; start() again boots', () => {
    mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'setTimeout'] });
    try {
      const board = new SimulatedBoard({ telemetryIntervalMs: 100, replyDelayMs: 50, powerUpMask: 1 });
      const lines: string[] = [];
      const requests: string[] = [];
      board.on('output', (line) => lines.push(line));
      board.on('request', (line) => requests.push(line));
      board.receive('1 PING\n');
      board.start();
      mock.timers.tick(0);
      assert.deepEqual(lines, ['! BOOT 0001\n']);
      board.receive('2 PING\n');
      board.sendEvent('FAULT x');
      board.stop();
      board.receive('3 PING\n');
      board.sendGarbage('late');
      mock.timers.tick(10_000);
      assert.deepEqual(lines, ['! BOOT 0001\n']);
      assert.deepEqual(requests, ['2 PING']);
      assert.equal(board.isRunning, false);
      board.start();
      mock.timers.tick(0);
      assert.equal(lines[1], '! BOOT 0001\n');
      board.stop();
    } finally {
      mock.timers.reset();
    }
  });

  describe('state file (a board that stays powered)', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-simstate-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    test('two boards on the same file see the same relays, boot id, serial and power-up mask', async () => {
      const file = path.join(dir, 'simulator.json');
      const first = await booted({ stateFile: file });
      assert.equal(await first.ask('1 MASK 0A05'), '1 OK 0A05');
      assert.equal(await first.ask('2 DEFAULT 0003'), '2 OK 0003');
      first.board.stop();
      const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      assert.deepEqual(saved, {
        version: 1,
        channels: 16,
        serial: first.board.serial,
        bootId: first.board.bootId,
        relays: '0A05',
        powerUpMask: '0003',
      });

      const second = new SimulatedBoard({ stateFile: file, telemetryIntervalMs: 0 });
      started.add(second);
      const lines = new Lines(second);
      const resumed: Array<[number, string]> = [];
      second.on('resumed', (mask, bootId) => resumed.push([mask, bootId]));
      second.on('boot', () => assert.fail('a board that stayed powered does not boot'));
      second.start();
      assert.equal(second.relays, 0x0a05);
      assert.equal(second.bootId, first.board.bootId);
      assert.equal(second.serial, first.board.serial);
      assert.equal(second.storedPowerUpMask, 0x0003);
      assert.deepEqual(resumed, [[0x0a05, first.board.bootId]]);
      second.receive('3 HELLO\n');
      assert.equal(
        await lines.take(),
        `3 OK PIPDU/1 channels=16 fw=1.0.0-sim features=current,persist boot=${first.board.bootId} serial=${first.board.serial}\n`,
        'no ! BOOT: the reply is the first line',
      );
    });

    test('a reset is still a power loss: a new boot id, the power-up mask, ! BOOT; the serial stays', async () => {
      const file = path.join(dir, 'simulator.json');
      const { board, lines, ask } = await booted({ stateFile: file, powerUpMask: 0x0010 });
      const { bootId, serial } = board;
      await ask('1 SET 0 1');
      board.reset();
      assert.equal(await lines.take(), '! BOOT 0010\n');
      assert.notEqual(board.bootId, bootId);
      assert.equal(board.serial, serial);
      board.stop();
      const again = new SimulatedBoard({ stateFile: file, telemetryIntervalMs: 0 });
      started.add(again);
      again.start();
      assert.equal(again.bootId, board.bootId, 'the new boot id was saved');
      assert.equal(again.relays, 0x0010);
      assert.equal(again.serial, serial);
    });

    test('an explicit serial overrides the saved one; a file for another board is ignored and reported', async () => {
      const file = path.join(dir, 'simulator.json');
      const first = await booted({ stateFile: file });
      first.board.stop();
      const named = new SimulatedBoard({ stateFile: file, serial: 'ABCDEF0123', telemetryIntervalMs: 0 });
      started.add(named);
      named.start();
      assert.equal(named.serial, 'ABCDEF0123');
      assert.equal(named.bootId, first.board.bootId);
      named.stop();
      const errors: Error[] = [];
      const eight = new SimulatedBoard({ stateFile: file, channels: 8, telemetryIntervalMs: 0 });
      started.add(eight);
      eight.on('stateFileError', (error) => errors.push(error));
      const lines = new Lines(eight);
      eight.start();
      assert.equal(await lines.take(), '! BOOT 00\n', 'powered up afresh');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /ignored .*16 channels, not 8/);
      eight.stop(); // writes its state now (while running, writes go out off the caller's turn)
      await writeFile(file, '{ not json');
      const broken = new SimulatedBoard({ stateFile: file, telemetryIntervalMs: 0 });
      started.add(broken);
      const brokenErrors: Error[] = [];
      broken.on('stateFileError', (error) => brokenErrors.push(error));
      broken.start();
      assert.equal(brokenErrors.length, 1);
      assert.equal(broken.relays, 0);
      broken.stop();
      assert.equal((JSON.parse(await readFile(file, 'utf8')) as { bootId: string }).bootId, broken.bootId);
    });
  });

  test('the constructor refuses nonsense', () => {
    assert.throws(() => new SimulatedBoard({ serial: 'abcdef01' }), RangeError);
    assert.throws(() => new SimulatedBoard({ serial: '1234567' }), RangeError);
    assert.throws(() => new SimulatedBoard({ channels: 0 }), RangeError);
    assert.throws(() => new SimulatedBoard({ channels: 33 }), RangeError);
    assert.throws(() => new SimulatedBoard({ powerUpMask: 0x10000 }), RangeError);
    assert.throws(() => new SimulatedBoard({ channels: 4, powerUpMask: 0x10 }), RangeError);
    assert.throws(() => new SimulatedBoard({ firmware: 'has space' }), RangeError);
    assert.throws(() => new SimulatedBoard({ loadsMa: [-5] }), RangeError);
  });
});

describe('LegacySimulatedBoard (original firmware)', () => {
  test('boots with every relay on; letters switch, q/r all; no replies; unknown bytes ignored', () => {
    mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'setTimeout'] });
    try {
      const board = new LegacySimulatedBoard({ telemetryIntervalMs: 0 });
      const output: string[] = [];
      const requests: string[] = [];
      const relays: number[] = [];
      board.on('output', (line) => output.push(line));
      board.on('request', (byte) => requests.push(byte));
      board.on('relays', (mask) => relays.push(mask));
      board.start();
      assert.equal(board.relays, 0xffff);
      board.receive('a');
      assert.equal(board.relays, 0xfffe);
      board.receive('p\r\n');
      assert.equal(board.relays, 0x7ffe);
      board.receive('q');
      assert.equal(board.relays, 0);
      board.receive('AP');
      assert.equal(board.relays, 0x8001);
      board.receive('ZzQsx?1 9\n~');
      assert.equal(board.relays, 0x8001, 'unknown bytes are ignored');
      board.receive('r');
      assert.equal(board.relays, 0xffff);
      mock.timers.tick(5000);
      assert.deepEqual(output, [], 'the original firmware never answers');
      assert.deepEqual(requests.slice(0, 6), ['a', 'p', 'q', 'A', 'P', 'Z']);
      assert.deepEqual(relays, [0xffff, 0xfffe, 0x7ffe, 0, 1, 0x8001, 0xffff]);
      board.receive('q');
      board.reset();
      assert.equal(board.relays, 0xffff, 'a reset forces every relay on again');
      board.stop();
    } finally {
      mock.timers.reset();
    }
  });

  test('comma telemetry every 500 ms by default: amps with 2 decimals', () => {
    mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'setTimeout'] });
    try {
      const loads = [120, 2500, ...new Array(14).fill(1000)];
      const board = new LegacySimulatedBoard({ loadsMa: loads, random: () => 0.5 });
      const output: string[] = [];
      board.on('output', (line) => output.push(line));
      board.start();
      board.receive('c');
      mock.timers.tick(499);
      assert.deepEqual(output, []);
      mock.timers.tick(1);
      assert.equal(output.length, 1);
      assert.equal(output[0], `0.12,2.50,0.00,${new Array(13).fill('1.00').join(',')}\n`);
      mock.timers.tick(1000);
      assert.equal(output.length, 3);
      board.stop();
      mock.timers.tick(5000);
      assert.equal(output.length, 3, 'nothing after stop()');
    } finally {
      mock.timers.reset();
    }
  });

  test('space telemetry: every value followed by a space; crlf option', () => {
    mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'setTimeout'] });
    try {
      const board = new LegacySimulatedBoard({
        format: 'space',
        telemetryIntervalMs: 100,
        random: () => 0.5,
      });
      const output: string[] = [];
      board.on('output', (line) => output.push(line));
      board.start();
      board.receive('q');
      board.receive('B');
      mock.timers.tick(100);
      assert.equal(output.length, 1);
      assert.match(output[0]!, /^0\.00 0\.35 (0\.00 ){14}\n$/);
      board.stop();
      const crlf = new LegacySimulatedBoard({ crlf: true, telemetryIntervalMs: 100 });
      crlf.on('output', (line) => output.push(line));
      crlf.start();
      mock.timers.tick(100);
      assert.match(output[1]!, /^(\d+\.\d\d,){15}\d+\.\d\d\r\n$/);
      crlf.stop();
    } finally {
      mock.timers.reset();
    }
  });

  test('muted ignores commands and stops telemetry; garbage goes out', () => {
    mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'setTimeout'] });
    try {
      const board = new LegacySimulatedBoard({ telemetryIntervalMs: 100 });
      const output: string[] = [];
      board.on('output', (line) => output.push(line));
      board.start();
      board.faults.muted = true;
      board.receive('q');
      assert.equal(board.relays, 0xffff);
      mock.timers.tick(500);
      assert.deepEqual(output, []);
      board.sendGarbage('\u0000\u00ff junk');
      mock.timers.tick(0);
      assert.deepEqual(output, ['\u0000\u00ff junk\n']);
      board.stop();
    } finally {
      mock.timers.reset();
    }
  });
});
