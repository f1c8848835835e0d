import { BoardOfflineError, PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  type LineTransport,
  ReopenSchedule,
} from './line-transport.js';
import type { RelayBoardStats } from './relay-board.js';

/**
 * - `idle`: no port (before `start()`, or after a drop, waiting for the back-off).
 * - `opening`: an attempt is opening the port.
 * - `linked`: the port is open and the driver is bringing the board up
 *   (PRP/1: the handshake; legacy: waiting for the first telemetry line).
 * - `online`: the driver said the board is up (`online()`).
 * - `stopped`: for good.
 */
export type LinkPhase = 'idle' | 'opening' | 'linked' | 'online' | 'stopped';

/** What a driver does at the points of the lifecycle that are its own. */
export interface LinkHooks {
  /**
   * The port has just opened for `session` (phase `linked`). Bring the board
   * up and call `online()` once it is, or `drop()` to give up; resolve when
   * this attempt is over either way (`start()` waits for it).
   */
  onOpen(session: number): Promise<void>;
  /** Text from the transport, whatever the phase (drivers ignore it unless `live`). */
  onData(text: string): void;
  /**
   * `drop()` ended the session: fail pending calls with `reason` and clear
   * the driver's timers; when `wasOnline`, emit `disconnected` (the service
   * logs "relay board offline" on it: the keeper does not).
   */
  onLost(reason: PduError, wasOnline: boolean): void;
  /** `stop()` ended the session: fail pending calls with `reason` (STOPPED) and clear timers. */
  onStop(reason: PduError): void;
  /** `stop()`: what must finish before the port is closed (the legacy driver's queued writes). */
  settle?(): Promise<unknown>;
}

export interface LinkKeeperOptions {
  transport: LineTransport;
  /** The driver's logger. */
  logger: Logger;
  backoff?: BackoffOptions;
}

/**
 * The connection lifecycle both serial drivers (PRP/1, legacy) share: it
 * owns the transport's open and close, the session number, the phase and
 * the back-off reopen; the driver owns what the board says and brings it up
 * through `LinkHooks`. Composition rather than a base class: the drivers are
 * `EventEmitter`s with a public `RelayBoard` surface, and the keeper needs
 * none of it, nor they any of its internals.
 *
 * Rules it keeps:
 * - One attempt at a time: `open()` (after a previous close has finished),
 *   then `onOpen(session)`. An open that fails is logged once per outage
 *   and kind (`ReopenSchedule`) and retried with back-off.
 * - Every attempt and every drop bumps `session`; async work holding an
 *   older number must stop (a port that opens for a stale attempt is closed
 *   at once). Drivers compare their number with `session` after each await.
 * - `drop(reason)` (the transport's `close`, a failed write, a driver giving
 *   up) works while opening, linked or online, and is ignored otherwise: it
 *   goes `idle`, bumps the session, starts closing the port, calls
 *   `onLost` (the service logs "relay board offline", once), and schedules a
 *   reopen (unless an `onLost` listener stopped the driver).
 * - `online()` resets the back-off and says whether this is a reconnect; a
 *   reconnect logs one line with how long the board was away and how many
 *   attempts it took (each failed attempt's own warning is logged once per
 *   outage and kind, by ReopenSchedule).
 * - `start()` rejects with STOPPED after `stop()`, runs the first attempt
 *   once and resolves when it is over; later calls resolve at once.
 * - `stop()` goes `stopped`, bumps the session, clears the reopen timer,
 *   calls `onStop`, then waits for the attempt, `settle()` and a closing
 *   port, and closes and disposes the transport. It is idempotent.
 * - The transport's `error` events are logged at debug level, nothing more.
 */
export class LinkKeeper {
  readonly transport: LineTransport;
  private readonly logger: Logger;
  private readonly hooks: LinkHooks;
  private readonly reopen: ReopenSchedule;
  private current: LinkPhase = 'idle';
  private sessionNumber = 0;
  private started = false;
  private connectedBefore = false;
  /** Attempts since the board was last online (0 when it is), and when it went away. */
  private retries = 0;
  private lostAt = 0;
  private attempt: Promise<void> | null = null;
  private closing: Promise<void> = Promise.resolve();

  constructor(options: LinkKeeperOptions, hooks: LinkHooks) {
    this.transport = options.transport;
    this.logger = options.logger;
    this.hooks = hooks;
    this.reopen = new ReopenSchedule({
      logger: this.logger,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      description: this.transport.description,
      attempt: () => this.runAttempt(),
    });
    this.transport.on('data', (text) => this.hooks.onData(text));
    this.transport.on('close', (error) =>
      this.drop(new BoardOfflineError(`the relay board's port closed: ${error.message}`)),
    );
    this.transport.on('error', (error) =>
      this.logger.debug({ err: error.message }, 'relay board port reported an error'),
    );
  }

