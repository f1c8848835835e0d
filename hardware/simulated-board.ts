import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { BoardFeature } from './relay-board.js';

/**
 * A relay board that speaks PRP/1 (docs/relay-board-protocol.md), entirely
 * in memory: no globals, and no I/O but its optional state file. Bytes from
 * the host go in through `receive()`, everything the board sends comes out
 * as `output` events (one complete line each, ending in `\n`). The daemon's
 * `simulator` driver runs it in-process; `hardware/simulator-cli.ts` puts it
 * on the far side of a pty.
 *
 * Obligations it keeps (the conformance expectations a real firmware meets):
 * - Nothing is emitted before `start()` or after `stop()`; `receive()` while
 *   stopped loses the bytes (the board has no power).
 * - Replies are never emitted synchronously inside `receive()`: each one is
 *   queued and sent on a later tick (setImmediate, or setTimeout when a delay
 *   is configured), strictly in request order. Requests are applied at once;
 *   only their replies wait (except behind a slow SET/MASK, below).
 * - Events (`! BOOT`, `! CURRENT`, injected lines) are emitted asynchronously
 *   too, as whole lines, so they can never land inside a reply.
 * - `request` is emitted for every complete non-empty line received (without
 *   its `\r`), before it is parsed, even while muted; a line over the 128-byte
 *   limit is reported as the first 128 bytes the board kept.
 * - Strings are taken as bytes: one character = one byte (the CLI decodes
 *   the wire as latin1). Hosts only send ASCII anyway.
 * - A slow board (`setDelayMs`): a `SET` or `MASK` is carried out only when
 *   its reply leaves, and requests after it wait their turn (a board handles
 *   requests strictly in order), so a `STATE` sent after a late `SET` sees it.
 * - With a `stateFile` the board stays powered across processes: `start()`
 *   takes up the relays, boot id, serial and power-up mask saved there (no
 *   `! BOOT`: nothing was lost) and every change is written back atomically.
 *   `reset()` is still a power loss. Without a valid file `start()` powers up.
 */

export interface SimulatedBoardOptions {
  /** 1..32; default 16. */
  channels?: number;
  /** Default `['current', 'persist']`. */
  features?: BoardFeature[];
  /** Default `1.0.0-sim`. */
  firmware?: string;
  /** The power-up mask in "EEPROM"; null/absent = none stored: the board powers up with every relay off. */
  powerUpMask?: number | null;
  /** RMS load per channel in mA while its relay is on; default varied plausible values (40..2500 mA). */
  loadsMa?: number[];
  /** Period of `! CURRENT` telemetry (only with the `current` feature); default 1000; 0 = none. */
  telemetryIntervalMs?: number;
  /** Source of noise on readings (±2%) and of reply drops; default Math.random. */
  random?: () => number;
  /** Delay before every reply; default 0 (the next tick, never synchronously). */
  replyDelayMs?: number;
  /**
   * A slow board: `SET` and `MASK` are carried out and answered this long
   * after they arrive (on top of the other delays); default 0. See `setDelayMs`.
   */
  setDelayMs?: number;
  /**
   * HELLO's `serial=`: 8..16 upper-case hex digits; null = none (an older
   * firmware); default 16 random hex digits, generated once per instance
   * (and kept in the state file, if any, which an explicit value overrides).
   */
  serial?: string | null;
  /**
   * Keeps the board "powered" across instances and processes: relays, power-up
   * mask, boot id and serial are read from this JSON file at `start()` and
   * written (atomically, synchronously) whenever they change.
   */
  stateFile?: string;
}

/** PRP/1 `serial=`: 8 to 16 upper-case hex digits. */
export const SERIAL_PATTERN = /^[0-9A-F]{8,16}$/;

/** What a state file holds (`version: 1`). */
interface SavedState {
  version: 1;
  channels: number;
  serial: string | null;
  bootId: string;
  relays: string;
  powerUpMask: string | null;
}

