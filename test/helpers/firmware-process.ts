/**
 * The board firmware running in the emulator (firmware/build/pipdu-sim, a
 * libsimavr runner) as a child process on a real pty, for tests that talk to
 * the real firmware binary through the real serialport code:
 *
 *   await buildFirmware();                       // make -s -C firmware (incremental)
 *   const fw = await startFirmware({ args: ['--eeprom', file] });
 *   try { ... open fw.path with serialport ... } finally { await fw.stop(); }
 *
 * The runner speaks like the simulator CLI in --pty mode (see
 * simulator-process.ts for waitFor/command/stop): JSON events on stdout
 * (ready, boot, relays, request, output, control; times in simulated µs),
 * control lines on stdin (reset, load <ch> <mA>, hang, hold <ms>, exit). Unlike the
 * simulator, the CPU only starts once a client opens the pty, so the client
 * sees the power-up `! BOOT` (or, if the port's open flush ate it, not).
 */
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BoardUnderTest, expectedReplyId } from './prp1-conformance.js';
import { type EventProcess, startEventProcess } from './simulator-process.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const firmwareDir = path.join(repoRoot, 'firmware');
export const runnerPath = path.join(firmwareDir, 'build', 'pipdu-sim');
export const elfPath = path.join(firmwareDir, 'build', 'pipdu-firmware.elf');

type Json = Record<string, unknown>;

/** Builds the firmware and the runner (`make -s -C firmware` under a lock; incremental, so cheap when nothing changed). */
export async function buildFirmware(): Promise<void> {
  await make([]);
  for (const file of [runnerPath, elfPath]) await mustExist(file);
}

/** The firmware for active-low relay boards (RELAY_ACTIVE_LOW=1) in its own build directory; resolves with its ELF. */
export async function buildActiveLowFirmware(): Promise<string> {
  const elf = path.join(firmwareDir, 'build', 'active-low', 'pipdu-firmware.elf');
  await make(['firmware', 'BUILD=build/active-low', 'RELAY_ACTIVE_LOW=1']);
  await mustExist(elf);
  return elf;
}

