import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as Onoff from 'onoff';
import { GpioUnavailableError } from './gpio.js';
import type { OnoffModule } from './gpio-onoff.js';

/**
 * Relay outputs on GPIO lines, kept across daemon restarts. Unlike the
 * front panel's lines (hardware/gpio.ts), a relay line is never driven at
 * open and never released at close: releasing a Raspberry Pi line turns it
 * back into an input, and the relay on it would drop out.
 *
 * Rules every implementation keeps:
 * - Lines are BCM numbers; values are logical (`true` = relay energized),
 *   with `activeLow` applied by the implementation.
 * - `adopt()` makes the line an output at the level it has now and says
 *   which level that is; it never changes the level.
 * - `close()` leaves the line an output at its level.
 */
export interface RelayLines {
  /** Changes at every boot of the machine (Linux: /proc/sys/kernel/random/boot_id). */
  bootId(): Promise<string>;
  /** Throws GpioUnavailableError where there is no usable GPIO. */
  adopt(line: number, options: { activeLow: boolean }): AdoptedLine;
}

export interface AdoptedLine {
  readonly line: number;
  /** The logical level the line had when adopted. */
  readonly initial: boolean;
  read(): boolean;
  write(active: boolean): void;
  /** Stop using it; the line stays an output at its level. */
  close(): void;
}

export interface OnoffRelayLinesOptions {
  /** Sysfs number of BCM line 0 (`findGpioChipBase`). */
  chipBase: number;
  /** The onoff module; by default loaded on the first adopt. Tests pass a stand-in. */
  onoff?: OnoffModule;
  /** Where sysfs GPIO lives (onoff's is fixed; tests that pass a stand-in onoff move it). */
  sysfsRoot?: string;
  bootIdFile?: string;
}

/**
 * Relay lines through onoff (sysfs). A line a previous run left exported as
 * an output is taken as it is (onoff's `reconfigureDirection: false`, so the
 * direction, and with it the level, is not written again); any other line
 * is read as an input first and then made an output at that same raw level.
 */
export function createOnoffRelayLines(options: OnoffRelayLinesOptions): RelayLines {
  const sysfs = options.sysfsRoot ?? '/sys/class/gpio';
  let onoff = options.onoff ?? null;
  return {
    bootId: async () =>
      (await readFile(options.bootIdFile ?? '/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
    adopt(line, { activeLow }) {
      onoff ??= loadOnoff();
      if (!onoff.Gpio.accessible) throw new GpioUnavailableError(`${sysfs} is missing or not writable`);
      const number = options.chipBase + line;
      const what = `GPIO BCM ${line} (sysfs ${number})`;
      let gpio: Onoff.Gpio;
      try {
        const directionFile = `${sysfs}/gpio${number}/direction`;
        const isOutput = existsSync(directionFile) && readFileSync(directionFile, 'utf8').trim() === 'out';
        if (isOutput) {
          gpio = new onoff.Gpio(number, 'out', 'none', { activeLow, reconfigureDirection: false });
        } else {
          gpio = new onoff.Gpio(number, 'in', 'none', { activeLow });
          const raw = readFileSync(`${sysfs}/gpio${number}/value`, 'utf8').trim() === '1';
          gpio.setDirection(raw ? 'high' : 'low');
        }
      } catch (error) {
        throw new GpioUnavailableError(`${what} cannot be adopted: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const initial = gpio.readSync() === 1;
      return {
        line,
        initial,
        read: () => gpio.readSync() === 1,
        write: (active) => gpio.writeSync(active ? 1 : 0),
        close: () => {},
      };
    },
  };
}

function loadOnoff(): OnoffModule {
  try {
    return createRequire(import.meta.url)('onoff') as OnoffModule;
  } catch (error) {
    throw new GpioUnavailableError(`the onoff module cannot be loaded (${(error as Error).message})`, {
      cause: error,
    });
  }
}
