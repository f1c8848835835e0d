import { EventEmitter } from 'node:events';
import type { SocketConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { BoardRecord, SavedState, StateStore } from '../state/state-store.js';
import type { PowerReadings } from './hooks/step.js';

/** Why a relay changed: a request, the board on its own, or a restore after a reset. */
export type ChangeCause = 'command' | 'board' | 'restore';

/** One socket whose relay changed in a mask the mirror took. */
export interface RelayChange {
  socket: SocketConfig;
  previous: boolean | null;
  cause: ChangeCause;
}

/** Current on a socket shown off above this is a contradiction worth a STATE read (sensor noise reads ≤ 30 mA). */
export const CONTRADICTION_MA = 100;

/**
 * What the daemon knows of the relays and the sockets' current: the board's
 * latest word (or, for a board that cannot report state, what was last sent
 * to it), persisted to state.json with the board it belongs to.
 *
 * Rules:
 * - A mask from the board is the truth: `take()` returns what changed and
 *   saves it. A changed channel whose SET is in flight is that command's
 *   doing (`switching`); any other change is the caller's fallback cause.
 * - state.json is written when a relay changes (never for telemetry), and
 *   when the board it describes changes.
 * - Telemetry is kept, never saved; `contradictions()` names the channels
 *   that draw current while shown off, with no SET in flight on them.
 */
export class RelayMirror {
  /** Relay mask by channel; null before first contact. */
  mask: number | null = null;
  /** RMS current per channel in milliamps, from the latest telemetry; null without. */
  currents: readonly number[] | null = null;
  /** The board state.json describes, and its boot id; set by board recovery. */
  board: BoardRecord | null = null;
  bootId: string | null = null;
  /** The state loaded at start (what `restore: last` restores), then the last one saved. */
  saved: SavedState | null = null;

  private readonly store: StateStore;
  private readonly logger: Logger;
  private readonly changedAt = new Map<number, string>();
  private readonly switching = new Map<number, ChangeCause>();
  /** Every `! CURRENT`, for hook steps that wait on power, whether or not anyone listens to telemetry. */
  private readonly readings = new EventEmitter<{ reading: [] }>();

  constructor(deps: { store: StateStore; logger: Logger }) {
    this.store = deps.store;
    this.logger = deps.logger;
  }

  async load(): Promise<SavedState | null> {
    this.saved = await this.store.load();
    this.board = this.saved?.board ?? null;
    this.bootId = this.saved?.bootId ?? null;
    return this.saved;
  }

  isOn(channel: number): boolean {
    return this.mask !== null && (this.mask & (1 << channel)) !== 0;
  }

  /** On, off, or null before first contact. */
  stateOf(channel: number): boolean | null {
    return this.mask === null ? null : this.isOn(channel);
  }

  changedAtOf(channel: number): string | null {
    return this.changedAt.get(channel) ?? null;
  }

  currentOf(channel: number): number | null {
    return this.currents?.[channel] ?? null;
  }

  /** Marks a channel's SET in flight (its mask change is `cause`'s doing) until the returned function is called. */
  switchingOn(channel: number, cause: ChangeCause): () => void {
    this.switching.set(channel, cause);
    return () => this.switching.delete(channel);
  }

  /** Takes a mask as the truth; returns the sockets whose relay changed, and saves the state when any did. */
  take(mask: number, fallbackCause: ChangeCause, sockets: readonly SocketConfig[]): RelayChange[] {
    const previous = this.mask;
    this.mask = mask;
    if (previous === mask) return [];
    const now = new Date().toISOString();
    const changes: RelayChange[] = [];
    for (const socket of sockets) {
      const bit = 1 << socket.channel;
      const was = previous === null ? null : (previous & bit) !== 0;
      if (was === ((mask & bit) !== 0)) continue;
      this.changedAt.set(socket.channel, now);
      changes.push({ socket, previous: was, cause: this.switching.get(socket.channel) ?? fallbackCause });
    }
    this.persist(sockets);
    return changes;
  }

  /** Writes state.json (coalesced by the store): the board, its boot id, the relays. */
  persist(sockets: readonly SocketConfig[]): void {
    if (this.mask === null) return;
    const mask = this.mask;
    const states: Record<string, boolean> = {};
    for (const socket of sockets) states[socket.number] = (mask & (1 << socket.channel)) !== 0;
    const state = { board: this.board, bootId: this.bootId, mask, sockets: states };
    this.saved = { version: 1, ...state, savedAt: new Date().toISOString() };
    this.store
      .save(state)
      .catch((error: unknown) =>
        this.logger.error({ err: error, file: this.store.file }, 'could not save state'),
      );
  }

  /** Takes a telemetry line; returns the channels that draw current while shown off (none for assumed state). */
  ingest(milliamps: readonly number[], sockets: readonly SocketConfig[], reportsState: boolean): number[] {
    this.currents = milliamps;
    this.readings.emit('reading');
    if (!reportsState || this.mask === null) return [];
    return sockets
      .filter(
        (socket) =>
          !this.isOn(socket.channel) &&
          !this.switching.has(socket.channel) &&
          (milliamps[socket.channel] ?? 0) > CONTRADICTION_MA,
      )
      .map((socket) => socket.channel);
  }

  /** A socket's power from telemetry, for `waitPowerBelow`. */
  powerReadings(channel: number, volts: () => number, available: () => boolean): PowerReadings {
    const watts = (): number | null => {
      const milliamps = this.currents?.[channel];
      return milliamps === undefined ? null : (milliamps / 1000) * volts();
    };
    return {
      get available() {
        return available();
      },
      latest: watts,
      subscribe: (listener) => {
        const onReading = (): void => {
          const value = watts();
          if (value !== null) listener(value);
        };
        this.readings.on('reading', onReading);
        return () => this.readings.off('reading', onReading);
      },
    };
  }
}
