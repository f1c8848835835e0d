import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createRelayBoard } from '../hardware/index.js';
import { LineSplitter } from '../hardware/line-transport.js';
import { MemoryTransport } from '../hardware/memory-transport.js';
import {
  classifyLine,
  formatMask,
  Prp1Board,
  parseCurrents,
  parseHello,
  parseMask,
  RESET_ON_OPEN_WARNING,
} from '../hardware/prp1-board.js';
import { SimulatedBoard, type SimulatedBoardOptions } from '../hardware/simulated-board.js';
import { PduError } from '../src/errors.js';
import { captureLogger, next, rejectsWith, stopAfterSuite, until } from './helpers/board-rig.js';

// --- helpers ----------------------------------------------------------------

interface Rig {
  sim: SimulatedBoard;
  transport: MemoryTransport;
  board: Prp1Board;
  requests: string[];
  lines: Array<Record<string, unknown>>;
}

const owned = stopAfterSuite();

/** A started simulator, past its power-up `! BOOT`, and the request lines it receives. */
async function startSim(
  options: SimulatedBoardOptions = {},
): Promise<{ sim: SimulatedBoard; requests: string[] }> {
  const sim = owned.device(new SimulatedBoard({ telemetryIntervalMs: 0, ...options }));
  const requests: string[] = [];
  sim.on('request', (line) => requests.push(line));
  sim.start();
  // Let the power-up `! BOOT` go out before the host opens the link (a board that was already on).
  await new Promise((resolve) => setImmediate(resolve));
  return { sim, requests };
}

/** A started simulator behind a memory link, and a started driver on it. */
async function rig(
  options: { sim?: SimulatedBoardOptions; replyTimeoutMs?: number; resetOnOpenWindowMs?: number } = {},
): Promise<Rig> {
  const { sim, requests } = await startSim(options.sim);
  const transport = new MemoryTransport({ device: sim });
  const { logger, lines } = captureLogger();
  const board = owned.board(
    new Prp1Board({
      transport,
      logger,
      replyTimeoutMs: options.replyTimeoutMs ?? 100,
      resetOnOpenWindowMs: options.resetOnOpenWindowMs ?? 2000,
      backoff: { initialMs: 5, maxMs: 40 },
    }),
  );
  await board.start();
  return { sim, transport, board, requests, lines };
}

// --- pure parsing -------------------------------------------------------------

describe('PRP/1 parsing', () => {
  test('lines are replies, events, or garbage', () => {
    assert.deepEqual(classifyLine('12 OK 00FF'), { kind: 'reply', id: 12, ok: true, payload: '00FF' });
    assert.deepEqual(classifyLine('4 ERR BADCH channel 99 out of range 0..15'), {
      kind: 'reply',
      id: 4,
      ok: false,
      code: 'BADCH',
      payload: 'channel 99 out of range 0..15',
    });
    assert.deepEqual(classifyLine('! BOOT 0000'), { kind: 'event', name: 'BOOT', rest: '0000' });
    assert.deepEqual(classifyLine('! NEWTHING'), { kind: 'event', name: 'NEWTHING', rest: null });
    assert.deepEqual(classifyLine(''), { kind: 'empty' });
    for (const garbage of [
      'hello',
      '!BOOT 0000',
      '65536 OK 0000',
      '1 ok 0000',
      '1  OK 0000',
      'x1 OK',
      '1 ERR',
    ]) {
      assert.deepEqual(classifyLine(garbage), { kind: 'garbage' }, garbage);
    }
  });

  test('HELLO: identity parsed, unknown keys and features ignored', () => {
    assert.deepEqual(
      parseHello('PIPDU/1 channels=16 fw=1.0.0 features=current,persist,laser boot=3F2A91C0 color=blue'),
      {
        protocol: 'PIPDU/1',
        channels: 16,
        firmware: '1.0.0',
        features: ['current', 'persist'],
        bootId: '3F2A91C0',
        serial: null,
      },
    );
    assert.deepEqual(parseHello('PIPDU/1 channels=8 fw=2.1.0 features= boot=A').features, []);
    const withSerial = (serial: string) =>
      parseHello(`PIPDU/1 channels=16 fw=1.0.0 features= boot=1 serial=${serial}`).serial;
    assert.equal(withSerial('0123456789ABCDEF'), '0123456789ABCDEF');
    assert.equal(withSerial('C0FFEE00'), 'C0FFEE00');
    for (const bad of ['c0ffee00', 'C0FFEE0', '0123456789ABCDEF0', 'XYZ12345', '']) {
      assert.equal(withSerial(bad), null, `a malformed serial=${bad} is taken as none`);
    }
    assert.throws(() => parseHello('PIPDU/2 channels=16 fw=1 features= boot=A'), /PIPDU\/1/);
    assert.throws(() => parseHello('PIPDU/1 channels=16 fw=1 features= boot=xyz'), /boot/);
    assert.throws(() => parseHello('PIPDU/1 fw=1 features= boot=A'), /channels/);
  });

  test('masks are exactly ceil(n/4) upper-case hex digits with no bits above n-1', () => {
    assert.equal(parseMask('00EF', 16), 0xef);
    assert.equal(parseMask('1F', 5), 0x1f);
    assert.throws(() => parseMask('EF', 16));
    assert.throws(() => parseMask('00ef', 16));
    assert.throws(() => parseMask('3F', 5), /bits above/);
    assert.equal(formatMask(0xef, 16), '00EF');
    assert.equal(formatMask(0xffffffff, 32), 'FFFFFFFF');
    assert.deepEqual(parseCurrents('120,0,350', 3), [120, 0, 350]);
    assert.throws(() => parseCurrents('120,0', 3));
  });

  test('lines are split on \\n, \\r dropped, over-long lines discarded', () => {
    const splitter = new LineSplitter(8);
    assert.deepEqual(splitter.push('1 OK\r\n2 O'), { lines: ['1 OK'], overlong: 0 });
    assert.deepEqual(splitter.push('K\n'), { lines: ['2 OK'], overlong: 0 });
    assert.deepEqual(splitter.push('0123456789'), { lines: [], overlong: 1 });
    assert.deepEqual(splitter.push('abc\nok\n'), { lines: ['ok'], overlong: 0 });
  });
});