  get phase(): LinkPhase {
    return this.current;
  }

  /** The number of the current attempt; bumped by every attempt, drop and stop. */
  get session(): number {
    return this.sessionNumber;
  }

  /** The port is open for the current session: `linked` or `online`. */
  get live(): boolean {
    return this.current === 'linked' || this.current === 'online';
  }

  /** `online()` has been called at least once. */
  get everConnected(): boolean {
    return this.connectedBefore;
  }

  get description(): string {
    return this.transport.description;
  }

  /**
   * Why a call cannot go out now: STOPPED after `stop()`, else BOARD_OFFLINE
   * unless online (or linked too, with `whileLinked`: the driver's own
   * requests while bringing the board up); null when it can.
   */
  refusal(whileLinked = false): PduError | null {
    if (this.current === 'stopped') return stoppedError();
    if (this.current === 'online' || (whileLinked && this.current === 'linked')) return null;
    return new BoardOfflineError();
  }

  async start(): Promise<void> {
    if (this.current === 'stopped') throw stoppedError();
    if (this.started) return;
    this.started = true;
    this.runAttempt();
    await this.attempt;
  }

  async stop(): Promise<void> {
    if (this.current === 'stopped') return;
    this.current = 'stopped';
    this.sessionNumber++;
    this.reopen.stop();
    this.hooks.onStop(stoppedError());
    await this.attempt?.catch(() => {});
    await this.hooks.settle?.();
    await this.closing;
    await this.transport.close();
    await this.transport.dispose?.();
  }

  /** The board is up on the current session: phase `online`, back-off reset. True when it was up before. */
  online(): boolean {
    const reconnect = this.connectedBefore;
    if (reconnect && this.retries > 0) {
      const seconds = Math.round((performance.now() - this.lostAt) / 1000);
      this.logger.info(
        { retries: this.retries, offlineSeconds: seconds },
        `relay board back after ${seconds} s offline (${this.retries} ${this.retries === 1 ? 'attempt' : 'attempts'})`,
      );
    }
    this.retries = 0;
    this.connectedBefore = true;
    this.current = 'online';
    this.reopen.connected();
    return reconnect;
  }

  /** Give the link up: fail every call, close the port, tell listeners, reopen with back-off. */
  drop(reason: PduError): void {
    if (this.current !== 'opening' && this.current !== 'linked' && this.current !== 'online') return;
    const wasOnline = this.current === 'online';
    this.current = 'idle';
    this.sessionNumber++;
    this.closing = this.transport.close().catch(() => {});
    if (wasOnline) this.lostAt = performance.now();
    this.hooks.onLost(reason, wasOnline);
    // A `disconnected` listener may have stopped the driver (read through `phase`: TS keeps `current` narrowed).
    if (this.phase !== 'stopped') this.reopen.schedule();
  }

  /** A write of `session` failed: drop the link if that session is still the current one. */
  writeFailed(session: number, error: unknown): BoardOfflineError {
    const message = error instanceof Error ? error.message : String(error);
    const reason = new BoardOfflineError(`writing to the relay board failed: ${message}`);
    if (session === this.sessionNumber) this.drop(reason);
    return reason;
  }

  /** An attempt failed for `kind` of reason other than the open: warn once per outage and kind. */
  attemptFailed(kind: string, message: string): void {
    this.reopen.failed(kind, message);
  }

  private runAttempt(): void {
    if (this.current !== 'idle') return;
    this.attempt = this.connect().catch((error: unknown) => {
      this.logger.error({ err: error }, 'relay board connect attempt failed unexpectedly');
    });
  }

  /** One attempt: open the port, then the driver brings the board up; a failed open schedules another. */
  private async connect(): Promise<void> {
    const session = ++this.sessionNumber;
    if (this.connectedBefore) this.retries++;
    this.current = 'opening';
    await this.closing;
    try {
      await this.transport.open();
    } catch (error) {
      if (session !== this.sessionNumber) return;
      this.current = 'idle';
      this.reopen.openFailed(error);
      this.reopen.schedule();
      return;
    }
    if (session !== this.sessionNumber) {
      await this.transport.close();
      return;
    }
    this.current = 'linked';
    await this.hooks.onOpen(session);
  }
}

/** The counters of a fresh driver. */
export function emptyStats(): RelayBoardStats {
  return { requests: 0, timeouts: 0, reconnects: 0, garbageLines: 0, unknownEvents: 0, staleReplies: 0 };
}

export function stoppedError(): PduError {
  return new PduError('STOPPED', 'the relay board driver is stopped');
}
