/**
 * GPIO lines, as the front panel sees them. The onoff adapter
 * (`hardware/gpio-onoff.ts`) drives a Raspberry Pi's lines through sysfs; the
 * fake (`test/helpers/fake-gpio.ts`) stands in where no GPIO exists (tests).
 *
 * Rules every implementation keeps:
 * - Lines are BCM numbers; the adapter maps them to the kernel's numbering.
 * - Values are logical: `true` = active (a pressed button, a lit LED), with
 *   `activeLow` applied by the implementation.
 * - An input reports every edge it sees, raw: debouncing is the panel's job
 *   (so it is the same code, tested with a fake clock, on every backend).
 * - `release()` unexports the line; after it the object must not be used.
 *   Releasing twice is harmless.
 */
export interface Gpio {
  /** Opens an input line. Throws GpioUnavailableError where there is no GPIO. */
  input(line: number, options: { activeLow: boolean }): GpioInput;
  /** Opens an output line, driven to `initial` at once. Throws GpioUnavailableError where there is no GPIO. */
  output(line: number, options: { activeLow: boolean; initial: boolean }): GpioOutput;
}

export interface GpioInput {
  readonly line: number;
  /** The level now. */
  read(): boolean;
  /** Calls `listener` with the new level at every edge; returns the function that stops it. */
  watch(listener: (active: boolean) => void): () => void;
  release(): void;
}

export interface GpioOutput {
  readonly line: number;
  write(active: boolean): void;
  release(): void;
}

/** There is no usable GPIO here (not a Pi, no sysfs GPIO, no permission): the panel is off. */
export class GpioUnavailableError extends Error {
  override readonly name = 'GpioUnavailableError';
}
