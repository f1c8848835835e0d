/**
 * The prp1 driver and daemon tests that run against every board on a real
 * serial path: the simulator CLI as its own process (prp1-serial.test.ts,
 * pdu-serial.test.ts) and the real firmware in the emulator
 * (prp1-firmware.test.ts). A board is a `SerialBoardUnderTest`: its process
 * (requests and relay pins from its JSON events), how to wait until every
 * event it printed has been read, and how to make it lose power.
 *
 * Driver cases share one `DriverRig` (a board and a `Prp1Board` through the
 * real `SerialTransport`) and run in order: connect, switch, BADCH, power
 * loss, restart. Daemon cases start `PduService`s themselves.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { Prp1Board } from '../../hardware/prp1-board.js';
import type { BoardConnectedEvent } from '../../hardware/relay-board.js';
import { SerialTransport } from '../../hardware/serial-transport.js';
import type { PduError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { PduService } from '../../src/pdu/pdu-service.js';
import { captureLogger, eventWaiter, rejectsWith } from './board-rig.js';
import { startFirmware } from './firmware-process.js';
import { ALICE, once, serialDaemon, until } from './pdu-fixture.js';
import { requests as asRequests } from './requests.js';
import type { EventProcess, SimulatorProcess } from './simulator-process.js';

/** How much the delivery delay of two lines to the simulator process may differ (see bootRestoreCase). */
const DELIVERY_JITTER_MS = 5;

type Json = Record<string, unknown>;

const next = eventWaiter(5000);

/** A board on a serial path whose process reports what it received and how its relays are. */
export interface SerialBoardUnderTest {
  readonly name: string;
  readonly path: string;
  /** Its `request` events (and `requests`) are what reached the board. */
  readonly process: EventProcess;
  /** `fw=` in its HELLO. */
  readonly firmware: string;
  /** The mask its relays powered up with: the stored power-up mask when the test started. */
  readonly powerUpMask: number;
  /** Readings that show a socket's relay: on channels read at least `onMinMa`, off ones at most `offMaxMa`. */
  readonly current: { onMinMa: number; offMaxMa: number };
  /**
   * Resolves once every event the process printed before this call has been
   * read: call it after a reply, before looking at `process.events`. (The
   * reply on the pty and the events on stdout are separate channels.)
   */
  sync(): Promise<void>;
  /** The relay pins as the process last reported them. */
  relays(): number;
  /** The boot id the board announced for its current boot (after sync()), or null if not known yet. */
  bootId(): string | null;
  /** HELLO's serial= as the board announced it (after sync()), or null if it has none / did not say yet. */
  serial(): string | null;
  /**
   * From now on the board's replies to SET and MASK (and whatever it answers
   * after them) reach the host `ms` late, the relay switching all the same;
   * `lateReplies(0)` ends it. Resolves once it is in effect.
   */
  lateReplies(ms: number): Promise<void>;
  /** When the board received a request, in the test's clock (ms), if the board reports it; else null. */
  receivedAtMs(event: Json): number | null;
  /** Power loss: the board resets and keeps its stored power-up mask (SIGUSR1). */
  powerLoss(): Promise<void>;
  stop(): Promise<void>;
}

/** The simulator CLI process (startSimulator()) as a board under test. */
export function simulatorUnderTest(
  sim: SimulatorProcess,
  options: { powerUpMask?: number } = {},
): SerialBoardUnderTest {
  return {
    name: 'the simulator',
    path: sim.path,
    process: sim,
    firmware: '1.0.0-sim',
    powerUpMask: options.powerUpMask ?? 0,
    // Simulated loads are 40..2500 mA ±2 %, and an off socket reads exactly 0.
    current: { onMinMa: 1, offMaxMa: 0 },
    // The simulator prints pin changes and requests before it queues the reply; a control
    // line acknowledged after the reply arrived comes after them. `unmute` changes nothing here.
    sync: () => sim.command('unmute'),
    relays() {
      const latest = sim.events.findLast((event) => event.event === 'boot' || event.event === 'relays');
      return typeof latest?.mask === 'string' ? Number.parseInt(latest.mask, 16) : 0;
    },
    bootId: () => sim.bootId || null,
    serial: () => sim.serial,
    // A slow board: it switches and answers only after the delay.
    lateReplies: (ms) => sim.command(`set-delay ${ms}`),
    receivedAtMs: (event) => (typeof event.at === 'number' ? event.at : null),
    powerLoss: async () => sim.signal('SIGUSR1'),
    stop: () => sim.stop(),
  };
}

