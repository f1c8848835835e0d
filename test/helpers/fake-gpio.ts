import { type Gpio, type GpioInput, type GpioOutput, GpioUnavailableError } from '../../hardware/gpio.js';

/** One drive of an output: its logical value and `now()` when it happened. */
export interface GpioWrite {
  value: boolean;
  at: number;
}

export interface FakeGpioOptions {
  /** Timestamps for `history()` (e.g. a FakeClock's `now`); default Date.now. */
  now?: () => number;
  /** Behave like a machine without GPIO: every open throws GpioUnavailableError with this reason. */
  unavailable?: string;
}

interface OpenedLine {
  kind: 'input' | 'output';
  activeLow: boolean;
  released: boolean;
}

/**
 * GPIO for tests, all state on the instance. Inputs are driven by the test
 * with logical levels (`press`/`release`/`bounce`), and edges reach watchers
 * synchronously, raw (debouncing is the panel's job). Outputs record every
 * drive, the initial one first. A line can be opened once; using a released
 * line throws, so a test notices code that keeps one.
 */
export class FakeGpio implements Gpio {
  private readonly now: () => number;
  private readonly unavailable: string | undefined;
  private readonly lines = new Map<number, OpenedLine>();
  /** Logical input levels, set by the test (also before the line is opened). */
  private readonly inputLevels = new Map<number, boolean>();
  private readonly watchers = new Map<number, Set<(active: boolean) => void>>();
  private readonly writes = new Map<number, GpioWrite[]>();
  /** Wiring models (a key matrix, shift registers) that follow the outputs. */
  private readonly observers = new Set<(line: number, value: boolean) => void>();

  constructor(options: FakeGpioOptions = {}) {
    this.now = options.now ?? Date.now;
    this.unavailable = options.unavailable;
  }

  input(line: number, options: { activeLow: boolean }): GpioInput {
    const opened = this.open(line, 'input', options.activeLow);
    const listeners = new Set<(active: boolean) => void>();
    this.watchers.set(line, listeners);
    const check = (what: string) => {
      if (opened.released) throw new Error(`FakeGpio: ${what} on input ${line} after release()`);
    };
    return {
      line,
      read: () => {
        check('read()');
        return this.inputLevels.get(line) ?? false;
      },
      watch: (listener) => {
        check('watch()');
        // wrapped, so the same function watched twice is two watchers, as on onoff
        const watcher = (active: boolean) => listener(active);
        listeners.add(watcher);
        return () => {
          listeners.delete(watcher);
        };
      },
      release: () => {
        opened.released = true;
        listeners.clear();
      },
    };
  }

  output(line: number, options: { activeLow: boolean; initial: boolean }): GpioOutput {
    const opened = this.open(line, 'output', options.activeLow);
    const writes: GpioWrite[] = [{ value: options.initial, at: this.now() }];
    this.writes.set(line, writes);
    return {
      line,
      write: (active) => {
        if (opened.released) throw new Error(`FakeGpio: write() on output ${line} after release()`);
        writes.push({ value: active, at: this.now() });
        for (const observer of [...this.observers]) observer(line, active);
      },
      release: () => {
        opened.released = true;
      },
    };
  }

  /**
   * Calls `observer` after every drive of an output (not the initial level),
   * synchronously, as wiring would see it; returns the function that stops it.
   */
  observe(observer: (line: number, value: boolean) => void): () => void {
    this.observers.add(observer);
    return () => {
      this.observers.delete(observer);
    };
  }

  /** The button on `line` goes active (an edge, if it was not already). */
  press(line: number): void {
    this.drive(line, true, false);
  }

  /** The button on `line` goes inactive (an edge, if it was not already). */
  release(line: number): void {
    this.drive(line, false, false);
  }

  /**
   * Drives `line` through `levels`, one edge per entry, in order, even where a
   * level repeats the one before (sysfs reads the value after the interrupt,
   * so a fast bounce can report the same level twice).
   */
  bounce(line: number, levels: readonly boolean[]): void {
    for (const level of levels) this.drive(line, level, true);
  }

  /** An output's current logical value (its last drive), or an input's level. */
  level(line: number): boolean {
    const writes = this.writes.get(line);
    if (writes) return writes.at(-1)!.value;
    if (this.lines.get(line)?.kind === 'input') return this.inputLevels.get(line) ?? false;
    throw new Error(`FakeGpio: line ${line} was never opened`);
  }

  /** Every drive of output `line`, the initial level first; empty if never opened as an output. */
  history(line: number): GpioWrite[] {
    return [...(this.writes.get(line) ?? [])];
  }

  /** Whether `line` was opened and has been released. */
  released(line: number): boolean {
    return this.lines.get(line)?.released === true;
  }

  /** Lines opened and not yet released, ascending. */
  openLines(): number[] {
    return [...this.lines.entries()]
      .filter(([, opened]) => !opened.released)
      .map(([line]) => line)
      .sort((a, b) => a - b);
  }

  /** How `line` was opened: kind and activeLow; undefined if never. */
  opened(line: number): { kind: 'input' | 'output'; activeLow: boolean } | undefined {
    const opened = this.lines.get(line);
    return opened && { kind: opened.kind, activeLow: opened.activeLow };
  }

  /** Watchers currently attached to input `line` (0 once released). */
  watcherCount(line: number): number {
    return this.watchers.get(line)?.size ?? 0;
  }

  private open(line: number, kind: 'input' | 'output', activeLow: boolean): OpenedLine {
    if (this.unavailable !== undefined) throw new GpioUnavailableError(this.unavailable);
    const previous = this.lines.get(line);
    if (previous && !previous.released)
      throw new Error(`FakeGpio: line ${line} is already open (${previous.kind})`);
    const opened: OpenedLine = { kind, activeLow, released: false };
    this.lines.set(line, opened);
    return opened;
  }

  private drive(line: number, level: boolean, always: boolean): void {
    if (this.lines.get(line)?.kind === 'output' && !this.lines.get(line)?.released) {
      throw new Error(`FakeGpio: line ${line} is an output; press/release/bounce drive inputs`);
    }
    const before = this.inputLevels.get(line) ?? false;
    this.inputLevels.set(line, level);
    if (level === before && !always) return;
    const opened = this.lines.get(line);
    if (!opened || opened.released || opened.kind !== 'input') return;
    for (const watcher of [...(this.watchers.get(line) ?? [])]) watcher(level);
  }
}
