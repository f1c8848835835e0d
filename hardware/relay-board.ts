import type { EventEmitter } from 'node:events';
import type { BoardDriverName } from '../src/config/board-drivers.js';
import type { PduError } from '../src/errors.js';

export type { BoardDriverName } from '../src/config/board-drivers.js';

/**
 * A relay board, as the Pdu service sees it. Drivers (prp1 over serial,
 * legacy serial, the in-process simulator) implement this and nothing else;
 * `createRelayBoard()` in `hardware/index.ts` is the only place that knows them.
 *
 * Rules every driver keeps:
 * - The constructor only wires; `start()` opens the port, `stop()` closes it
 *   and clears every timer. After `stop()` no event is emitted and every call
 *   rejects with STOPPED.
 * - `start()` resolves once the first connection attempt has finished,
 *   whether or not it succeeded; the driver keeps reconnecting by itself
 *   (with back-off) until `stop()`. It never rejects for a missing device.
 * - Connecting or reconnecting never changes a relay: only `set()` and
 *   `setMask()` do (PRP/1: only SET and MASK are sent for them).
 * - Calls made while offline reject at once with BOARD_OFFLINE. After a
 *   reply timeout, calls queued behind it reject at once with BOARD_TIMEOUT.
 * - Masks are numbers, bit i = channel i, 1 = relay energized = socket on.
 * - Every mask a reply to a caller's request carries is also emitted as
 *   `mask`, so listeners always see the board's latest word on its relays.
 *   The mask re-read after a reset travels in the `boot` event instead, so
 *   listeners learn of the reset before they see its mask.
 */
export interface RelayBoard extends EventEmitter<RelayBoardEvents> {
  readonly driver: BoardDriverName;
  /** false when masks are only what the host last sent (legacy firmware): state is *assumed*. */
  readonly reportsState: boolean;
  readonly online: boolean;
  /** What the board said about itself at the last connect; null before the first. */
  readonly identity: BoardIdentity | null;
  readonly stats: Readonly<RelayBoardStats>;

  start(): Promise<void>;
  stop(): Promise<void>;

  /** The relays energized now. */
  state(): Promise<number>;
  /** Switch one channel (0-based); resolves with the new mask once the relay has been driven. */
  set(channel: number, on: boolean, options?: SetOptions): Promise<number>;
  /** Switch every channel at once; resolves with the new mask. */
  setMask(mask: number): Promise<number>;
  /** RMS current per channel in milliamps (UNSUPPORTED without the `current` feature). */
  current(): Promise<number[]>;
  /** The mask the board powers up with (UNSUPPORTED without `persist`). */
  powerUpMask(): Promise<number>;
  /** Store a new power-up mask; resolves with the stored mask (UNSUPPORTED without `persist`). */
  setPowerUpMask(mask: number): Promise<number>;
  /** Liveness check. */
  ping(): Promise<void>;
}

export interface SetOptions {
  /**
   * Called once, with `performance.now()`, when the request has been handed
   * to the link (its write completed): the moment the board drives the relay,
   * give or take the line's transmission time. Not called if it never went out.
   * The inrush guard spaces switch-ons by it.
   */
  onSent?: (at: number) => void;
}

export type BoardFeature = 'current' | 'persist';

export interface BoardIdentity {
  /** `PIPDU/1`, or `legacy` for the original firmware. */
  protocol: string;
  channels: number;
  firmware: string;
  features: readonly BoardFeature[];
  /** Changes at every reset of the board; null where the board has none (legacy). */
  bootId: string | null;
  /**
   * The board's own identity, kept for its life (PRP/1 `serial=`, 8..16
   * upper-case hex digits): a different serial is a different board. Null
   * where the board has none (PRP/1 firmware older than `serial=`, legacy).
   */
  serial: string | null;
}

export interface BoardConnectedEvent {
  identity: BoardIdentity;
  /** The STATE reply taken as truth (legacy: the assumed mask). */
  mask: number;
  /** false for the first connection after `start()`. */
  reconnect: boolean;
  /**
   * A `! BOOT` was seen while connecting (the handshake was then redone, so
   * identity and mask are the post-reset ones). Null when none was seen.
   */
  bootDuringConnect: BoardBootEvent | null;
}

export interface BoardBootEvent {
  /** The mask the board powered up with (from STATE right after the `! BOOT`, when the board answered). */
  mask: number;
  /** Milliseconds since this driver opened the port: under 2000 means the board resets on open (DTR). */
  msSinceOpen: number;
}

export interface RelayBoardEvents {
  connected: [event: BoardConnectedEvent];
  disconnected: [reason: PduError];
  /** `! BOOT` while connected: the board lost its state. Never emitted before `connected`. */
  boot: [event: BoardBootEvent];
  mask: [mask: number];
  /** Telemetry, one value per channel in milliamps (`! CURRENT` events, legacy telemetry lines). */
  current: [milliamps: readonly number[]];
  /** `! FAULT <text>` from the board. */
  fault: [text: string];
}

export interface RelayBoardStats {
  requests: number;
  timeouts: number;
  reconnects: number;
  /** Lines that were neither a reply, a known event nor an unknown event (counted, ignored). */
  garbageLines: number;
  /** Well-formed events this host does not know (counted, ignored). */
  unknownEvents: number;
  /** Replies whose id matched no outstanding request (late or stale). */
  staleReplies: number;
}
