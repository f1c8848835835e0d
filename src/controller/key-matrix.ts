import type { Gpio, GpioInput, GpioOutput } from '../../hardware/gpio.js';
import type { Clock } from './clock.js';

export interface KeyMatrixDeps {
  gpio: Gpio;
  /** Driven lines (BCM), active = the level that a pressed key passes to its column. */
  rows: readonly number[];
  /** Watched lines (BCM), pulled to inactive. */
  columns: readonly number[];
  /** Rows drive low and columns read low when active (pull-ups on the columns). */
  activeLow: boolean;
  /** How often the keys are read while any is down. */
  scanIntervalMs: number;
  clock: Clock;
  /** A key's raw level changed (key = row × columns + column); debouncing is the caller's. */
  onKey: (key: number, down: boolean) => void;
}

/**
 * Keys wired as a matrix: key (r, c) connects row r to column c.
 *
 * Idle, every row is driven active and the columns are watched: a key press
 * pulls its column active, and that edge starts a scan. Nothing runs until
 * then (the idle cost is the kernel's interrupt wait). A scan drives one row
 * at a time and reads the columns. While any key is down the matrix is read
 * every `scanIntervalMs` (a second key on the same column makes no edge),
 * and column edges are ignored (scans make their own); once all keys are up
 * it goes back to waiting for an edge.
 *
 * Two keys at once are read like two buttons. A scan that finds more than
 * two keys down is not trusted (without a diode per key, three keys on a
 * rectangle's corners show the fourth): it changes nothing, and every key
 * keeps its last level until a scan is readable again.
 *
 * The keys down when `start()` scans first are its baseline: they report
 * nothing until they are released and pressed again.
 */
export class KeyMatrix {
  static readonly MAX_KEYS_AT_ONCE = 2;
  private readonly deps: KeyMatrixDeps;
  private rows: GpioOutput[] = [];
  private columns: GpioInput[] = [];
  private unwatch: (() => void)[] = [];
  /** Raw level of each key from the last readable scan. */
  private levels: boolean[];
  private poll: unknown = null;
  private scanning = false;
  /** Scans done (for the bench and tests). */
  scans = 0;

  constructor(deps: KeyMatrixDeps) {
    this.deps = deps;
    this.levels = new Array(deps.rows.length * deps.columns.length).fill(false);
  }

  get size(): number {
    return this.levels.length;
  }

  start(): void {
    const { gpio, activeLow } = this.deps;
    try {
      for (const line of this.deps.rows) this.rows.push(gpio.output(line, { activeLow, initial: true }));
      for (const line of this.deps.columns) {
        const input = gpio.input(line, { activeLow });
        this.columns.push(input);
        this.unwatch.push(input.watch(this.onEdge));
      }
    } catch (error) {
      this.stop();
      throw error;
    }
    this.scan(false);
  }

  stop(): void {
    if (this.poll !== null) this.deps.clock.clearInterval(this.poll);
    this.poll = null;
    for (const unwatch of this.unwatch) unwatch();
    for (const column of this.columns) column.release();
    for (const row of this.rows) row.release();
    this.unwatch = [];
    this.columns = [];
    this.rows = [];
  }

  private readonly onEdge = (): void => {
    if (this.scanning || this.poll !== null) return;
    this.scan(true);
  };

  /** Reads every key; reports the changes (unless this is the baseline) and starts or stops polling. */
  private scan(report: boolean): void {
    if (this.rows.length === 0) return;
    this.scanning = true;
    const down: boolean[] = [];
    try {
      for (const row of this.rows) row.write(false);
      for (const row of this.rows) {
        row.write(true);
        for (const column of this.columns) down.push(column.read());
        row.write(false);
      }
    } finally {
      for (const row of this.rows) row.write(true);
      this.scanning = false;
    }
    this.scans++;
    const count = down.filter(Boolean).length;
    if (count <= KeyMatrix.MAX_KEYS_AT_ONCE) {
      const before = this.levels;
      this.levels = down;
      if (report) {
        down.forEach((level, key) => {
          if (level !== before[key]) this.deps.onKey(key, level);
        });
      }
    }
    const anyDown = count > 0;
    if (anyDown && this.poll === null) {
      this.poll = this.deps.clock.setInterval(() => this.scan(true), this.deps.scanIntervalMs);
    } else if (!anyDown && this.poll !== null) {
      this.deps.clock.clearInterval(this.poll);
      this.poll = null;
    }
  }
}
