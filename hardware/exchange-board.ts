import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { BoardOfflineError, BoardTimeoutError, PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { BackoffOptions, LineTransport } from './line-transport.js';
import { emptyStats, LinkKeeper, stoppedError } from './link-keeper.js';
import type {
  BoardDriverName,
  BoardIdentity,
  RelayBoard,
  RelayBoardEvents,
  RelayBoardStats,
  SetOptions,
} from './relay-board.js';

/**
 * What a board's protocol does on an open port, for `ExchangeBoard`: the
 * Numato, LCUS and Modbus drivers are one of these each. The board keeps
 * the link, the queue, the masks and the events; a protocol only turns
 * "read", "switch" and "who are you" into bytes and back.
 *
 * Rules a protocol keeps:
 * - One operation at a time: the board never calls the next before the
 *   previous one has settled.
 * - `identify()` and `read()` never drive a relay (they run at every connect).
 * - Silence is a `BoardTimeoutError` (after `io.replyTimeoutMs` per exchange);
 *   a reply that makes no sense is a `PduError` BOARD_PROTOCOL saying what
 *   came instead; a refusal by the device is BOARD_ERROR.
 * - Bytes that arrive while no exchange waits are the protocol's to count
 *   with `io.garbage()` and drop.
 */
export interface RelayProtocol {
  /** For messages: "Numato module", "LCUS board", "Modbus board". */
  readonly label: string;
  /** `BoardIdentity.protocol`. */
  readonly protocol: string;
  /** A fresh session on a freshly opened port: forget partial input, write through `io`. */
  attach(io: ProtocolIo): void;
  /** Bytes from the port (latin1), whatever the phase. */
  receive(bytes: string): void;
  /** The session ended (port gone, stop): fail the exchange in flight with `reason` at once. */
  detach(reason: PduError): void;
  /** The device's firmware and its own identity (null where it has none). */
  identify(): Promise<{ firmware: string; serial: string | null }>;
  /** The relays energized now, bit i = channel i (only called on boards that report state). */
  read(): Promise<number>;
  /** Drive one channel; call `sent()` once the command has left the port. */
  write(channel: number, on: boolean, sent: () => void): Promise<void>;
  /** Drive every channel that differs between `from` and `to`. */
  writeMask(to: number, from: number): Promise<void>;
}

export interface ProtocolIo {
  /** Bytes to the port; `drain` waits until they have left it. */
  write(bytes: string, drain: boolean): Promise<void>;
  readonly replyTimeoutMs: number;
  /** Unexpected bytes were dropped (counted in `stats.garbageLines`, logged at debug). */
  garbage(sample: string): void;
}

export interface ExchangeBoardDeps {
  driver: BoardDriverName;
  transport: LineTransport;
  protocol: RelayProtocol;
  logger: Logger;
  channels: number;
  /** false: the device cannot say; masks are what this host last sent, from `assumedMask`. */
  reportsState: boolean;
  /** Boards that cannot report: the relays as last saved (default all off). */
  assumedMask?: number;
  /** Per exchange (default 500 ms). */
  replyTimeoutMs?: number;
  backoff?: BackoffOptions;
}

/** Protocol errors in a row (garbage, refusals) before the port is closed and reopened. */
const ERRORS_BEFORE_REOPEN = 2;

/**
 * A `RelayBoard` for devices that answer one exchange at a time, or nothing
 * at all: the Numato, LCUS and Modbus drivers (hardware/index.ts builds them).
 *
 * Rules, on top of the `RelayBoard` ones:
 * - Connecting reads and never writes a relay: `identify()`, then `read()`
 *   (boards that report state) or the assumed mask (those that cannot).
 *   Only `set()` and `setMask()` switch.
 * - Calls run one at a time in call order. Masks after a switch are the
 *   last read mask with the acknowledged change applied; `state()` reads.
 * - Silence (a reply timeout) fails the call, then the link is dropped: the
 *   port is closed and reopened with back-off, and calls queued behind it
 *   fail at once with the same BOARD_TIMEOUT. The reconnect re-reads the
 *   relays, so a switch that timed out is settled by the `connected` mask.
 * - A reply that makes no sense (garbage) or a refusal fails the call with
 *   BOARD_PROTOCOL / BOARD_ERROR; on a board that reports state the relays
 *   are re-read before the next call (emitted as `mask`). Two in a row drop
 *   the link as silence does.
 * - These boards cannot show a reset: `bootId` is null and `boot` is never
 *   emitted; a board that comes back is adopted as it reads.
 */
export class ExchangeBoard extends EventEmitter<RelayBoardEvents> implements RelayBoard {
  readonly driver: BoardDriverName;
  readonly reportsState: boolean;

  private readonly link: LinkKeeper;
  private readonly logger: Logger;
  private readonly protocol: RelayProtocol;
  private readonly channels: number;
  private readonly allOn: number;
  private readonly replyTimeoutMs: number;
  private readonly counters: RelayBoardStats = emptyStats();
  private mask: number;
  private known: BoardIdentity | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** Why the last session ended: calls queued in it fail with this. */
  private lostReason: PduError | null = null;
  private errorsInARow = 0;
  private inDoubt = false;

  constructor(deps: ExchangeBoardDeps) {
    super();
    this.driver = deps.driver;
    this.reportsState = deps.reportsState;
    this.protocol = deps.protocol;
    this.channels = deps.channels;
    this.allOn = deps.channels >= 32 ? 0xffffffff : 2 ** deps.channels - 1;
    this.mask = ((deps.assumedMask ?? 0) & this.allOn) >>> 0;
    this.replyTimeoutMs = deps.replyTimeoutMs ?? 500;
    this.logger = deps.logger.child({ board: deps.driver });
    this.link = new LinkKeeper(
      { transport: deps.transport, logger: this.logger, backoff: deps.backoff },
      {
        onOpen: (session) => this.bringUp(session),
        onData: (bytes) => {
          if (this.link.live) this.protocol.receive(bytes);
        },
        onLost: (reason, wasOnline) => {
          this.lostReason = reason;
          this.protocol.detach(reason);
          if (wasOnline) this.emit('disconnected', reason);
          else this.logger.debug({ reason: reason.message }, 'relay board link dropped while connecting');
        },
        onStop: (reason) => {
          this.lostReason = reason;
          this.protocol.detach(reason);
        },
        settle: () => this.chain.catch(() => {}),
      },
    );
  }

  get online(): boolean {
    return this.link.phase === 'online';
  }

  get identity(): BoardIdentity | null {
    return this.known;
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

  state(): Promise<number> {
    return this.call(async () => {
      if (this.reportsState) this.mask = await this.protocol.read();
      return this.mask;
    });
  }

  set(channel: number, on: boolean, options: SetOptions = {}): Promise<number> {
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.channels) {
      return Promise.reject(
        new PduError(
          'BAD_REQUEST',
          `channel ${channel} has no relay: the ${this.protocol.label} has ${this.channels} channel${this.channels === 1 ? '' : 's'} (0..${this.channels - 1})`,
        ),
      );
    }
    return this.call(async () => {
      await this.protocol.write(channel, on, () => options.onSent?.(performance.now()));
      const bit = 2 ** channel;
      // `>>> 0`: bitwise operators give signed 32-bit results, and channel 31 is the sign bit.
      this.mask = ((on ? this.mask | bit : this.mask & ~bit) & this.allOn) >>> 0;
      return this.mask;
    }, true);
  }

  setMask(mask: number): Promise<number> {
    if (!Number.isInteger(mask) || mask < 0 || mask > this.allOn) {
      return Promise.reject(
        new PduError(
          'BAD_REQUEST',
          `mask ${mask} does not fit the ${this.protocol.label}'s ${this.channels} channels`,
        ),
      );
    }
    return this.call(async () => {
      await this.protocol.writeMask(mask, this.mask);
      this.mask = mask;
      return mask;
    }, true);
  }

  current(): Promise<number[]> {
    return Promise.reject(new PduError('UNSUPPORTED', `the ${this.protocol.label} reports no current`));
  }

  powerUpMask(): Promise<number> {
    return Promise.reject(
      new PduError('UNSUPPORTED', `the ${this.protocol.label} has no stored power-up mask`),
    );
  }

  setPowerUpMask(_mask: number): Promise<number> {
    return Promise.reject(
      new PduError('UNSUPPORTED', `the ${this.protocol.label} cannot store a power-up mask`),
    );
  }

  /** A read on boards that report state; otherwise the port being open is all there is to know. */
  async ping(): Promise<void> {
    await this.call(async () => {
      if (this.reportsState) this.mask = await this.protocol.read();
      return this.mask;
    });
  }

  // --- connection -----------------------------------------------------------

  /** The port has opened: who is it, what are its relays; online, or drop. Writes no relay. */
  private async bringUp(session: number): Promise<void> {
    this.protocol.attach(this.io(session));
    try {
      const { firmware, serial } = await this.protocol.identify();
      const mask = this.reportsState ? await this.protocol.read() : this.mask;
      if (session !== this.link.session) return;
      this.mask = mask;
      this.inDoubt = false;
      this.errorsInARow = 0;
      this.known = {
        protocol: this.protocol.protocol,
        channels: this.channels,
        firmware,
        features: [],
        bootId: null,
        serial,
      };
      const reconnect = this.link.online();
      if (reconnect) this.counters.reconnects++;
      this.logger.info(
        { port: this.link.description, firmware, serial, mask: mask.toString(16), reconnect },
        `${this.protocol.label} connected${this.reportsState ? '' : ' (relay state is assumed)'}`,
      );
      this.emit('connected', { identity: this.known, mask, reconnect, bootDuringConnect: null });
      if (session === this.link.session) this.emit('mask', mask);
    } catch (error) {
      if (session !== this.link.session) return;
      const reason = asPduError(error);
      if (reason instanceof BoardTimeoutError) this.counters.timeouts++;
      this.link.attemptFailed(
        reason.code,
        `relay board port open but the ${this.protocol.label} does not answer as one: ${reason.message}`,
      );
      this.link.drop(reason);
    }
  }

  private io(session: number): ProtocolIo {
    return {
      replyTimeoutMs: this.replyTimeoutMs,
      write: async (bytes, drain) => {
        if (session !== this.link.session) throw this.lostReason ?? new BoardOfflineError();
        try {
          await this.link.transport.write(bytes, { drain });
        } catch (error) {
          throw this.link.writeFailed(session, error);
        }
      },
      garbage: (sample) => {
        this.counters.garbageLines++;
        this.logger.debug(
          { bytes: JSON.stringify(sample.slice(0, 40)) },
          'unexpected bytes from the relay board ignored',
        );
      },
    };
  }

  // --- calls ----------------------------------------------------------------

  /** Runs `operation` after the calls before it, on this session; settles errors as the class says. */
  private call(operation: () => Promise<number>, switching = false): Promise<number> {
    const refusal = this.link.refusal();
    if (refusal) return Promise.reject(refusal);
    const session = this.link.session;
    const run = async (): Promise<number> => {
      if (session !== this.link.session) {
        throw this.link.phase === 'stopped' ? stoppedError() : (this.lostReason ?? new BoardOfflineError());
      }
      this.counters.requests++;
      try {
        if (this.inDoubt && this.reportsState) {
          this.mask = await this.protocol.read();
          this.inDoubt = false;
          this.emitMask(session);
        }
        const mask = await operation();
        this.errorsInARow = 0;
        this.emitMask(session);
        return mask;
      } catch (error) {
        throw this.failed(asPduError(error), session, switching);
      }
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => {});
    return result;
  }

  private failed(error: PduError, session: number, switching: boolean): PduError {
    if (session !== this.link.session) return this.lostReason ?? error;
    if (error.code === 'BOARD_OFFLINE') return error;
    if (error instanceof BoardTimeoutError) {
      this.counters.timeouts++;
      this.logger.warn({ reason: error.message }, 'relay board silent: closing the port and reopening');
      const message = switching
        ? `${error.message}; the relay may have switched: its state is re-read when the board answers again`
        : error.message;
      const reason = new BoardTimeoutError(message);
      this.link.drop(reason);
      return reason;
    }
    this.errorsInARow++;
    if (switching || error.code === 'BOARD_PROTOCOL') this.inDoubt = true;
    this.logger.warn({ reason: error.message, inARow: this.errorsInARow }, 'relay board request failed');
    if (this.errorsInARow >= ERRORS_BEFORE_REOPEN) {
      this.link.drop(
        new PduError(
          'BOARD_PROTOCOL',
          `${error.message} (${this.errorsInARow} in a row: reopening the port)`,
        ),
      );
    }
    return error;
  }

  private emitMask(session: number): void {
    if (session === this.link.session && this.link.phase === 'online') this.emit('mask', this.mask);
  }
}

function asPduError(error: unknown): PduError {
  if (error instanceof PduError) return error;
  return new PduError('BOARD_PROTOCOL', error instanceof Error ? error.message : String(error));
}

/**
 * Waits for replies on a byte stream: `transact()` writes a request and
 * resolves with what `match` makes of the bytes received since, once it
 * makes something of them. Bytes received while nothing waits are garbage.
 * One exchange at a time (`ExchangeBoard` guarantees it).
 */
export class ReplyReader {
  private io: ProtocolIo | null = null;
  private buffer = '';
  private waiter: {
    match: (buffer: string) => { value: unknown; rest: string } | null;
    resolve: (value: unknown) => void;
    reject: (error: PduError) => void;
    timer: NodeJS.Timeout;
  } | null = null;

  constructor(private readonly label: string) {}

  attach(io: ProtocolIo): void {
    this.io = io;
    this.buffer = '';
    this.detach(new BoardOfflineError());
  }

  /** Fails the exchange in flight (if any) with `reason`; later bytes are garbage. */
  detach(reason: PduError): void {
    const waiter = this.waiter;
    this.settle();
    waiter?.reject(reason);
  }

  receive(bytes: string): void {
    const waiter = this.waiter;
    if (!waiter) {
      this.io?.garbage(bytes);
      return;
    }
    this.buffer += bytes;
    let matched: { value: unknown; rest: string } | null;
    try {
      matched = waiter.match(this.buffer);
    } catch (error) {
      this.buffer = '';
      this.settle();
      waiter.reject(asPduError(error));
      return;
    }
    if (!matched) return;
    this.settle();
    if (matched.rest !== '') this.io?.garbage(matched.rest);
    this.buffer = '';
    waiter.resolve(matched.value);
  }

  /**
   * Writes `request`; resolves with `match`'s value. `match` returns null
   * while more bytes are needed, and throws (BOARD_PROTOCOL) on bytes that
   * cannot become a reply. `sent` is called once the request has left.
   */
  transact<T>(
    request: string,
    match: (buffer: string) => { value: T; rest: string } | null,
    sent?: () => void,
  ): Promise<T> {
    const io = this.io;
    if (!io) return Promise.reject(new BoardOfflineError());
    this.buffer = '';
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        const got = this.buffer === '' ? 'nothing' : `only ${JSON.stringify(this.buffer.slice(0, 40))}`;
        this.buffer = '';
        reject(
          new BoardTimeoutError(
            `the ${this.label} did not answer ${JSON.stringify(request.trim()).slice(0, 40)} within ${io.replyTimeoutMs} ms (got ${got})`,
          ),
        );
      }, io.replyTimeoutMs);
      this.waiter = { match, resolve: resolve as (value: unknown) => void, reject, timer };
      io.write(request, sent !== undefined).then(
        () => sent?.(),
        (error: unknown) => {
          if (this.waiter?.timer !== timer) return;
          this.settle();
          reject(asPduError(error));
        },
      );
    });
  }

  private settle(): void {
    if (this.waiter) clearTimeout(this.waiter.timer);
    this.waiter = null;
  }
}
