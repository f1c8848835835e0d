/**
 * A row of on/off outputs on chips (LED expanders, shift registers), set as
 * one pattern: bit i is output i, logical (1 = lit; the bank applies
 * active-low). The panel's LEDs go through it when they are not on GPIO
 * lines.
 *
 * Rules every bank keeps:
 * - `init()` brings the chips from power-on (or an unknown state after a
 *   failure) to outputs, all off, and forgets what it wrote before.
 * - `write(bits)` writes only the chips whose part of the pattern changed
 *   since the last write that succeeded: one transaction per chip.
 * - A failure throws (the caller reports it and retries with `init()`).
 * - `close()` releases what the bank opened; it never throws.
 */
export interface OutputBank {
  /** For logs: the chip, its address or lines. */
  readonly name: string;
  /** Outputs available: 8 per chip (16 for an MCP23017). */
  readonly size: number;
  init(): void;
  write(bits: number): void;
  close(): void;
}

/** A chip's byte of a pattern, with active-low applied. */
export function chipByte(bits: number, chip: number, activeLow: boolean): number {
  const byte = (bits >>> (8 * chip)) & 0xff;
  return activeLow ? ~byte & 0xff : byte;
}
