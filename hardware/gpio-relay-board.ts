import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { BoardOfflineError, PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { AdoptedLine, RelayLines } from './gpio-relay-lines.js';
import { emptyStats, stoppedError } from './link-keeper.js';
import type {
  BoardDriverName,
  BoardIdentity,
  RelayBoard,
  RelayBoardEvents,
  RelayBoardStats,
  SetOptions,
} from './relay-board.js';

export interface GpioRelayBoardDeps {
  /** Made at `start()` (finding the chip base reads sysfs); its errors leave the board offline. */
  lines: () => Promise<RelayLines>;
  /** BCM line of channel i. */
  channels: readonly number[];
  activeLow: boolean;
  logger: Logger;
}

/**
 * Relays wired to the Pi's own GPIO lines (a relay HAT, or modules on the
 * header), one line per channel.
 *
 * Rules, on top of the `RelayBoard` ones:
 * - `start()` adopts every line at the level it has (hardware/gpio-relay-lines.ts)
 *   and reports those levels as the mask: nothing is driven until `set()`.
 * - The lines stay outputs at their levels after `stop()`, so the next
 *   daemon finds them as this one left them.
 * - `bootId` is the machine's boot id: a reboot of the Pi is the only thing
 *   that loses the relays' state (the lines fall back to inputs), and the
 *   daemon then applies the sockets' restore policies.
 * - Where there is no GPIO the board stays offline, saying why once; calls
 *   reject with BOARD_OFFLINE. It never reconnects (GPIO does not come back).
 */
export class GpioRelayBoard extends EventEmitter<RelayBoardEvents> implements RelayBoard {
  readonly driver: BoardDriverName = 'gpio';
  readonly reportsState = true;

  private readonly deps: GpioRelayBoardDeps;
  private readonly logger: Logger;
  private readonly counters: RelayBoardStats = emptyStats();
  private lines: AdoptedLine[] = [];
  private known: BoardIdentity | null = null;
  private phase: 'idle' | 'online' | 'offline' | 'stopped' = 'idle';
  private why: PduError = new BoardOfflineError();

  constructor(deps: GpioRelayBoardDeps) {
    super();
    this.deps = deps;
    this.logger = deps.logger.child({ board: 'gpio' });
  }

  get online(): boolean {
    return this.phase === 'online';
  }

  get identity(): BoardIdentity | null {
    return this.known;
  }

  get stats(): Readonly<RelayBoardStats> {
    return { ...this.counters };
  }

  async start(): Promise<void> {
    if (this.phase === 'stopped') throw stoppedError();
    if (this.phase !== 'idle') return;
    const adopted: AdoptedLine[] = [];
    let bootId: string;
    try {
      const lines = await this.deps.lines();
      bootId = await lines.bootId();
      for (const line of this.deps.channels)
        adopted.push(lines.adopt(line, { activeLow: this.deps.activeLow }));
    } catch (error) {
      for (const line of adopted) line.close();
      // stop() may have run meanwhile (read through `stopped`: TS keeps `phase` narrowed).
      if (this.stopped) return;
      this.phase = 'offline';
      const message = error instanceof Error ? error.message : String(error);
      this.why = new BoardOfflineError(`the GPIO relay lines are unusable: ${message}`);
      this.logger.error({ err: message }, 'GPIO relay board unavailable: every socket stays offline');
      return;
    }
    if (this.stopped) {
      for (const line of adopted) line.close();
      return;
    }
    this.lines = adopted;
    const mask = adopted.reduce((sum, line, channel) => (line.initial ? sum + 2 ** channel : sum), 0);
    this.known = {
      protocol: 'gpio',
      channels: adopted.length,
      firmware: this.deps.activeLow ? 'gpio (active low)' : 'gpio',
      features: [],
      bootId,
      serial: null,
    };
    this.phase = 'online';
    this.logger.info(
      { lines: this.deps.channels, mask: mask.toString(16), bootId },
      'GPIO relay lines adopted at their levels',
    );
    this.emit('connected', { identity: this.known, mask, reconnect: false, bootDuringConnect: null });
    if (this.phase === 'online') this.emit('mask', mask);
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    for (const line of this.lines) line.close();
    this.lines = [];
  }

  async state(): Promise<number> {
    this.assertOnline();
    this.counters.requests++;
    const mask = this.read();
    this.emit('mask', mask);
    return mask;
  }

  async set(channel: number, on: boolean, options: SetOptions = {}): Promise<number> {
    this.assertOnline();
    const line = this.lines[channel];
    if (!Number.isInteger(channel) || !line) {
      throw new PduError(
        'BAD_REQUEST',
        `channel ${channel} has no relay: the GPIO board has ${this.lines.length} line(s) (channels 0..${this.lines.length - 1})`,
      );
    }
    this.counters.requests++;
    line.write(on);
    options.onSent?.(performance.now());
    const mask = this.read();
    this.emit('mask', mask);
    return mask;
  }

  async setMask(mask: number): Promise<number> {
    this.assertOnline();
    const all = 2 ** this.lines.length - 1;
    if (!Number.isInteger(mask) || mask < 0 || mask > all) {
      throw new PduError(
        'BAD_REQUEST',
        `mask ${mask} does not fit the GPIO board's ${this.lines.length} lines`,
      );
    }
    this.counters.requests++;
    this.lines.forEach((line, channel) => {
      const on = Math.floor(mask / 2 ** channel) % 2 === 1;
      if (line.read() !== on) line.write(on);
    });
    const now = this.read();
    this.emit('mask', now);
    return now;
  }

  current(): Promise<number[]> {
    return Promise.reject(new PduError('UNSUPPORTED', 'the GPIO relay board reports no current'));
  }

  powerUpMask(): Promise<number> {
    return Promise.reject(new PduError('UNSUPPORTED', 'GPIO relays have no stored power-up mask'));
  }

  setPowerUpMask(_mask: number): Promise<number> {
    return Promise.reject(new PduError('UNSUPPORTED', 'GPIO relays cannot store a power-up mask'));
  }

  async ping(): Promise<void> {
    this.assertOnline();
  }

  private get stopped(): boolean {
    return this.phase === 'stopped';
  }

  private read(): number {
    return this.lines.reduce((sum, line, channel) => (line.read() ? sum + 2 ** channel : sum), 0);
  }

  private assertOnline(): void {
    if (this.phase === 'stopped') throw stoppedError();
    if (this.phase !== 'online') throw this.why;
  }
}
