import type { LazyI2cBus } from './i2c.js';
import { hex } from './pcf8574.js';

/** The usual PCF8574 backpack: P0 RS, P1 RW, P2 E, P3 backlight, P4–P7 D4–D7. */
export const BACKPACK = { RS: 0x01, RW: 0x02, E: 0x04, BACKLIGHT: 0x08 } as const;

/** DDRAM address of each row's first character. */
function rowStarts(columns: number): number[] {
  return [0x00, 0x40, columns, 0x40 + columns];
}

export interface Hd44780Options {
  bus: LazyI2cBus;
  address: number;
  columns: number;
  rows: number;
  /** Waits for the init sequence; rejects when `signal` aborts. */
  delay: (ms: number) => Promise<void>;
}

/**
 * An HD44780 character LCD behind a PCF8574 backpack, in 4-bit mode. Each
 * nibble is two bytes on the bus (E high, then E low: the LCD latches on
 * the falling edge); at 100 kHz a byte takes 90 µs, longer than any
 * command but clear and home, so only `init()` waits.
 *
 * `update()` writes only the characters that differ from what the screen
 * shows (the bus is slow): each run of changed characters is one
 * transaction, an address command and the characters. Text is the LCD's
 * ROM A00 ASCII range; anything else shows as `?`.
 *
 * A failed write leaves the screen unknown: `init()` must run again before
 * the next `update()` (it clears the screen and the record of it).
 */
export class Hd44780 {
  readonly name: string;
  /** What the screen shows, row by row; null before init or after a failure. */
  private shown: string[] | null = null;
  private backlight = true;
  private readonly starts: number[];

  constructor(private readonly options: Hd44780Options) {
    this.name = `LCD ${options.columns}×${options.rows} at ${hex(options.address)} on /dev/i2c-${options.bus.busNumber}`;
    this.starts = rowStarts(options.columns);
  }

  get ready(): boolean {
    return this.shown !== null;
  }

  /** Power-on to a blank screen, 4-bit, two-line mode, no cursor (the datasheet's init by instruction). */
  async init(): Promise<void> {
    this.shown = null;
    const { delay } = this.options;
    await delay(50);
    for (const wait of [5, 1, 1]) {
      await this.send(this.nibble(0x3, false));
      await delay(wait);
    }
    await this.send(this.nibble(0x2, false));
    await this.send([
      ...this.byte(0x28, false), // function set: 4-bit, 2 lines, 5×8
      ...this.byte(0x08, false), // display off
      ...this.byte(0x01, false), // clear
    ]);
    await delay(2);
    await this.send([...this.byte(0x06, false), ...this.byte(0x0c, false)]); // entry: increment; display on
    this.shown = Array.from({ length: this.options.rows }, () => ' '.repeat(this.options.columns));
  }

  /** Shows `lines` (padded or cut to the screen) and sets the backlight, writing only what changed. */
  async update(lines: readonly string[], backlight: boolean): Promise<void> {
    if (this.shown === null) throw new Error(`${this.name}: not initialised`);
    const { columns, rows } = this.options;
    const lightChanged = backlight !== this.backlight;
    this.backlight = backlight;
    let wrote = false;
    for (let row = 0; row < rows; row++) {
      const want = lcdText(lines[row] ?? '', columns);
      for (const [from, to] of changedRuns(this.shown[row]!, want)) {
        const bytes = [...this.byte(0x80 | (this.starts[row]! + from), false)];
        for (let c = from; c < to; c++) bytes.push(...this.byte(want.charCodeAt(c), true));
        await this.failing(() => this.send(bytes));
        const shown = this.shown;
        if (shown === null) return;
        shown[row] = shown[row]!.slice(0, from) + want.slice(from, to) + shown[row]!.slice(to);
        wrote = true;
      }
    }
    // The backlight bit rides on every byte; alone, it is one byte with E low.
    if (lightChanged && !wrote) await this.failing(() => this.send([this.light()]));
  }

  /** What the screen shows now (as last written), for logs and tests. */
  text(): string[] {
    return this.shown ? [...this.shown] : [];
  }

  private async failing(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.shown = null;
      throw error;
    }
  }

  private light(): number {
    return this.backlight ? BACKPACK.BACKLIGHT : 0;
  }

  private nibble(value: number, data: boolean): number[] {
    const pins = ((value & 0x0f) << 4) | this.light() | (data ? BACKPACK.RS : 0);
    return [pins | BACKPACK.E, pins];
  }

  private byte(value: number, data: boolean): number[] {
    return [...this.nibble(value >> 4, data), ...this.nibble(value, data)];
  }

  private async send(bytes: number[]): Promise<void> {
    const buffer = Buffer.from(bytes);
    await this.options.bus.async().i2cWrite(this.options.address, buffer.length, buffer);
  }
}

/** `text` in the LCD's character set, padded or cut to `columns`. */
export function lcdText(text: string, columns: number): string {
  const ascii = text.replace(/[^\x20-\x7d]/g, '?');
  return ascii.length >= columns ? ascii.slice(0, columns) : ascii.padEnd(columns, ' ');
}

/**
 * Runs [from, to) of characters that differ; runs closer than an address
 * command (one character's cost) are merged.
 */
export function changedRuns(before: string, after: string): [number, number][] {
  const runs: [number, number][] = [];
  for (let c = 0; c < after.length; c++) {
    if (before[c] === after[c]) continue;
    const last = runs.at(-1);
    if (last && c - last[1] <= 1) last[1] = c + 1;
    else runs.push([c, c + 1]);
  }
  return runs;
}