async function make(args: string[]): Promise<void> {
  const command = ['make', '-s', '-C', firmwareDir, ...args];
  try {
    // flock: test files run in parallel, and two makes in one build directory would trip over each other.
    await promisify(execFile)('flock', [firmwareDir, ...command], { cwd: repoRoot, maxBuffer: 16 << 20 });
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${command.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`.trimEnd(),
    );
  }
}

async function mustExist(file: string): Promise<void> {
  try {
    await access(file);
  } catch {
    throw new Error(`make succeeded but ${path.relative(repoRoot, file)} is missing`);
  }
}

export interface StartFirmwareOptions {
  /** More runner arguments, e.g. `['--eeprom', file, '--load', '1000']`. */
  args?: string[];
  /** The pty link path; default `board` in a fresh directory (removed again by stop/kill). */
  path?: string;
  /** How long to wait for `ready`; default 10000 ms. */
  timeoutMs?: number;
}

/** Starts the emulator runner on a pty (it must be built); resolves once its `ready` event says the link exists. */
export async function startFirmware(options: StartFirmwareOptions = {}): Promise<EventProcess> {
  try {
    await access(runnerPath);
  } catch {
    throw new Error(
      `${path.relative(repoRoot, runnerPath)} is missing: run make -C firmware (buildFirmware())`,
    );
  }
  return startEventProcess({
    command: runnerPath,
    // --realtime: unthrottled, the emulator takes a whole core, and on a 2-core machine the
    // other tests' processes then see scheduling delays of milliseconds.
    args: (link) => ['--pty', link, '--exit-with-stdin', '--realtime', ...(options.args ?? [])],
    child: { label: 'firmware runner', linkGoneAfterKill: false },
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
}

export interface ReplyTiming {
  request: string;
  reply: string;
  /** Simulated µs when the request's `\n` reached the board. */
  requestUs: number;
  /** Simulated µs of the reply's first byte. */
  firstByteUs: number;
  /** How long an event line that was already being sent held the reply back (PRP/1 lets it finish first). */
  heldByEventUs: number;
  /** firstByteUs - requestUs - heldByEventUs: what the 5 ms rule limits. */
  latencyUs: number;
}

/**
 * Pairs every reply the firmware sent with the request it answers (the host
 * keeps one request outstanding, so: the latest request before it since the
 * last boot) and times it from the runner's events. Time spent finishing an
 * event line that was already on the wire when the request ended does not
 * count (relay-board-protocol.md, Timing: "an event already being sent
 * finishes first").
 */
export function replyTimings(events: readonly Json[]): ReplyTiming[] {
  const eventLines = events.filter(
    (event) =>
      event.event === 'output' &&
      typeof event.line === 'string' &&
      event.line.startsWith('!') &&
      typeof event.t_first_us === 'number' &&
      typeof event.t_us === 'number',
  ) as Array<{ line: string; t_first_us: number; t_us: number }>;
  const timings: ReplyTiming[] = [];
  let pending: { line: string; t_us: number } | null = null;
  for (const event of events) {
    if (event.event === 'boot') pending = null;
    else if (event.event === 'request' && typeof event.line === 'string' && typeof event.t_us === 'number')
      pending = { line: event.line, t_us: event.t_us };
    else if (
      event.event === 'output' &&
      typeof event.line === 'string' &&
      !event.line.startsWith('!') &&
      typeof event.t_first_us === 'number' &&
      pending !== null
    ) {
      let start = pending.t_us;
      for (const line of eventLines) {
        if (line.t_first_us <= start && line.t_us > start) start = line.t_us;
      }
      timings.push({
        request: pending.line,
        reply: event.line,
        requestUs: pending.t_us,
        firstByteUs: event.t_first_us,
        heldByEventUs: start - pending.t_us,
        latencyUs: event.t_first_us - start,
      });
      pending = null;
    }
  }
  return timings;
}

/** Requests whose reply carries another id than the request asks for (a runner or pairing bug shows up here). */
export function mispairedReplies(timings: readonly ReplyTiming[]): ReplyTiming[] {
  return timings.filter((timing) => expectedReplyId(timing.request) !== Number(timing.reply.split(' ')[0]));
}

export interface FirmwareBoard extends BoardUnderTest {
  readonly process: EventProcess;
  replyLatenciesUs(): number[];
  repliesHeldByEvents(): number;
  hang(): Promise<void>;
  bootCause(): string | null;
}

/**
 * The firmware in the emulator as a BoardUnderTest (prp1-conformance.ts),
 * with a fresh, empty EEPROM file in a temporary directory (kept across
 * resets; removed by stop()). Builds first.
 */
export async function startFirmwareBoard(
  options: { name?: string; args?: string[] } = {},
): Promise<FirmwareBoard> {
  await buildFirmware();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-fw-'));
  let runner: EventProcess;
  try {
    runner = await startFirmware({
      path: path.join(dir, 'board'),
      args: ['--eeprom', path.join(dir, 'eeprom.bin'), ...(options.args ?? [])],
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let cursor = 0;
  const latest = (kind: string): Json | undefined => runner.events.findLast((event) => event.event === kind);
  return {
    name: options.name ?? 'firmware in the emulator',
    path: runner.path,
    process: runner,
    async opened() {
      // The CPU starts when the pty is opened: requests sent before the firmware set up its UART would be lost.
      await runner.waitFor(
        (event) =>
          event.event === 'output' && typeof event.line === 'string' && event.line.startsWith('! BOOT '),
        10_000,
        0,
      );
    },
    reset: () => runner.command('reset'),
    setLoad: (channel, mA) => runner.command(`load ${channel} ${mA}`),
    hang: () => runner.command('hang'),
    relays() {
      // The runner reports changes only: until the first, every relay is as powered up: off.
      const mask = latest('relays')?.mask;
      return typeof mask === 'string' ? mask : '0000';
    },
    async observed(line) {
      // The runner reports the line when its last byte went out, after every pin change before it.
      // A `! BOOT` may follow a line a reset cut short on the same output line.
      const matches = (event: Json) =>
        event.event === 'output' &&
        typeof event.line === 'string' &&
        (event.line === line || (line.startsWith('! ') && event.line.endsWith(line)));
      const from = cursor;
      const found = await runner.waitFor(matches, 5000, from);
      cursor = runner.events.indexOf(found, from) + 1;
      // PRP/1: "the reply is sent after the relay pin has been driven".
      const firstByte = found.t_first_us;
      const late = runner.events
        .slice(from, cursor)
        .find(
          (event) =>
            event.event === 'relays' && typeof firstByte === 'number' && Number(event.t_us) > firstByte,
        );
      if (late)
        throw new Error(
          `relay pin changed at ${late.t_us} µs, after the first byte of ${line} at ${firstByte} µs`,
        );
    },
    replyLatenciesUs: () => replyTimings(runner.events).map((timing) => timing.latencyUs),
    repliesHeldByEvents: () =>
      replyTimings(runner.events).filter((timing) => timing.heldByEventUs > 0).length,
    bootCause() {
      const cause = latest('boot')?.cause;
      return typeof cause === 'string' ? cause : null;
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