/** Faults a test can inject at any time; reset() leaves them as they are. */
export interface SimulatedBoardFaults {
  /**
   * A hung board: requests are still reported as `request` events but are not
   * processed (no relay changes, no reply) and the board sends no telemetry
   * and no `! BOOT`. `sendGarbage()`/`sendEvent()` still go out.
   */
  muted: boolean;
  /** Chance (0..1) that a reply is lost after the request was processed. */
  dropProbability: number;
  /**
   * Added to every reply's delay (taken when the request arrives). The board
   * answers one request at a time: a reply's delay starts when the previous
   * reply has left, so replies never overtake each other.
   */
  extraDelayMs: number;
}

export interface SimulatedBoardEvents {
  /** One complete line from the board, ending in `\n`. */
  output: [text: string];
  /** A complete non-empty line from the host, before parsing. */
  request: [line: string];
  /** The relay mask changed. */
  relays: [mask: number];
  /** A DEFAULT <mask> request stored a new power-up mask. */
  powerUpMaskStored: [mask: number];
  /** The board powered up (start() or reset()): the mask it powered up with and its new boot id. */
  boot: [mask: number, bootId: string];
  /** start() took up the state saved in the state file: the board never lost power. */
  resumed: [mask: number, bootId: string];
  /** The state file could not be read (it is then ignored) or written; the board carries on. */
  stateFileError: [error: Error];
}

/** PRP/1: a line is at most 128 bytes including the `\n`. */
export const MAX_LINE_BYTES = 128;

const ALL_FEATURES: readonly BoardFeature[] = ['current', 'persist'];
const DEFAULT_LOADS_MA = [120, 350, 45, 800, 2500, 60, 1500, 230, 90, 410, 1800, 75, 640, 40, 1100, 300];
const NOISE = 0.02;

interface QueuedReply {
  /** The reply, or (a slow SET/MASK and anything behind it) the request to carry out when it is due. */
  line: string | (() => string | null);
  delayMs: number;
}

export class SimulatedBoard extends EventEmitter<SimulatedBoardEvents> {
  readonly channels: number;
  readonly features: readonly BoardFeature[];
  readonly firmware: string;
  /** Injected faults; change its fields (or replace it) at any time. */
  faults: SimulatedBoardFaults = { muted: false, dropProbability: 0, extraDelayMs: 0 };
  /**
   * A slow board: each `SET`/`MASK` is carried out (relays switched) and
   * answered this many ms after it arrived, the requests after it in turn.
   * Taken when the request arrives; change it at any time.
   */
  setDelayMs: number;

  private readonly telemetryIntervalMs: number;
  private readonly stateFile: string | null;
  /** The state changed since the last write began; a write is under way. */
  private stateDirty = false;
  private stateWriting = false;
  private readonly explicitSerial: boolean;
  private currentSerial: string | null;
  private readonly replyDelayMs: number;
  private readonly random: () => number;
  private readonly loads: number[];
  private readonly maskDigits: number;
  private powerUpMask: number | null;

  private relayMask = 0;
  private currentBootId = '';
  private running = false;
  /** Bumped at every start/stop: callbacks scheduled under an older generation do nothing. */
  private generation = 0;
  private lineBuffer = '';
  private discarding = false;
  private readonly replyQueue: QueuedReply[] = [];
  private replyTimer: { timeout: NodeJS.Timeout } | { immediate: NodeJS.Immediate } | null = null;
  private telemetryTimer: NodeJS.Timeout | null = null;
  private readonly eventImmediates = new Set<NodeJS.Immediate>();

