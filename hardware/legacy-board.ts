import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { BoardOfflineError, BoardTimeoutError, PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { type BackoffOptions, LineSplitter, type LineTransport } from './line-transport.js';
import { emptyStats, LinkKeeper, stoppedError } from './link-keeper.js';
import type {
  BoardDriverName,
  BoardIdentity,
  RelayBoard,
  RelayBoardEvents,
  RelayBoardStats,
  SetOptions,
} from './relay-board.js';

export interface LegacyBoardDeps {
  transport: LineTransport;
  logger: Logger;
  /** What the relays are believed to be at start (the service's saved state); default all off. */
  assumedMask?: number;
  backoff?: BackoffOptions;
  /** No telemetry line for this long means the board is gone (it sends one every 500 ms). */
  telemetryTimeoutMs?: number;
  /** `current()` and `ping()` want a telemetry line at most this old, and wait this long for one. */
  telemetryFreshMs?: number;
}

const CHANNELS = 16;
const ALL_ON = 0xffff;
/** Telemetry lines are ~100 bytes; anything far longer is noise. */
const MAX_LINE = 256;

export const LEGACY_IDENTITY: BoardIdentity = Object.freeze({
  protocol: 'legacy',
  channels: CHANNELS,
  firmware: 'legacy',
  features: Object.freeze(['current'] as const),
  bootId: null,
  serial: null,
});

interface TelemetryWaiter {
  resolve: (values: number[]) => void;
  reject: (error: PduError) => void;
  timer: NodeJS.Timeout;
}

/**
 * The original PiPDU firmware (end of docs/relay-board-protocol.md): one
 * letter per command, no replies, a line of 16 currents in amps every 500 ms.
 *
 * It never reports its relays, so every mask here is *assumed*: what this
 * host last sent, starting from `assumedMask` (`reportsState` is false).
 * Telemetry is its only sign of life, so online means the port is open and a
 * telemetry line has arrived since (letters written to a silent board would
 * vanish unnoticed); `start()` resolves at that first line or after
 * `telemetryTimeoutMs` without one. After `telemetryTimeoutMs` of silence the
 * port is closed and reopened with back-off, as for PRP/1. A board reset
 * cannot be seen (no `boot` events, `bootId` null), nor which board it is
 * (`serial` null).
 *
 * The port, sessions and reopening are a `LinkKeeper`'s (hardware/link-keeper.ts);
 * its `linked` phase is this driver's wait for the first telemetry line.
 */
export class LegacyBoard extends EventEmitter<RelayBoardEvents> implements RelayBoard {
  readonly driver: BoardDriverName = 'legacy';
  readonly reportsState = false;

  private readonly link: LinkKeeper;
  private readonly logger: Logger;
  private readonly telemetryTimeoutMs: number;
  private readonly telemetryFreshMs: number;
  private readonly splitter = new LineSplitter(MAX_LINE);
  private readonly counters: RelayBoardStats = emptyStats();

  private mask: number;
  private latest: { values: number[]; at: number } | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private waiters = new Set<TelemetryWaiter>();
  /** Letters go out one write at a time, so the assumed mask follows the order of calls. */
  private writes: Promise<unknown> = Promise.resolve();
  /** Ends the current attempt's wait for its first telemetry line. */
  private endListening: (() => void) | null = null;

  constructor(deps: LegacyBoardDeps) {
    super();
    this.logger = deps.logger.child({ board: 'legacy' });
    this.mask = deps.assumedMask ?? 0;
    this.telemetryTimeoutMs = deps.telemetryTimeoutMs ?? 5000;
    this.telemetryFreshMs = deps.telemetryFreshMs ?? 1500;
    this.link = new LinkKeeper(
      { transport: deps.transport, logger: this.logger, backoff: deps.backoff },
      {
        onOpen: () => this.listen(),
        onData: (text) => this.onData(text),
        onLost: (reason, wasOnline) => {
          this.release(reason);
          if (wasOnline) this.emit('disconnected', reason);
        },
        onStop: (reason) => this.release(reason),
        settle: () => this.writes.catch(() => {}),
      },
    );
  }

  get online(): boolean {
    return this.link.phase === 'online';
  }

  get identity(): BoardIdentity | null {
    return this.link.everConnected ? LEGACY_IDENTITY : null;
  }

  get stats(): Readonly<RelayBoardStats> {
    return { ...this.counters };
  }

  start(): Promise<void> {
    return this.link.start();
  }

  stop(): Promise<void> {
    return this.link.stop();
  }

  async state(): Promise<number> {
    this.assertOnline();
    return this.mask;
  }

  set(channel: number, on: boolean, options: SetOptions = {}): Promise<number> {
    if (!Number.isInteger(channel) || channel < 0 || channel >= CHANNELS) {
      return Promise.reject(
        new PduError('BAD_REQUEST', `channel ${channel} out of range 0..${CHANNELS - 1}`),
      );
    }
    const letter = String.fromCharCode((on ? 65 : 97) + channel); // 'A'+ch on, 'a'+ch off
    // No reply to wait for: the write has drained when this resolves.
    return this.write(letter, (mask) => (on ? mask | (1 << channel) : mask & ~(1 << channel))).then(
      (mask) => {
        options.onSent?.(performance.now());
        return mask;
      },
    );
  }

  setMask(mask: number): Promise<number> {
    if (!Number.isInteger(mask) || mask < 0 || mask > ALL_ON) {
      return Promise.reject(new PduError('BAD_REQUEST', `mask ${mask} does not fit ${CHANNELS} channels`));
    }
    return this.write(
      (assumed) => lettersFor(assumed, mask),
      () => mask,
    );
  }

  async current(): Promise<number[]> {
    return this.freshTelemetry();
  }

  powerUpMask(): Promise<number> {
    return Promise.reject(unsupported('the legacy firmware has no stored power-up mask'));
  }

  setPowerUpMask(_mask: number): Promise<number> {
    return Promise.reject(unsupported('the legacy firmware cannot store a power-up mask'));
  }

  /** Alive means a telemetry line arrived lately (the firmware answers nothing). */
  async ping(): Promise<void> {
    await this.freshTelemetry();
  }

  // --- connection -----------------------------------------------------------

  /** The port has opened (link `linked`): wait for the first telemetry line, or silence. */
  private async listen(): Promise<void> {
    this.splitter.reset();
    this.latest = null;
    this.watchdog = setTimeout(() => this.onSilence(), this.telemetryTimeoutMs);
    this.logger.debug({ port: this.link.description }, 'legacy relay board port open: waiting for telemetry');
    await new Promise<void>((resolve) => {
      this.endListening = resolve;
    });
    this.endListening = null;
  }

  /** The first telemetry line on an open port: the board is there. */
  private goOnline(): void {
    const reconnect = this.link.online();
    this.endListening?.();
    if (reconnect) this.counters.reconnects++;
    this.logger.info(
      { port: this.link.description, assumedMask: this.mask, reconnect },
      'legacy relay board connected (relay state is assumed)',
    );
    this.emit('connected', {
      identity: LEGACY_IDENTITY,
      mask: this.mask,
      reconnect,
      bootDuringConnect: null,
    });
  }

  private onSilence(): void {
    this.watchdog = null;
    this.counters.timeouts++;
    const message = `no telemetry from the relay board for ${this.telemetryTimeoutMs} ms`;
    if (this.link.phase === 'linked')
      this.link.attemptFailed('SILENT', `relay board port open but ${message}`);
    this.link.drop(new BoardTimeoutError(message));
  }

  /** The session ended (drop or stop): no watchdog, telemetry waits fail, the attempt's wait ends. */
  private release(reason: PduError): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
    this.failWaiters(reason);
    this.endListening?.();
  }

  // --- commands -------------------------------------------------------------

  private assertOnline(): void {
    const refusal = this.link.refusal();
    if (refusal) throw refusal;
  }

  /** Send letters (computed from the assumed mask at their turn), then adopt the new assumed mask. */
  private write(
    letters: string | ((assumed: number) => string),
    next: (assumed: number) => number,
  ): Promise<number> {
    try {
      this.assertOnline();
    } catch (error) {
      return Promise.reject(error);
    }
    const session = this.link.session;
    const run = async (): Promise<number> => {
      if (session !== this.link.session) {
        throw this.link.phase === 'stopped' ? stoppedError() : new BoardOfflineError();
      }
      const text = typeof letters === 'string' ? letters : letters(this.mask);
      if (text !== '') {
        this.counters.requests++;
        try {
          await this.link.transport.write(text);
        } catch (error) {
          throw this.link.writeFailed(session, error);
        }
      }
      this.mask = next(this.mask);
      if (session === this.link.session) this.emit('mask', this.mask);
      return this.mask;
    };
    const result = this.writes.then(run, run);
    this.writes = result.catch(() => {});
    return result;
  }

  // --- telemetry ------------------------------------------------------------

  private onData(text: string): void {
    if (!this.link.live) return;
    const { lines, overlong } = this.splitter.push(text);
    this.counters.garbageLines += overlong;
    for (const line of lines) {
      if (!this.link.live) return;
      if (line.trim() === '') continue;
      const amps = parseLegacyTelemetry(line);
      if (!amps) {
        this.counters.garbageLines++;
        this.logger.debug({ line: line.slice(0, 80) }, 'unparseable line from the relay board ignored');
        continue;
      }
      const values = amps.map((value) => Math.round(value * 1000));
      this.latest = { values, at: performance.now() };
      this.watchdog?.refresh();
      if (this.link.phase === 'linked') this.goOnline();
      if (this.link.phase !== 'online') return; // a `connected` listener stopped the driver
      for (const waiter of this.waiters) {
        clearTimeout(waiter.timer);
        waiter.resolve(values);
      }
      this.waiters.clear();
      this.emit('current', values);
    }
  }

  private freshTelemetry(): Promise<number[]> {
    try {
      this.assertOnline();
    } catch (error) {
      return Promise.reject(error);
    }
    const latest = this.latest;
    if (latest && performance.now() - latest.at <= this.telemetryFreshMs)
      return Promise.resolve(latest.values);
    return new Promise((resolve, reject) => {
      const waiter: TelemetryWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new BoardTimeoutError(`no telemetry from the relay board for ${this.telemetryFreshMs} ms`));
        }, this.telemetryFreshMs),
      };
      this.waiters.add(waiter);
    });
  }

  private failWaiters(error: PduError): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters.clear();
  }
}

/**
 * A telemetry line: 16 currents in amps, `0.12,0.00,...` or (later builds)
 * `0.12 0.00 ... ` with a trailing space. Null for anything else.
 */
export function parseLegacyTelemetry(line: string): number[] | null {
  const parts = line.includes(',')
    ? line.split(',')
    : (line.endsWith(' ') ? line.slice(0, -1) : line).split(' ');
  if (parts.length !== CHANNELS || !parts.every((part) => /^\d{1,3}(\.\d{1,4})?$/.test(part))) return null;
  return parts.map(Number);
}

/** The letters that take the relays from `from` to `to`: `q` for all off, `r` for all on. */
export function lettersFor(from: number, to: number): string {
  if (to === 0) return 'q';
  if (to === ALL_ON) return 'r';
  let letters = '';
  for (let channel = 0; channel < CHANNELS; channel++) {
    const bit = 1 << channel;
    if ((from & bit) === (to & bit)) continue;
    letters += String.fromCharCode((to & bit ? 65 : 97) + channel);
  }
  return letters;
}

function unsupported(message: string): PduError {
  return new PduError('UNSUPPORTED', message);
}