// --- the driver over an in-memory link ---------------------------------------

describe('Prp1Board over an in-memory link', () => {
  test('connect sends exactly HELLO then STATE and takes the reply as truth', async () => {
    const { sim, requests } = await startSim({ powerUpMask: 0x0005 });
    const board = owned.board(
      new Prp1Board({
        transport: new MemoryTransport({ device: sim }),
        logger: captureLogger().logger,
      }),
    );
    assert.equal(board.online, false);
    const connected = next(board, 'connected');
    const mask = next(board, 'mask');
    await board.start();
    const [event] = await connected;
    assert.equal(board.online, true);
    assert.deepEqual(requests, ['1 HELLO', '2 STATE']);
    assert.equal(event.mask, 0x0005);
    assert.equal(event.reconnect, false);
    assert.equal(event.bootDuringConnect, null);
    assert.equal(event.identity.bootId, sim.bootId);
    assert.deepEqual(board.identity, event.identity);
    assert.deepEqual(await mask, [0x0005]);
    await board.stop();
  });

  test('every verb', async () => {
    const { board, sim, requests } = await rig({ sim: { powerUpMask: 0x00ff } });
    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    assert.equal(await board.state(), 0x00ff);
    assert.equal(await board.set(4, false), 0x00ef);
    assert.equal(await board.setMask(0x1234), 0x1234);
    assert.equal(sim.relays, 0x1234);
    const currents = await board.current();
    assert.equal(currents.length, 16);
    assert.equal(currents[0], 0);
    assert.ok(currents[2]! > 0);
    assert.equal(await board.powerUpMask(), 0x00ff);
    assert.equal(await board.setPowerUpMask(0x0003), 0x0003);
    assert.equal(sim.storedPowerUpMask, 0x0003);
    await board.ping();
    assert.deepEqual(masks, [0x00ff, 0x00ef, 0x1234]);
    assert.deepEqual(requests.slice(2), [
      '3 STATE',
      '4 SET 4 0',
      '5 MASK 1234',
      '6 CURRENT',
      '7 DEFAULT',
      '8 DEFAULT 0003',
      '9 PING',
    ]);
  });

  test('error replies become typed errors', async () => {
    const { board } = await rig({ sim: { features: [] } });
    const badch = await rejectsWith(board.set(99, true), 'BOARD_ERROR');
    assert.equal((badch as PduError & { boardCode: string }).boardCode, 'BADCH');
    await rejectsWith(board.current(), 'UNSUPPORTED');
    await rejectsWith(board.powerUpMask(), 'UNSUPPORTED');
    await rejectsWith(board.setMask(0x1_0000), 'BAD_REQUEST');
    assert.equal(board.online, true);
  });

  test('garbage, unknown events and stale replies are ignored and counted', async () => {
    const { board, sim } = await rig();
    sim.sendGarbage('#$%^ line noise');
    sim.sendGarbage('! boot lower case');
    sim.sendEvent('WEATHER sunny');
    sim.sendEvent('BOOT zz');
    sim.sendGarbage('999 OK 0000');
    sim.sendGarbage('x'.repeat(300));
    await board.ping(); // events go out before this reply
    assert.deepEqual(
      {
        garbage: board.stats.garbageLines,
        unknown: board.stats.unknownEvents,
        stale: board.stats.staleReplies,
      },
      { garbage: 4, unknown: 1, stale: 1 },
    );
    assert.equal(await board.set(1, true), 0x0002);
  });

  test('! CURRENT becomes current, ! FAULT becomes fault', async () => {
    const { board, sim } = await rig({ sim: { powerUpMask: 0x0001, telemetryIntervalMs: 10 } });
    const [milliamps] = await next(board, 'current');
    assert.equal(milliamps.length, 16);
    assert.ok(milliamps[0]! > 0);
    const fault = next(board, 'fault');
    sim.sendEvent('FAULT relay 3 stuck');
    assert.deepEqual(await fault, ['relay 3 stuck']);
  });

  test('a board that stays muted: no warning per reconnect attempt, only the outage itself', async () => {
    const { board, sim, requests, lines } = await rig({ replyTimeoutMs: 30 });
    sim.faults.muted = true;
    await rejectsWith(board.state(), 'BOARD_TIMEOUT');
    await next(board, 'disconnected');
    const warnings = () => lines.filter((line) => line.level === 40).length;
    const atOutage = warnings();
    // Reconnect attempts, each a HELLO that times out: the fourth new one means three timed out.
    const hellos = () => requests.filter((line) => verb(line) === 'HELLO').length;
    const target = hellos() + 4;
    while (hellos() < target) await new Promise((resolve) => sim.once('request', resolve));
    assert.equal(warnings(), atOutage, 'reconnect attempts against a muted board log no warnings');
    assert.ok(
      lines.some((line) => line.level === 20 && /did not answer/.test(String(line.msg))),
      'they are still there at debug level',
    );
  });

  test('a reply timeout fails the queue at once, probes with PING, goes offline at the third, recovers', async () => {
    const { board, sim, requests } = await rig({ replyTimeoutMs: 80 });
    sim.faults.muted = true;
    const started = performance.now();
    const first = board.state();
    const queued = [board.set(1, true), board.ping(), board.state()];
    await rejectsWith(first, 'BOARD_TIMEOUT');
    const firstAt = performance.now() - started;
    for (const call of queued) await rejectsWith(call, 'BOARD_TIMEOUT');
    const queuedAt = performance.now() - started;
    assert.ok(firstAt >= 70, `timed out after ${firstAt} ms`);
    assert.ok(queuedAt - firstAt < 40, `queued calls failed ${queuedAt - firstAt} ms after the first`);
    assert.ok(!requests.some((line) => / SET /.test(line)), 'queued calls were never sent');

    const [reason] = await next(board, 'disconnected');
    assert.equal(reason.code, 'BOARD_TIMEOUT');
    assert.equal(board.online, false);
    assert.equal(board.stats.timeouts >= 3, true);
    assert.deepEqual(requests.slice(2, 5).map(verb), ['STATE', 'PING', 'PING']);
    await rejectsWith(board.state(), 'BOARD_OFFLINE');

    const before = requests.length;
    const reconnected = next(board, 'connected');
    sim.faults.muted = false;
    const [event] = await reconnected;
    assert.equal(event.reconnect, true);
    assert.equal(event.bootDuringConnect, null);
    assert.ok(board.stats.reconnects >= 1);
    const after = requests.slice(before).map(verb);
    assert.ok(
      after.every((v) => v === 'HELLO' || v === 'STATE'),
      after.join(' '),
    );
    assert.deepEqual(after.slice(-2), ['HELLO', 'STATE']);
    assert.equal(await board.set(2, true), 0x0004);
  });

  test('a late reply is stale and discarded; the next request is answered', async () => {
    const { board, sim } = await rig({ replyTimeoutMs: 60 });
    // Only the next reply is late: the probe's reply comes right behind it.
    sim.faults.extraDelayMs = 100;
    sim.once('request', () => setImmediate(() => (sim.faults.extraDelayMs = 0)));
    await rejectsWith(board.state(), 'BOARD_TIMEOUT');
    await until(() => board.stats.staleReplies > 0);
    assert.equal(await board.set(0, true), 0x0001);
    assert.equal(board.online, true);
  });

  test('a SET answered late: the caller hears the relay may have switched, STATE is re-read at once and emitted', async () => {
    const { board, sim, requests, lines } = await rig({ replyTimeoutMs: 80 });
    sim.setDelayMs = 150; // a slow board: the relay switches when the late reply leaves
    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    const reread = next(board, 'mask', 1000);
    const before = requests.length;
    const error = await rejectsWith(board.set(11, true), 'BOARD_TIMEOUT');
    assert.match(
      error.message,
      /^the relay board did not answer SET within 80 ms; the relay may have switched — its state is being re-read$/,
    );
    const queuedBehind = board.ping(); // made after the timeout: waits for the re-read, then goes out
    assert.deepEqual(await reread, [0x0800], 'the board did switch: its real state is emitted');
    assert.deepEqual(masks, [0x0800]);
    assert.equal(sim.relays, 0x0800);
    await queuedBehind;
    assert.deepEqual(
      requests.slice(before).map(verb),
      ['SET', 'STATE', 'PING'],
      'the probe was STATE, and it went out before anything else',
    );
    assert.equal(board.stats.staleReplies, 1, 'the late SET reply itself is stale');
    assert.equal(board.online, true);
    sim.setDelayMs = 0;
    assert.equal(await board.state(), 0x0800, 'state() agrees');
    assert.ok(lines.some((line) => /re-reading its relays/.test(String(line.msg))));
  });

  test('a MASK whose re-read times out too: STATE again as the next probe, the third timeout goes offline', async () => {
    const { board, sim, requests } = await rig({ replyTimeoutMs: 60 });
    sim.faults.muted = true;
    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    const before = requests.length;
    const disconnected = next(board, 'disconnected');
    const error = await rejectsWith(board.setMask(0x00f0), 'BOARD_TIMEOUT');
    assert.match(error.message, /did not answer MASK .*may have switched/);
    await disconnected;
    assert.deepEqual(requests.slice(before, before + 3).map(verb), ['MASK', 'STATE', 'STATE']);
    assert.deepEqual(masks, []);
    const reconnected = next(board, 'connected');
    const reread = next(board, 'mask');
    sim.faults.muted = false;
    const [event] = await reconnected;
    assert.equal(event.mask, 0, 'the muted board never switched');
    assert.deepEqual(await reread, [0], "the reconnect's STATE is emitted as mask");
    assert.deepEqual(masks, [0]);
  });

  test('a SET in flight when the link vanishes: the caller hears the relay may have switched', async () => {
    const { board, sim, transport } = await rig();
    sim.setDelayMs = 50; // within the reply timeout: only the lost link keeps the reply from the driver
    const received = new Promise<string>((resolve) => sim.once('request', resolve));
    const inFlight = board.set(2, true);
    assert.match(await received, / SET 2 1$/, 'the SET reached the board (which holds its reply)');
    transport.unplug();
    const error = await rejectsWith(inFlight, 'BOARD_OFFLINE');
    assert.match(error.message, /the relay may have switched — its state is re-read when the board is back$/);
    const reread = next(board, 'mask');
    transport.plug();
    // The board handles requests in order: the handshake's STATE comes after the slow SET switched.
    assert.deepEqual(await reread, [0x0004], "the reconnect's STATE is emitted as mask");
    assert.equal(sim.relays, 0x0004);
  });

  test('a vanished link fails calls at once and reconnects when it is back', async () => {
    const { board, transport, requests } = await rig();
    const disconnected = next(board, 'disconnected');
    const inFlight = board.state();
    transport.unplug();
    await rejectsWith(inFlight, 'BOARD_OFFLINE');
    const [reason] = await disconnected;
    assert.equal(reason.code, 'BOARD_OFFLINE');
    await rejectsWith(board.set(1, true), 'BOARD_OFFLINE');
    const before = requests.length;
    const reconnected = next(board, 'connected');
    transport.plug();
    const [event] = await reconnected;
    assert.equal(event.reconnect, true);
    assert.deepEqual(requests.slice(before).map(verb), ['HELLO', 'STATE']);
  });

  test('a reset while online: identity and mask re-read, then boot carrying them', async () => {
    const { board, sim, requests, lines } = await rig({
      sim: { powerUpMask: 0x0081 },
      resetOnOpenWindowMs: 0,
    });
    await board.setMask(0xffff);
    const oldBoot = board.identity!.bootId;
    const before = requests.length;
    const masks: number[] = [];
    board.on('mask', (mask) => masks.push(mask));
    const boot = next(board, 'boot');
    sim.reset();
    const [event] = await boot;
    assert.equal(event.mask, 0x0081);
    assert.ok(event.msSinceOpen >= 0);
    assert.notEqual(board.identity!.bootId, oldBoot);
    assert.equal(board.identity!.bootId, sim.bootId);
    assert.deepEqual(requests.slice(before).map(verb), ['HELLO', 'STATE']);
    assert.deepEqual(masks, [], 'the re-read mask travels in the boot event, so the reset is seen first');
    assert.ok(!lines.some((line) => line.msg === RESET_ON_OPEN_WARNING));
  });

  test('a reset that cuts the line being sent: the ! BOOT after the cut part is still seen', async () => {
    const { board, sim } = await rig({ sim: { powerUpMask: 0x0101 }, resetOnOpenWindowMs: 0 });
    await board.setMask(0xffff);
    const garbageBefore = board.stats.garbageLines;
    const boot = next(board, 'boot');
    // Half a telemetry line, then the reset: `! CURRENT 120,3! BOOT 0101` arrives as one line.
    sim.emit('output', '! CURRENT 120,3');
    sim.reset();
    const [event] = await boot;
    assert.equal(event.mask, 0x0101);
    assert.equal(board.stats.garbageLines, garbageBefore + 1, 'the cut part counts as garbage');
  });

  test('a reset that swallows the call in flight: the call times out, the re-read still happens', async () => {
    const { board, sim, requests } = await rig({ sim: { powerUpMask: 0x0010 }, replyTimeoutMs: 100 });
    const oldBoot = board.identity!.bootId;
    sim.faults.extraDelayMs = 30; // replies still well within the timeout
    const boot = next(board, 'boot');
    const inFlight = board.setMask(0x0f00);
    const queued = board.state();
    sim.reset(); // drops the pending reply, sends `! BOOT`
    await rejectsWith(inFlight, 'BOARD_TIMEOUT');
    await rejectsWith(queued, 'BOARD_TIMEOUT');
    const [event] = await boot;
    assert.equal(event.mask, 0x0010);
    assert.notEqual(board.identity!.bootId, oldBoot);
    assert.equal(board.identity!.bootId, sim.bootId);
    assert.equal(board.online, true);
    assert.deepEqual(requests.slice(-2).map(verb), ['HELLO', 'STATE'], 'the re-read served as the probe');
  });

  test('a reset right after opening the port: handshake redone, reported, warned about', async () => {
    const { sim, requests } = await startSim({ powerUpMask: 0x0003 });
    // An auto-resetting Arduino: opening the port resets it.
    let resetOnce = true;
    sim.on('request', () => {
      if (resetOnce) {
        resetOnce = false;
        sim.reset();
      }
    });
    const { logger, lines } = captureLogger();
    const board = owned.board(
      new Prp1Board({
        transport: new MemoryTransport({ device: sim }),
        logger,
        replyTimeoutMs: 50,
      }),
    );
    const connected = next(board, 'connected');
    await board.start();
    const [event] = await connected;
    assert.ok(event.bootDuringConnect, 'bootDuringConnect reported');
    assert.equal(event.bootDuringConnect.mask, 0x0003);
    assert.ok(event.bootDuringConnect.msSinceOpen < 2000);
    assert.equal(event.identity.bootId, sim.bootId);
    assert.equal(event.mask, 0x0003);
    const warning = lines.find((line) => line.msg === RESET_ON_OPEN_WARNING);
    assert.ok(warning, 'the DTR warning was logged');
    assert.equal(warning.level, 40);
    assert.ok(
      requests.every((line) => / (HELLO|STATE)$/.test(line)),
      requests.join(', '),
    );
    await board.stop();
  });

  test('stop: calls reject STOPPED and nothing is emitted afterwards', async () => {
    const { board, sim } = await rig({ sim: { telemetryIntervalMs: 5, powerUpMask: 1 } });
    await next(board, 'current');
    const pending = board.state();
    await board.stop();
    await rejectsWith(pending, 'STOPPED');
    await rejectsWith(board.set(0, true), 'STOPPED');
    let emitted = 0;
    board.on('current', () => emitted++);
    board.on('fault', () => emitted++);
    sim.sendEvent('FAULT after stop');
    sim.sendEvent('CURRENT 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1');
    // The simulator sends events on the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(emitted, 0);
    assert.equal(board.online, false);
  });

  test('start with nothing to open resolves, keeps retrying quietly, and connects later', async () => {
    const sim = owned.device(new SimulatedBoard({ telemetryIntervalMs: 0 }));
    sim.start();
    const transport = new MemoryTransport({ device: sim });
    transport.unplug();
    const { logger, lines } = captureLogger();
    const board = owned.board(new Prp1Board({ transport, logger, backoff: { initialMs: 2, maxMs: 10 } }));
    await board.start();
    assert.equal(board.online, false);
    await rejectsWith(board.state(), 'BOARD_OFFLINE');
    // Let it fail a few times, then plug in.
    await until(() => lines.filter((line) => /cannot be opened/.test(String(line.msg))).length >= 4);
    const warnings = lines.filter((line) => line.level === 40 && /cannot be opened/.test(String(line.msg)));
    assert.equal(warnings.length, 1, 'the outage is logged once');
    const connected = next(board, 'connected');
    transport.plug();
    const [event] = await connected;
    assert.equal(event.reconnect, false);
    await board.stop();
  });
});