  constructor(options: SimulatedBoardOptions = {}) {
    super();
    const channels = options.channels ?? 16;
    if (!Number.isInteger(channels) || channels < 1 || channels > 32) {
      throw new RangeError(`channels must be an integer 1..32, got ${channels}`);
    }
    this.channels = channels;
    this.maskDigits = Math.ceil(channels / 4);
    const features = options.features ?? [...ALL_FEATURES];
    for (const feature of features) {
      if (!ALL_FEATURES.includes(feature)) throw new RangeError(`unknown feature ${String(feature)}`);
    }
    // Canonical order, no duplicates.
    this.features = ALL_FEATURES.filter((feature) => features.includes(feature));
    this.firmware = options.firmware ?? '1.0.0-sim';
    if (!/^[0-9A-Za-z.+-]+$/.test(this.firmware))
      throw new RangeError(`bad firmware version ${this.firmware}`);
    const powerUpMask = options.powerUpMask ?? null;
    if (powerUpMask !== null) this.checkMask(powerUpMask, 'powerUpMask');
    this.powerUpMask = powerUpMask;
    const loads = options.loadsMa ?? [];
    this.loads = Array.from({ length: channels }, (_, i) => loads[i] ?? DEFAULT_LOADS_MA[i % 16]!);
    for (const load of this.loads) {
      if (!Number.isFinite(load) || load < 0)
        throw new RangeError(`loads must be milliamps >= 0, got ${load}`);
    }
    this.telemetryIntervalMs = options.telemetryIntervalMs ?? 1000;
    this.replyDelayMs = options.replyDelayMs ?? 0;
    this.setDelayMs = options.setDelayMs ?? 0;
    for (const [name, ms] of [
      ['replyDelayMs', this.replyDelayMs],
      ['setDelayMs', this.setDelayMs],
    ] as const) {
      if (!Number.isFinite(ms) || ms < 0)
        throw new RangeError(`${name} must be milliseconds >= 0, got ${ms}`);
    }
    this.random = options.random ?? Math.random;
    this.explicitSerial = options.serial !== undefined;
    const serial = options.serial === undefined ? newSerial() : options.serial;
    if (serial !== null && !SERIAL_PATTERN.test(serial)) {
      throw new RangeError(`serial must be 8 to 16 upper-case hex digits, got "${serial}"`);
    }
    this.currentSerial = serial;
    this.stateFile = options.stateFile ?? null;
  }

  /** HELLO's `serial=`, null when the board has none (an older firmware). */
  get serial(): string | null {
    return this.currentSerial;
  }

  /** The relays energized now (bit i = channel i). */
  get relays(): number {
    return this.relayMask;
  }

  /** This power-up's boot id ('' before the first start()). */
  get bootId(): string {
    return this.currentBootId;
  }

