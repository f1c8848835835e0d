import type { Gpio, GpioOutput } from './gpio.js';
import { chipByte, type OutputBank } from './output-bank.js';

export interface Hc595Lines {
  data: number;
  clock: number;
  latch: number;
}

/**
 * 74HC595 shift registers chained on three GPIO lines (SER, SRCLK, RCLK;
 * OE tied low, SRCLR high): output 8k + i is pin Qi of the k-th chip from the
 * Pi. A pattern is shifted in whole, last chip's Q7 first, then latched, so
 * every LED changes at the same moment. The lines open in `init()`.
 */
export class Hc595Bank implements OutputBank {
  readonly name: string;
  readonly size: number;
  private lines: { data: GpioOutput; clock: GpioOutput; latch: GpioOutput } | null = null;
  private written: number | null = null;

  constructor(
    private readonly gpio: Gpio,
    private readonly wiring: Hc595Lines,
    private readonly chips: number,
    private readonly activeLow: boolean,
  ) {
    this.name = `74HC595 ×${chips} on BCM ${wiring.data}/${wiring.clock}/${wiring.latch} (data/clock/latch)`;
    this.size = 8 * chips;
  }

  init(): void {
    this.written = null;
    if (this.lines === null) {
      const open = (line: number) => this.gpio.output(line, { activeLow: false, initial: false });
      const data = open(this.wiring.data);
      try {
        const clock = open(this.wiring.clock);
        try {
          this.lines = { data, clock, latch: open(this.wiring.latch) };
        } catch (error) {
          clock.release();
          throw error;
        }
      } catch (error) {
        data.release();
        throw error;
      }
    }
    this.write(0);
  }

  write(bits: number): void {
    const lines = this.lines;
    if (lines === null) throw new Error(`${this.name}: not initialised`);
    const bytes = Array.from({ length: this.chips }, (_, chip) => chipByte(bits, chip, this.activeLow));
    const word = bytes.reduce((sum, byte, chip) => sum + byte * 2 ** (8 * chip), 0);
    if (word === this.written) return;
    this.written = null;
    for (let chip = this.chips - 1; chip >= 0; chip--) {
      for (let bit = 7; bit >= 0; bit--) {
        lines.data.write(((bytes[chip]! >> bit) & 1) === 1);
        lines.clock.write(true);
        lines.clock.write(false);
      }
    }
    lines.latch.write(true);
    lines.latch.write(false);
    this.written = word;
  }

  close(): void {
    if (this.lines === null) return;
    for (const line of Object.values(this.lines)) line.release();
    this.lines = null;
    this.written = null;
  }
}
