import type { Gpio, GpioOutput } from '../../hardware/gpio.js';
import { Hc595Bank } from '../../hardware/hc595.js';
import { describeI2cError, type LazyI2cBus } from '../../hardware/i2c.js';
import { Mcp23017Bank } from '../../hardware/mcp23017.js';
import type { OutputBank } from '../../hardware/output-bank.js';
import { Pcf8574Bank } from '../../hardware/pcf8574.js';
import type { ControllerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ChipKeeper } from './chip-keeper.js';
import type { Clock } from './clock.js';

/**
 * The socket LEDs, wherever they are wired: `show()` takes the whole
 * pattern (index i = socket i + 1) at each refresh, and writes only what
 * changed since the last write, so blinking LEDs change together.
 */
export interface LedSink {
  readonly count: number;
  /** Opens the lines or brings the chips to all off (a failing chip is retried, never thrown). */
  start(): void;
  show(lit: readonly boolean[]): void;
  release(): void;
}

/** One GPIO line per LED (`controller.leds`). */
export class GpioLeds implements LedSink {
  private readonly outputs: GpioOutput[] = [];
  private readonly lit: boolean[] = [];

  constructor(
    private readonly gpio: Gpio,
    private readonly lines: readonly number[],
    private readonly activeLow: boolean,
  ) {}

  get count(): number {
    return this.lines.length;
  }

  /** Opens the lines, all off; throws GpioUnavailableError (nothing left open) where there is no GPIO. */
  start(): void {
    try {
      for (const line of this.lines) {
        this.outputs.push(this.gpio.output(line, { activeLow: this.activeLow, initial: false }));
        this.lit.push(false);
      }
    } catch (error) {
      this.release();
      throw error;
    }
  }

  show(lit: readonly boolean[]): void {
    this.outputs.forEach((output, i) => {
      const value = lit[i] ?? false;
      if (value === this.lit[i]) return;
      this.lit[i] = value;
      output.write(value);
    });
  }

  release(): void {
    for (const output of this.outputs) output.release();
    this.outputs.length = 0;
  }
}

/**
 * LEDs on chips (`controller.ledChips`): the pattern as one number, written
 * by the bank (a write per chip whose part changed). A failing chip is
 * reported once and retried with back-off (ChipKeeper); meanwhile the latest
 * pattern is kept and written when it answers again.
 */
export class BankLeds implements LedSink {
  readonly count: number;
  private readonly bank: OutputBank;
  private readonly keeper: ChipKeeper;
  private wanted = 0;

  constructor(bank: OutputBank, count: number, keeper: ChipKeeper) {
    this.bank = bank;
    this.count = count;
    this.keeper = keeper;
  }

  start(): void {
    this.attempt(() => this.restore());
  }

  show(lit: readonly boolean[]): void {
    let bits = 0;
    for (let i = 0; i < this.count; i++) if (lit[i]) bits |= 1 << i;
    this.wanted = bits;
    if (this.keeper.down) return;
    this.attempt(() => this.bank.write(bits));
  }

  release(): void {
    this.keeper.stop();
    this.bank.close();
  }

  private attempt(write: () => void): void {
    try {
      write();
    } catch (error) {
      this.keeper.failed(error, () => this.restore());
    }
  }

  private restore(): void {
    this.bank.init();
    this.bank.write(this.wanted);
  }
}

export interface LedSinkDeps {
  config: ControllerConfig;
  gpio: Gpio;
  /** The I²C bus `number`, opened on first use and shared with the LCD. */
  i2cBus: (number: number) => LazyI2cBus;
  logger: Logger;
  clock: Clock;
}

/** The socket LEDs the config describes: GPIO lines, chips, or none (not started). */
export function ledSink(deps: LedSinkDeps): LedSink {
  const { config } = deps;
  const chips = config.ledChips;
  if (!chips) return new GpioLeds(deps.gpio, config.leds, config.ledActiveLow);
  let bank: OutputBank;
  let describe: (error: unknown) => string;
  if (chips.chip === '74hc595') {
    bank = new Hc595Bank(
      deps.gpio,
      { data: chips.dataLine!, clock: chips.clockLine!, latch: chips.latchLine! },
      chips.chips ?? 1,
      chips.activeLow ?? false,
    );
    describe = (error) => (error instanceof Error ? error.message : String(error));
  } else {
    const bus = deps.i2cBus(chips.i2cBus);
    const addresses = chips.addresses ?? [];
    bank =
      chips.chip === 'pcf8574'
        ? new Pcf8574Bank(bus, addresses, chips.activeLow ?? true)
        : new Mcp23017Bank(bus, addresses, chips.activeLow ?? false);
    describe = (error) => describeI2cError(error, chips.i2cBus);
  }
  const keeper = new ChipKeeper({ name: bank.name, logger: deps.logger, clock: deps.clock, describe });
  return new BankLeds(bank, Math.min(chips.count ?? bank.size, bank.size, 16), keeper);
}