  /** The power-up mask in non-volatile memory; null when none was ever stored. */
  get storedPowerUpMask(): number | null {
    return this.powerUpMask;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Steps and surges scheduled per channel (loadEvent); no timers: readings() applies them. */
  private readonly loadEvents = new Map<number, { milliamps: number; from: number; until: number }>();

  /** The per-channel load (mA) drawn while a relay is on. */
  get loadsMa(): readonly number[] {
    return this.loads;
  }

  /**
   * Power on: relays = stored power-up mask (or 0), a new boot id, `! BOOT <mask>`,
   * telemetry starts. With a valid state file it resumes instead: the saved
   * relays and boot id, no `! BOOT`.
   */
  start(): void {
    if (this.running) return;
    this.powerOn(this.readStateFile());
  }

  private powerOn(resume: { relays: number; bootId: string } | null): void {
    this.running = true;
    this.generation++;
    this.lineBuffer = '';
    this.discarding = false;
    let bootId: string;
    if (resume) bootId = resume.bootId;
    else {
      do bootId = randomInt(1, 0x1_0000_0000).toString(16).toUpperCase();
      while (bootId === this.currentBootId);
    }
    this.currentBootId = bootId;
    const mask = resume ? resume.relays : (this.powerUpMask ?? 0);
    const previous = this.relayMask;
    this.relayMask = mask;
    this.saveState();
    if (resume) this.emit('resumed', mask, bootId);
    else this.emit('boot', mask, bootId);
    if (mask !== previous) this.emit('relays', mask);
    if (!resume && !this.faults.muted) this.emitEventLine(`! BOOT ${this.formatMask(mask)}\n`);
    if (this.telemetryIntervalMs > 0 && this.features.includes('current')) {
      // Armed once the boot line is out, so `! BOOT` always comes first.
      this.afterPendingEvents(() => {
        this.telemetryTimer = setInterval(() => {
          if (!this.faults.muted) this.emit('output', `! CURRENT ${this.readings().join(',')}\n`);
        }, this.telemetryIntervalMs);
      });
    }
  }

  /** Power off: every timer cleared, pending replies and events dropped, nothing emitted afterwards. */
  stop(): void {
    if (!this.running) return;
    this.flushState();
    this.running = false;
    this.generation++;
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    this.telemetryTimer = null;
    this.clearReplyTimer();
    this.replyQueue.length = 0;
    for (const immediate of this.eventImmediates) clearImmediate(immediate);
    this.eventImmediates.clear();
    this.lineBuffer = '';
    this.discarding = false;
  }

  /** Power loss or watchdog: a new boot id, relays back to the power-up mask, `! BOOT` (state file or not). */
  reset(): void {
    this.stop();
    this.powerOn(null);
  }

  /** Bytes from the host: any fragment, partial lines and several lines allowed. */
  receive(bytes: string): void {
    if (!this.running) return;
    let from = 0;
    while (from < bytes.length) {
      const newline = bytes.indexOf('\n', from);
      const piece = newline === -1 ? bytes.slice(from) : bytes.slice(from, newline);
      if (!this.discarding) {
        this.lineBuffer += piece;
        // Content (with any \r) may be 127 bytes: the \n makes 128.
        if (this.lineBuffer.length > MAX_LINE_BYTES - 1) {
          this.discarding = true;
          this.lineBuffer = this.lineBuffer.slice(0, MAX_LINE_BYTES);
        }
      }
      if (newline === -1) break;
      const line = this.lineBuffer;
      const tooLong = this.discarding;
      this.lineBuffer = '';
      this.discarding = false;
      from = newline + 1;
      if (tooLong) {
        this.emit('request', line);
        if (!this.faults.muted) this.queueReply(this.inTurn(() => '0 ERR BADREQ line too long'));
      } else {
        this.handleLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      }
      if (!this.running) return; // a listener stopped the board
    }
  }

  /** Sends `text` + `\n` as-is (a garbled line on the wire). */
  sendGarbage(text: string): void {
    this.emitEventLine(`${text}\n`);
  }

  /** Sends the event `! <text>`. */
  sendEvent(text: string): void {
    this.emitEventLine(`! ${text}\n`);
  }

  /** Changes the load a channel draws while its relay is on. */
  setLoad(channel: number, milliamps: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.channels) {
      throw new RangeError(`channel ${channel} out of range 0..${this.channels - 1}`);
    }
    if (!Number.isFinite(milliamps) || milliamps < 0) throw new RangeError(`bad load ${milliamps} mA`);
    this.loads[channel] = milliamps;
  }

