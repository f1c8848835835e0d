import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Onoff from 'onoff';
import type { Logger } from '../src/log.js';
import { type Gpio, type GpioInput, type GpioOutput, GpioUnavailableError } from './gpio.js';

/** onoff's sysfs root; hard-coded in onoff, so only named here for messages. */
const SYSFS_GPIO = '/sys/class/gpio';

export type OnoffModule = typeof Onoff;

export interface OnoffGpioOptions {
  /** Sysfs number of BCM line 0 (`findGpioChipBase`). */
  chipBase: number;
  /** Where watch errors go; they are never thrown. */
  logger?: Logger;
  /** The onoff module; by default loaded (lazily) on this call. Tests pass a stand-in. */
  onoff?: OnoffModule;
}

/**
 * GPIO through onoff (sysfs), kept thin: line L is sysfs number
 * `chipBase + L`; onoff's `activeLow` makes values and edges logical, so
 * this adapter converts nothing but 1/0 ↔ true/false. Throws
 * GpioUnavailableError, saying why, where onoff cannot load or sysfs GPIO
 * is missing or not writable.
 */
export function createOnoffGpio(options: OnoffGpioOptions): Gpio {
  const { chipBase, logger } = options;
  const onoff = options.onoff ?? loadOnoff();
  if (!onoff.Gpio.accessible) throw new GpioUnavailableError(whyInaccessible());

  const open = (line: number, direction: Onoff.Direction, edge: Onoff.Edge, activeLow: boolean) => {
    const number = chipBase + line;
    try {
      // onoff writes active_low before the direction; it ignores the edge of an output
      return new onoff.Gpio(number, direction, edge, { activeLow });
    } catch (error) {
      throw new GpioUnavailableError(whyOpenFailed(error, line, number, chipBase), { cause: error });
    }
  };

  return {
    input(line, { activeLow }): GpioInput {
      const gpio = open(line, 'in', 'both', activeLow);
      let released = false;
      return {
        line,
        read: () => gpio.readSync() === 1,
        watch(listener) {
          const callback: Onoff.ValueCallback = (err, value) => {
            if (err) {
              logger?.warn({ err, line }, 'GPIO watch error (ignored)');
              return;
            }
            listener(value === 1);
          };
          gpio.watch(callback);
          return () => {
            if (!released) gpio.unwatch(callback);
          };
        },
        release() {
          if (released) return;
          released = true;
          unexport(gpio, line, logger);
        },
      };
    },

    output(line, { activeLow, initial }): GpioOutput {
      // sysfs 'high'/'low' set the raw level (the kernel's direction_store uses
      // gpiod_direction_output_raw), so apply activeLow to the initial value here.
      const gpio = open(line, initial !== activeLow ? 'high' : 'low', 'none', activeLow);
      let released = false;
      return {
        line,
        write: (active) => gpio.writeSync(active ? 1 : 0),
        release() {
          if (released) return;
          released = true;
          unexport(gpio, line, logger);
        },
      };
    },
  };
}

function loadOnoff(): OnoffModule {
  try {
    return createRequire(import.meta.url)('onoff') as OnoffModule;
  } catch (error) {
    throw new GpioUnavailableError(
      `the onoff module cannot be loaded (${(error as Error).message}); reinstall with npm ci so its epoll addon is built`,
      { cause: error },
    );
  }
}

function unexport(gpio: Onoff.Gpio, line: number, logger: Logger | undefined): void {
  try {
    gpio.unexport();
  } catch (err) {
    logger?.warn({ err, line }, 'GPIO unexport failed (ignored)');
  }
}

function whyInaccessible(): string {
  if (!existsSync(SYSFS_GPIO)) {
    return `no ${SYSFS_GPIO}: not a Raspberry Pi, or a kernel without sysfs GPIO`;
  }
  try {
    accessSync(`${SYSFS_GPIO}/export`, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      return `no permission to write ${SYSFS_GPIO}/export: add the daemon's user to the gpio group (sudo usermod -aG gpio <user>) and log in again`;
    }
    return `${SYSFS_GPIO}/export is unusable (${code ?? (error as Error).message})`;
  }
  return `${SYSFS_GPIO}/export cannot be opened for writing`;
}

function whyOpenFailed(error: unknown, line: number, number: number, chipBase: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  const what = `GPIO BCM ${line} (sysfs ${number} = chip base ${chipBase} + ${line})`;
  switch (code) {
    case 'ENOENT':
      return `${what}: ${SYSFS_GPIO} is missing: not a Raspberry Pi, or a kernel without sysfs GPIO`;
    case 'EACCES':
    case 'EPERM':
      return `${what}: permission denied: add the daemon's user to the gpio group (sudo usermod -aG gpio <user>)`;
    case 'EINVAL':
      return `${what}: the kernel has no such GPIO number: wrong chip base? Check cat ${SYSFS_GPIO}/gpiochip*/label and set controller.gpioChipBase`;
    case 'EBUSY':
      return `${what}: the line is in use by a kernel driver or another program (check /boot/firmware/config.txt overlays)`;
    default:
      return `${what}: cannot be opened (${(error as Error).message})`;
  }
}