/** The load on every socket of the emulated board (the runner's default, given explicitly: sync() restates it). */
const FIRMWARE_LOAD_MA = 1000;
const HELLO_REPLY = /^\d+ OK PIPDU\/1 .*\bboot=([0-9A-F]{1,8})(?: |$)/;
const HELLO_SERIAL = /^\d+ OK PIPDU\/1 .* serial=([0-9A-F]{8,16})(?: |$)/;

/**
 * The firmware in the emulator (firmware/build/pipdu-sim; build it first with
 * buildFirmware()) with a fresh EEPROM file in a temporary directory that
 * stop() removes. Its CPU starts when the first client opens the pty, so that
 * client sees the power-up `! BOOT`.
 */
export async function startFirmwareUnderTest(): Promise<SerialBoardUnderTest> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-fw-driver-'));
  let runner: EventProcess;
  try {
    runner = await startFirmware({
      path: path.join(dir, 'board'),
      args: ['--eeprom', path.join(dir, 'eeprom.bin'), '--load', String(FIRMWARE_LOAD_MA)],
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    name: 'the firmware in the emulator',
    path: runner.path,
    process: runner,
    firmware: '1.0.0',
    powerUpMask: 0, // a fresh EEPROM: no valid mask stored, all off
    // A 1 A load within 5 %; an off socket near 0 (relay-board conformance: at most 30 mA).
    current: { onMinMa: FIRMWARE_LOAD_MA * 0.95, offMaxMa: 30 },
    // The runner prints each event before the bytes it describes reach the pty, and answers
    // control lines in order: once a control sent after the reply is acknowledged, every event
    // up to the reply has been read. Restating a socket's load changes nothing.
    sync: () => runner.command(`load 0 ${FIRMWARE_LOAD_MA}`),
    relays() {
      // Changes only: until the first, every relay is as powered up (inputs: off).
      const mask = runner.events.findLast((event) => event.event === 'relays')?.mask;
      return typeof mask === 'string' ? Number.parseInt(mask, 16) : 0;
    },
    bootId() {
      // The runner does not know boot ids: the firmware's own HELLO reply since its latest (re)start says it.
      const boot = runner.events.findLastIndex((event) => event.event === 'boot');
      for (let i = runner.events.length - 1; i > boot; i--) {
        const event = runner.events[i]!;
        const hello = event.event === 'output' ? HELLO_REPLY.exec(String(event.line)) : null;
        if (hello) return hello[1]!;
      }
      return null;
    },
    serial() {
      // The latest HELLO reply says it (the runner does not know the firmware's serial).
      const hello = runner.events.findLast(
        (event) => event.event === 'output' && HELLO_REPLY.test(String(event.line)),
      );
      return hello ? (HELLO_SERIAL.exec(String(hello.line))?.[1] ?? null) : null;
    },
    // The runner holds the firmware's output (the firmware switched and answered at once; the
    // line is late): a SET sent now is answered `ms` later, and so is what follows within them.
    lateReplies: (ms) => runner.command(`hold ${ms}`),
    receivedAtMs: () => null, // only simulated time (t_us), which says nothing about the host's pacing
    async powerLoss() {
      // Reset between lines: a reset in the middle of a `! CURRENT` line glues the `! BOOT` onto
      // the cut line, which the prp1 driver discards as garbage (and so misses the reset). Telemetry
      // comes once a simulated second; the reset follows the line that just ended within a few ms.
      await runner.waitFor(
        (event) => event.event === 'output' && String(event.line).startsWith('! CURRENT '),
        5000,
      );
      runner.signal('SIGUSR1');
    },
    async stop() {
      try {
        await runner.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The verbs of request lines (`7 SET 4 0` → `SET`). */
export const verbs = (lines: string[]) => lines.map((line) => line.split(' ')[1]);

/** Request lines that switch relays. */
export const switching = (lines: string[]) => lines.filter((line) => / (SET|MASK) /.test(line));

/**
 * A board's power-up `! BOOT` may reach the pty just after the driver opened
 * it (the simulator's socat forwards it late; the emulated firmware's CPU
 * starts when the port is opened): the driver then rightly reports a reset
 * during connect and redoes the handshake. Tests accept both.
 */
export function handshakeLines(event: BoardConnectedEvent): string[] {
  return event.bootDuringConnect ? ['1 HELLO', '2 STATE', '3 HELLO', '4 STATE'] : ['1 HELLO', '2 STATE'];
}

/** The PRP/1 driver through the real serialport code. */
export function serialBoard(devicePath: string, logger: Logger, replyTimeoutMs: number): Prp1Board {
  return new Prp1Board({
    transport: new SerialTransport({ path: devicePath, baudRate: 115200 }),
    logger,
    replyTimeoutMs,
    backoff: { initialMs: 20, maxMs: 200 },
  });
}

/** Why `milliamps` does not show exactly the relays of `mask` on, or null if it does. */
function currentsMismatch(
  milliamps: readonly number[],
  mask: number,
  { onMinMa, offMaxMa }: SerialBoardUnderTest['current'],
): string | null {
  if (milliamps.length !== 16) return `${milliamps.length} values`;
  for (let channel = 0; channel < 16; channel++) {
    const on = (mask & (1 << channel)) !== 0;
    const value = milliamps[channel]!;
    if (on ? value < onMinMa : value > offMaxMa)
      return `channel ${channel} is ${on ? 'on' : 'off'} and reads ${value} mA`;
  }
  return null;
}

/** A board under test and the driver connected to it; `connect()` starts another driver on the same port. */
export class DriverRig {
  board!: Prp1Board;
  connected!: BoardConnectedEvent;

  constructor(
    readonly target: SerialBoardUnderTest,
    readonly replyTimeoutMs: number,
  ) {}

  /** Starts a new driver on the board's port; resolves with its `connected` event. */
  async connect(logger: Logger = captureLogger().logger): Promise<BoardConnectedEvent> {
    this.board = serialBoard(this.target.path, logger, this.replyTimeoutMs);
    const connected = next(this.board, 'connected');
    await this.board.start();
    [this.connected] = await connected;
    return this.connected;
  }

  /** The relay pins equal `mask` once everything the board printed has been read. */
  async expectRelays(mask: number, message?: string): Promise<void> {
    await this.target.sync();
    assert.equal(hex(this.target.relays()), hex(mask), message ?? 'the relay pins');
  }

  async stop(): Promise<void> {
    try {
      await this.board?.stop();
    } finally {
      await this.target.stop();
    }
  }
}

const hex = (mask: number) => mask.toString(16).toUpperCase().padStart(4, '0');

// --- driver cases (in this order, on one rig) --------------------------------

/** Connect sends exactly HELLO then STATE and adopts the reply: identity, boot id and the relays as they are. */
export async function connectCase(rig: DriverRig): Promise<void> {
  const { board, target, connected } = rig;
  assert.equal(board.online, true);
  await target.sync();
  assert.deepEqual(target.process.requests, handshakeLines(connected));
  assert.equal(connected.mask, target.powerUpMask);
  assert.equal(connected.reconnect, false);
  assert.deepEqual(board.identity, {
    protocol: 'PIPDU/1',
    channels: 16,
    firmware: target.firmware,
    features: ['current', 'persist'],
    bootId: target.bootId(),
    serial: target.serial(),
  });
  assert.match(board.identity?.serial ?? '', /^[0-9A-F]{8,16}$/, 'the board says which board it is');
  await rig.expectRelays(connected.mask, 'the relays are as the board powered up');
}

/**
 * Every verb; the relay pins equal the mask the driver got after each reply,
 * and on-channel currents follow them. Leaves the relays at 0F0F and the
 * power-up mask at 0101.
 */
export async function switchCase(rig: DriverRig): Promise<number[]> {
  const { board, target } = rig;
  const powerUp = rig.connected.mask;
  await target.sync();
  const since = target.process.requests.length;
  assert.equal(await board.state(), powerUp);
  await rig.expectRelays(powerUp);
  const toggled = powerUp ^ 0x10;
  assert.equal(await board.set(4, (toggled & 0x10) !== 0), toggled);
  await rig.expectRelays(toggled);
  assert.equal(await board.setMask(0x0f0f), 0x0f0f);
  await rig.expectRelays(0x0f0f);
  // A measured current settles within a sampling window after its relay switched:
  // wait for telemetry that shows the new relays, then CURRENT must say the same.
  await next(board, 'current', 5000, (values) => currentsMismatch(values, 0x0f0f, target.current) === null);
  const currents = await board.current();
  assert.equal(currentsMismatch(currents, 0x0f0f, target.current), null, currents.join(','));
  assert.equal(
    await board.powerUpMask(),
    powerUp,
    'the stored power-up mask is the one the relays came up with',
  );
  assert.equal(await board.setPowerUpMask(0x0101), 0x0101);
  await board.ping();
  await rig.expectRelays(0x0f0f, 'DEFAULT stores a mask and switches nothing');
  assert.deepEqual(verbs(target.process.requests.slice(since)), [
    'STATE',
    'SET',
    'MASK',
    'CURRENT',
    'DEFAULT',
    'DEFAULT',
    'PING',
  ]);
  assert.match(target.process.requests.at(-2)!, /^\d+ DEFAULT 0101$/);
  return currents;
}

/** A channel the board does not have: ERR BADCH as a typed error, nothing switched. */
export async function badChannelCase(rig: DriverRig): Promise<void> {
  const { board } = rig;
  const mask = await board.state();
  for (const channel of [99, 16]) {
    const error = await rejectsWith(board.set(channel, true), 'BOARD_ERROR');
    assert.equal((error as PduError & { boardCode: string }).boardCode, 'BADCH', `channel ${channel}`);
  }
  assert.equal(await board.state(), mask);
  await rig.expectRelays(mask, 'a refused SET switches nothing');
}

/** Power loss: `! BOOT` with the power-up mask stored by switchCase(), identity re-read with the new boot id. */
export async function powerLossCase(rig: DriverRig): Promise<void> {
  const { board, target } = rig;
  const oldBoot = board.identity!.bootId;
  await target.sync();
  const since = target.process.requests.length;
  const boot = next(board, 'boot');
  await target.powerLoss();
  const [event] = await boot;
  assert.equal(event.mask, 0x0101, 'the power-up mask stored earlier');
  assert.ok(event.msSinceOpen >= 0);
  const newBoot = board.identity!.bootId;
  assert.notEqual(newBoot, oldBoot);
  assert.equal(await board.state(), 0x0101);
  await rig.expectRelays(0x0101, 'the relays came up with the stored power-up mask');
  assert.equal(target.bootId(), newBoot, 'the boot id the board announced after the reset');
  assert.deepEqual(
    verbs(target.process.requests.slice(since)),
    ['HELLO', 'STATE', 'STATE'],
    'the driver re-read identity and state, and switched nothing',
  );
}

/**
 * A SET answered after the reply timeout by a board that did switch: the
 * caller gets BOARD_TIMEOUT saying the relay may have switched, the driver
 * probes with STATE at once (not PING, nothing before it), and within a
 * second emits the board's real mask as `mask`; `state()` agrees. Leaves the
 * relays as it found them.
 */
export async function lateSetCase(rig: DriverRig): Promise<void> {
  const { board, target } = rig;
  const before = await board.state();
  const channel = [11, 12, 13, 14, 15].find((ch) => (before & (1 << ch)) === 0);
  assert.ok(channel !== undefined, 'a channel that is off to begin with');
  const bit = 1 << channel;
  await target.sync();
  const since = target.process.requests.length;
  const masks: number[] = [];
  const onMask = (mask: number) => masks.push(mask);
  board.on('mask', onMask);
  try {
    // Late by half a timeout more than the timeout: the probe sent at the timeout is answered in time.
    await target.lateReplies(Math.round(rig.replyTimeoutMs * 1.5));
    const started = performance.now();
    const error = await rejectsWith(board.set(channel, true), 'BOARD_TIMEOUT');
    assert.equal(
      error.message,
      `the relay board did not answer SET within ${rig.replyTimeoutMs} ms; the relay may have switched — its state is being re-read`,
    );
    if (masks.length === 0) await next(board, 'mask', 1000);
    const within = performance.now() - started - rig.replyTimeoutMs;
    assert.ok(within < 1000, `the mask came ${within} ms after the timeout`);
    assert.deepEqual(masks, [before | bit], "the board's real state: the late SET did switch");
    await target.lateReplies(0);
    assert.equal(await board.state(), before | bit, 'state() agrees');
    await rig.expectRelays(before | bit, 'the relay did switch');
    await target.sync();
    const sent = verbs(target.process.requests.slice(since));
    assert.deepEqual(sent.slice(0, 2), ['SET', 'STATE'], 'the probe was STATE, sent before anything else');
    assert.ok(
      sent.slice(2).every((verb) => verb === 'STATE'),
      `${sent.join(' ')}: no PING, nothing else (a second probe only if the first was late too)`,
    );
    assert.equal(board.online, true);
    assert.equal(await board.set(channel, false), before);
  } finally {
    board.off('mask', onMask);
    await target.lateReplies(0);
  }
}

/**
 * Restart safety: stop the driver with relays on and start a new one on the
 * same port. Opening the port does not reset the board (no DTR auto-reset),
 * so the new driver sends HELLO and STATE only and adopts what it finds.
 */
export async function driverRestartCase(rig: DriverRig): Promise<void> {
  const { target } = rig;
  const mask = await rig.board.state();
  assert.notEqual(mask, 0, 'some relays are on');
  const bootId = rig.board.identity!.bootId;
  await target.sync();
  const since = target.process.requests.length;
  const sinceEvent = target.process.events.length;
  await rig.board.stop();
  const event = await rig.connect();
  await target.sync();
  assert.deepEqual(target.process.requests.slice(since), ['1 HELLO', '2 STATE']);
  assert.equal(event.bootDuringConnect, null, 'opening the port did not reset the board');
  assert.equal(event.reconnect, false);
  assert.equal(event.mask, mask);
  assert.equal(event.identity.bootId, bootId);
  assert.deepEqual(
    target.process.events.slice(sinceEvent).filter((e) => e.event === 'relays' || e.event === 'boot'),
    [],
    'no relay pin changed and the board did not reset',
  );
  await rig.expectRelays(mask);
  assert.equal(await rig.board.state(), mask);
}

// --- daemon cases --------------------------------------------------------------

/** A Pdu service on the prp1 driver at `port` with its state in `dir` (kept: a restart reads it again); online. */
function daemonIn(
  dir: string,
  port: string,
  sockets: string,
  cleanups: Array<() => Promise<unknown>>,
): Promise<PduService> {
  return serialDaemon(port, sockets, cleanups, { stateDir: dir });
}

/** The relays the service shows on, as a mask (socket n is channel n-1 here). */
function shownMask(service: PduService): number {
  return service
    .list()
    .filter((socket) => socket.on)
    .reduce((mask, socket) => mask | (1 << socket.channel), 0);
}

const onSockets = (service: PduService) =>
  service
    .list()
    .filter((socket) => socket.on)
    .map((socket) => socket.number);

/**
 * Daemon restart safety: a restart (same state dir, same port, no board
 * reset) sends no SET or MASK and leaves the relays as they are; a daemon
 * whose state.json says sockets were on while the board says off (switched
 * off behind its back) adopts off and switches nothing, although their
 * policy is `restore: last`: the board is the truth.
 */
export async function daemonRestartCase(
  target: SerialBoardUnderTest,
  cleanups: Array<() => Promise<unknown>>,
): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-restart-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const sockets = 'sockets:\n  - { number: 3, restore: last }\n  - { number: 7, restore: last }\n';
  const { process: board } = target;

  const first = await daemonIn(dir, target.path, sockets, cleanups);
  await asRequests(first).on(3, ALICE);
  await asRequests(first).on(7, ALICE);
  await first.stop();
  await target.sync();
  assert.equal(target.relays(), 0x44, 'sockets 3 and 7 (channels 2 and 6) are on');
  const bootId = target.bootId();

  let since = board.events.length;
  const second = await daemonIn(dir, target.path, sockets, cleanups);
  await target.sync();
  const restart = board.events.slice(since);
  const sent = restart.filter((e) => e.event === 'request').map((e) => String(e.line));
  assert.deepEqual(switching(sent), [], 'the restarted daemon sent no SET or MASK');
  assert.deepEqual(verbs(sent.slice(0, 2)), ['HELLO', 'STATE']);
  assert.deepEqual(
    restart.filter((e) => e.event === 'relays' || e.event === 'boot'),
    [],
    'no relay pin changed and the board did not reset',
  );
  assert.deepEqual(onSockets(second), [3, 7], 'the restarted daemon adopted the relays as they are');
  assert.equal(target.bootId(), bootId);
  await second.stop();
  const saved = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8'));
  assert.equal(saved.sockets['3'], true);
  assert.equal(saved.sockets['7'], true);

  // Someone else switches everything off while no daemon runs (no reset: same boot id).
  const other = new DriverRig(target, 500);
  try {
    await other.connect(silentLogger());
    assert.equal(await other.board.setMask(0), 0);
  } finally {
    await other.board?.stop();
  }
  await target.sync();
  assert.equal(target.relays(), 0);

  since = board.events.length;
  const third = await daemonIn(dir, target.path, sockets, cleanups);
  await target.sync();
  const sentThird = board.events
    .slice(since)
    .filter((e) => e.event === 'request')
    .map((e) => String(e.line));
  assert.deepEqual(switching(sentThird), [], 'state.json said on, the board said off: nothing was switched');
  assert.deepEqual(onSockets(third), [], 'the board is the truth');
  assert.equal(target.relays(), 0);
  await third.stop();
  const adopted = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8'));
  assert.equal(adopted.bootId, bootId);
  assert.equal(adopted.sockets['3'], false);
  assert.equal(adopted.sockets['7'], false);
}

/**
 * `! BOOT` restore: the daemon keeps the board's power-up mask at its
 * `restore: on` sockets; after a reset it switches the `restore: last` ones
 * back on (at least `spacingMs` apart, checked where the board reports when it
 * received them) and leaves the `restore: off` one off.
 */
export async function bootRestoreCase(
  target: SerialBoardUnderTest,
  cleanups: Array<() => Promise<unknown>>,
  spacingMs: number,
): Promise<void> {
  const service = await serialDaemon(
    target.path,
    `sockets:
  - { number: 2, restore: last }
  - { number: 3, restore: last }
  - { number: 4, restore: last }
  - { number: 5, restore: off }
  - { number: 6, restore: on }
`,
    cleanups,
    { switchSpacingMs: spacingMs },
  );
  const sim = target.process;
  for (const socket of [2, 3, 4, 5]) await asRequests(service).on(socket, ALICE);
  await until(service, 'pending', () => service.list().every((s) => s.pending === null));
  await target.sync();
  assert.equal(hex(target.relays()), hex(shownMask(service)), 'the relay pins are as the daemon shows them');
  let restored = 0;
  service.events.on('socketChanged', ({ cause, socket }) => {
    if (cause === 'restore' && socket.on) restored++;
  });
  const reset = once(service, 'boardReset');
  const since = sim.events.length;
  await target.powerLoss();
  const { mask } = await reset;
  assert.equal(mask, 1 << 5, 'the board came up with its power-up mask: socket 6 (restore: on)');
  await until(service, 'socketChanged', () => restored === 3, 10_000);
  assert.deepEqual(onSockets(service), [2, 3, 4, 6]);
  await until(service, 'pending', () => service.list().every((s) => s.pending === null));
  await target.sync();
  assert.equal(
    hex(target.relays()),
    hex(0b10_1110),
    'relay pins: sockets 2, 3, 4 and 6 (channels 1, 2, 3, 5)',
  );
  const requests = sim.events.slice(since).filter((e) => e.event === 'request');
  assert.deepEqual(
    switching(requests.map((e) => String(e.line))).map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 1 1', 'SET 2 1', 'SET 3 1'],
    'the restore: last sockets were switched back on, nothing else',
  );
  const ons = requests.filter((e) => / SET \d+ 1$/.test(String(e.line)));
  // Timed where it matters, when the board received each switch-on. The host
  // sends them at least S apart; what the board sees also carries the
  // delivery delay through socat and into the simulator process, which on a
  // busy 2-core machine varies by a few ms (36 ms seen for S = 40). Without
  // the guard they would arrive well under 1 ms apart.
  for (let i = 1; i < ons.length; i++) {
    const [before, after] = [target.receivedAtMs(ons[i - 1]!), target.receivedAtMs(ons[i]!)];
    if (before === null || after === null) continue; // this board reports simulated time only
    const gap = after - before;
    assert.ok(gap >= spacingMs - DELIVERY_JITTER_MS, `the board saw switch-ons ${gap.toFixed(1)} ms apart`);
  }
  const audit = await service.auditLog(3);
  assert.equal(audit.length, 3);
  assert.ok(audit.every((entry) => entry.actor.kind === 'system' && entry.details?.restore === 'last'));
}