  /**
   * A load that changes by itself, for trying alarms: `step` to `milliamps`
   * after `afterMs` (a step to 0 is a machine that dies), or a `surge` to
   * `milliamps` for `forMs`, then back to the load it had. A new one replaces
   * the channel's previous one; setLoad() does not cancel it.
   */
  loadEvent(
    channel: number,
    event:
      | { kind: 'step'; milliamps: number; afterMs: number }
      | { kind: 'surge'; milliamps: number; forMs: number },
  ): void {
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.channels) {
      throw new RangeError(`channel ${channel} out of range 0..${this.channels - 1}`);
    }
    const { milliamps } = event;
    const ms = event.kind === 'step' ? event.afterMs : event.forMs;
    if (!Number.isFinite(milliamps) || milliamps < 0) throw new RangeError(`bad load ${milliamps} mA`);
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`bad duration ${ms} ms`);
    const now = Date.now();
    this.loadEvents.set(
      channel,
      event.kind === 'step'
        ? { milliamps, from: now + ms, until: Number.POSITIVE_INFINITY }
        : { milliamps, from: now, until: now + ms },
    );
  }

  /** A channel's load now, with its load event applied (a step that came becomes its load). */
  private loadNow(channel: number, now: number): number {
    const event = this.loadEvents.get(channel);
    if (event && now >= event.from) {
      if (event.until === Number.POSITIVE_INFINITY) {
        this.loads[channel] = event.milliamps;
        this.loadEvents.delete(channel);
      } else if (now < event.until) return event.milliamps;
      else this.loadEvents.delete(channel);
    }
    return this.loads[channel] ?? 0;
  }

  /** What the current sensors read now, in whole mA: on channels ≈ their load (±2%), off channels 0. */
  readings(): number[] {
    const now = Date.now();
    return this.loads.map((_, channel) => {
      const load = this.loadNow(channel, now);
      if ((this.relayMask & (1 << channel)) === 0 || load === 0) return 0;
      const noise = (this.random() * 2 - 1) * NOISE;
      return Math.max(0, Math.round(load * (1 + noise)));
    });
  }

  /** A mask as PRP/1 writes it: ceil(n/4) upper-case hex digits. */
  formatMask(mask: number): string {
    return (mask >>> 0).toString(16).toUpperCase().padStart(this.maskDigits, '0');
  }

  private handleLine(line: string): void {
    if (line === '') return; // an empty line is ignored, not even reported
    this.emit('request', line);
    if (this.faults.muted) return;
    const drop = () => this.faults.dropProbability > 0 && this.random() < this.faults.dropProbability;
    const slow = this.setDelayMs > 0 && /^[0-9]+ (SET|MASK)( |$)/.test(line);
    if (slow || this.replyQueue.some((reply) => typeof reply.line !== 'string')) {
      // A slow SET/MASK, or a request behind one: carried out when its turn comes.
      this.queueReply(
        () => {
          const reply = this.execute(line);
          return drop() ? null : reply;
        },
        slow ? this.setDelayMs : 0,
      );
      return;
    }
    const reply = this.execute(line);
    if (!drop()) this.queueReply(reply);
  }

  /** `make` as a deferred reply when one is queued (so it keeps its turn), else its line now. */
  private inTurn(make: () => string): string | (() => string | null) {
    return this.replyQueue.some((reply) => typeof reply.line !== 'string') ? make : make();
  }

  /** Parses and applies one request line; returns the reply line (without `\n`). */
  private execute(line: string): string {
    const tokens = line.split(' ');
    const idToken = tokens[0]!;
    if (!/^[0-9]+$/.test(idToken)) return '0 ERR BADREQ no request id';
    const id = Number(idToken);
    if (id < 1 || id > 65535) return '0 ERR BADREQ request id out of range 1..65535';
    const err = (code: string, text: string) => `${id} ERR ${code} ${text}`;
    const ok = (text: string) => `${id} OK ${text}`;
    if (tokens.includes('')) return err('BADREQ', 'tokens must be separated by exactly one space');
    const verb = tokens[1];
    const args = tokens.slice(2);
    if (verb === undefined) return err('BADREQ', 'missing verb');
    const arity = (count: number) =>
      args.length === count
        ? null
        : err('BADREQ', `${verb} takes ${count === 0 ? 'no' : count} argument${count === 1 ? '' : 's'}`);

    switch (verb) {
      case 'HELLO':
        return (
          arity(0) ??
          ok(
            `PIPDU/1 channels=${this.channels} fw=${this.firmware} features=${this.features.join(',')} boot=${this.currentBootId}` +
              (this.currentSerial === null ? '' : ` serial=${this.currentSerial}`),
          )
        );
      case 'STATE':
        return arity(0) ?? ok(this.formatMask(this.relayMask));
      case 'PING':
        return arity(0) ?? ok('PONG');
      case 'SET': {
        const bad = arity(2);
        if (bad) return bad;
        const [channelToken, valueToken] = args as [string, string];
        if (!/^[0-9]+$/.test(channelToken)) return err('BADREQ', 'channel must be a decimal number');
        if (valueToken !== '0' && valueToken !== '1') return err('BADREQ', 'value must be 0 or 1');
        const channel = Number(channelToken);
        if (channel >= this.channels) {
          const shown = channelToken.length <= 10 ? String(channel) : `${channelToken.slice(0, 10)}...`;
          return err('BADCH', `channel ${shown} out of range 0..${this.channels - 1}`);
        }
        const bit = (1 << channel) >>> 0;
        this.changeRelays(valueToken === '1' ? (this.relayMask | bit) >>> 0 : (this.relayMask & ~bit) >>> 0);
        return ok(this.formatMask(this.relayMask));
      }
      case 'MASK': {
        const bad = arity(1);
        if (bad) return bad;
        const mask = this.parseMask(args[0]!);
        if (typeof mask === 'string') return err('BADREQ', mask);
        this.changeRelays(mask);
        return ok(this.formatMask(this.relayMask));
      }
      case 'CURRENT':
        if (!this.features.includes('current'))
          return err('UNSUPPORTED', 'this board has no current sensors');
        return arity(0) ?? ok(this.readings().join(','));
      case 'DEFAULT': {
        if (!this.features.includes('persist'))
          return err('UNSUPPORTED', 'this board has no non-volatile memory');
        if (args.length === 0) return ok(this.formatMask(this.powerUpMask ?? 0));
        if (args.length > 1) return err('BADREQ', 'DEFAULT takes at most 1 argument');
        const mask = this.parseMask(args[0]!);
        if (typeof mask === 'string') return err('BADREQ', mask);
        this.powerUpMask = mask;
        this.saveState();
        this.emit('powerUpMaskStored', mask);
        return ok(this.formatMask(mask));
      }
      default:
        return err('BADREQ', 'unknown verb');
    }
  }

  /** A mask token as a number, or the reason it is not one. */
  private parseMask(token: string): number | string {
    if (token.length !== this.maskDigits || !/^[0-9A-Fa-f]+$/.test(token)) {
      return `mask must be exactly ${this.maskDigits} hex digits`;
    }
    const mask = Number.parseInt(token, 16);
    if (mask >= 2 ** this.channels) return `mask has bits set above channel ${this.channels - 1}`;
    return mask;
  }

  private checkMask(mask: number, what: string): void {
    if (!Number.isInteger(mask) || mask < 0 || mask >= 2 ** this.channels) {
      throw new RangeError(`${what} must be a mask of ${this.channels} channels, got ${mask}`);
    }
  }

  private changeRelays(mask: number): void {
    if (mask === this.relayMask) return;
    this.relayMask = mask;
    this.saveState();
    this.emit('relays', mask);
  }

  private queueReply(line: string | (() => string | null), extraMs = 0): void {
    this.replyQueue.push({ line, delayMs: this.replyDelayMs + this.faults.extraDelayMs + extraMs });
    if (this.replyTimer === null) this.armReplyTimer();
  }

  /** The state file's board, or null when there is none (or it is not a valid one: then it is reported). */
  private readStateFile(): { relays: number; bootId: string } | null {
    if (this.stateFile === null) return null;
    let text: string;
    try {
      text = readFileSync(this.stateFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.emit('stateFileError', error as Error);
      return null;
    }
    try {
      const saved = JSON.parse(text) as Partial<SavedState>;
      if (saved.version !== 1) throw new Error('not a version 1 simulator state');
      if (saved.channels !== this.channels)
        throw new Error(`it is a board of ${saved.channels} channels, not ${this.channels}`);
      if (typeof saved.bootId !== 'string' || !/^[0-9A-F]{1,8}$/.test(saved.bootId))
        throw new Error('bad bootId');
      if (saved.serial !== null && (typeof saved.serial !== 'string' || !SERIAL_PATTERN.test(saved.serial)))
        throw new Error('bad serial');
      const relays = this.parseMask(String(saved.relays));
      const powerUpMask = saved.powerUpMask === null ? null : this.parseMask(String(saved.powerUpMask));
      if (typeof relays === 'string') throw new Error(`relays: ${relays}`);
      if (typeof powerUpMask === 'string') throw new Error(`powerUpMask: ${powerUpMask}`);
      this.powerUpMask = powerUpMask;
      if (!this.explicitSerial) this.currentSerial = saved.serial;
      return { relays, bootId: saved.bootId };
    } catch (error) {
      this.emit(
        'stateFileError',
        new Error(`${this.stateFile} ignored (the board powers up afresh): ${(error as Error).message}`),
      );
      return null;
    }
  }

  /**
   * Schedules a write of the state file, if any: off the caller's turn and
   * coalesced (the board's owner is often the daemon itself, whose event loop
   * must not wait on the disk), to a temporary file renamed over it. `stop()`
   * writes what is still pending at once.
   */
  private saveState(): void {
    if (this.stateFile === null || !this.running) return;
    this.stateDirty = true;
    if (!this.stateWriting) void this.writeStateSoon();
  }

  private stateText(): string {
    const state: SavedState = {
      version: 1,
      channels: this.channels,
      serial: this.currentSerial,
      bootId: this.currentBootId,
      relays: this.formatMask(this.relayMask),
      powerUpMask: this.powerUpMask === null ? null : this.formatMask(this.powerUpMask),
    };
    return `${JSON.stringify(state, null, 2)}\n`;
  }

  private async writeStateSoon(): Promise<void> {
    const file = this.stateFile;
    if (file === null) return;
    this.stateWriting = true;
    try {
      while (this.stateDirty && this.running) {
        this.stateDirty = false;
        await new Promise((resolve) => setImmediate(resolve));
        const temporary = `${file}.${process.pid}.tmp`;
        await writeFile(temporary, this.stateText());
        // Renamed in one turn with the check (a rename is metadata only, quick): no write
        // in flight can land over the one stop() makes. Stopped meanwhile: stop() wrote it.
        if (this.running && !this.stateDirty) renameSync(temporary, file);
      }
    } catch (error) {
      this.emit('stateFileError', error as Error);
    } finally {
      this.stateWriting = false;
    }
  }

  /** At stop: the pending state, written now (synchronously: nothing may be left floating). */
  private flushState(): void {
    if (this.stateFile === null || !(this.stateDirty || this.stateWriting)) return;
    this.stateDirty = false;
    const temporary = `${this.stateFile}.${process.pid}.final.tmp`;
    try {
      writeFileSync(temporary, this.stateText());
      renameSync(temporary, this.stateFile);
    } catch (error) {
      this.emit('stateFileError', error as Error);
    }
  }

  /** Sends the queue's head after its delay, then the next: replies leave strictly in request order. */
  private armReplyTimer(): void {
    const head = this.replyQueue[0];
    if (!head) return;
    const generation = this.generation;
    const send = () => {
      this.replyTimer = null;
      if (generation !== this.generation) return;
      const reply = this.replyQueue.shift();
      if (reply) {
        const line = typeof reply.line === 'string' ? reply.line : reply.line();
        if (line !== null && generation === this.generation) this.emit('output', `${line}\n`);
      }
      if (generation === this.generation) this.armReplyTimer();
    };
    this.replyTimer =
      head.delayMs > 0 ? { timeout: setTimeout(send, head.delayMs) } : { immediate: setImmediate(send) };
  }

  private clearReplyTimer(): void {
    if (this.replyTimer === null) return;
    if ('timeout' in this.replyTimer) clearTimeout(this.replyTimer.timeout);
    else clearImmediate(this.replyTimer.immediate);
    this.replyTimer = null;
  }

  private emitEventLine(line: string): void {
    if (!this.running) return;
    this.afterPendingEvents(() => this.emit('output', line));
  }

  /** Runs `action` on a later tick, after the events already queued; stop() cancels it. */
  private afterPendingEvents(action: () => void): void {
    const immediate = setImmediate(() => {
      this.eventImmediates.delete(immediate);
      action();
    });
    this.eventImmediates.add(immediate);
  }
}

/** A board serial as a new chip generates it once: 16 random upper-case hex digits. */
function newSerial(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}