describe('createRelayBoard', () => {
  test('names the valid drivers on a bad one, wants a port for serial drivers', () => {
    const logger = captureLogger().logger;
    const base = { baudRate: 115200, switchSpacingMs: 0, replyTimeout: 500 };
    assert.throws(
      () => createRelayBoard({ ...base, driver: 'zigbee' as never, port: '/dev/x' }, { logger }),
      (error: unknown) =>
        error instanceof PduError &&
        error.code === 'BAD_CONFIG' &&
        /prp1, legacy, simulator/.test(error.message),
    );
    assert.throws(
      () => createRelayBoard({ ...base, driver: 'prp1' }, { logger }),
      (error: unknown) =>
        error instanceof PduError && error.code === 'BAD_CONFIG' && /board\.port/.test(error.message),
    );
    assert.equal(
      createRelayBoard({ ...base, driver: 'legacy', port: '/dev/x' }, { logger }).reportsState,
      false,
    );
  });

  test('simulator: the PRP/1 driver on the in-process simulator', async () => {
    const { logger, lines } = captureLogger();
    const board = createRelayBoard(
      { driver: 'simulator', baudRate: 115200, switchSpacingMs: 0, replyTimeout: 500 },
      { logger },
    );
    const connected = next(board, 'connected');
    await board.start();
    const [event] = await connected;
    assert.equal(board.driver, 'simulator');
    assert.equal(event.identity.protocol, 'PIPDU/1');
    assert.equal(await board.set(3, true), 0x0008);
    assert.equal((await board.current()).length, 16);
    assert.ok(!lines.some((line) => line.msg === RESET_ON_OPEN_WARNING), 'no DTR warning for the simulator');
    await board.stop();
  });

  test('simulator with a state file: a restarted daemon finds the same board, relays and boot id', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-simfile-'));
    try {
      const file = path.join(dir, 'simulator.json');
      const start = async () => {
        const board = createRelayBoard(
          { driver: 'simulator', baudRate: 115200, switchSpacingMs: 0, replyTimeout: 500 },
          { logger: captureLogger().logger, simulatorStateFile: file },
        );
        const connected = next(board, 'connected');
        await board.start();
        return { board, event: (await connected)[0] };
      };
      const first = await start();
      assert.match(first.event.identity.serial ?? '', /^[0-9A-F]{16}$/);
      assert.equal(await first.board.setMask(0x0108), 0x0108);
      await first.board.stop();

      const second = await start();
      assert.equal(second.event.mask, 0x0108, 'the relays as the first daemon left them');
      assert.equal(second.event.bootDuringConnect, null, 'no power-up: the board stayed powered');
      assert.equal(second.event.identity.bootId, first.event.identity.bootId);
      assert.equal(second.event.identity.serial, first.event.identity.serial);
      await second.board.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function verb(line: string): string {
  return line.split(' ')[1] ?? '';
}
