import { atAddress, type LazyI2cBus } from './i2c.js';
import { chipByte, type OutputBank } from './output-bank.js';

/**
 * PCF8574 8-bit I²C expanders as LED outputs: pin i of the chip at
 * `addresses[k]` is output 8k + i. The chip has no registers: one byte
 * written sets all eight pins (quasi-bidirectional: a 1 is a weak pull-up,
 * a 0 sinks up to 25 mA), so LEDs are wired from +3.3 V through a resistor
 * to the pin and lit by a 0 (`activeLow`, the default for this chip).
 */
export class Pcf8574Bank implements OutputBank {
  readonly name: string;
  readonly size: number;
  /** The byte each chip holds, as last written; null: unknown. */
  private readonly written: (number | null)[];

  constructor(
    private readonly bus: LazyI2cBus,
    private readonly addresses: readonly number[],
    private readonly activeLow: boolean,
  ) {
    this.name = `PCF8574 ${addresses.map(hex).join(', ')} on /dev/i2c-${bus.busNumber}`;
    this.size = 8 * addresses.length;
    this.written = addresses.map(() => null);
  }

  init(): void {
    this.written.fill(null);
    this.write(0);
  }

  write(bits: number): void {
    const bus = this.bus.get();
    this.addresses.forEach((address, chip) => {
      const byte = chipByte(bits, chip, this.activeLow);
      if (this.written[chip] === byte) return;
      this.written[chip] = null;
      try {
        bus.i2cWriteSync(address, 1, Buffer.of(byte));
      } catch (error) {
        throw atAddress(error, address);
      }
      this.written[chip] = byte;
    });
  }

  close(): void {
    this.written.fill(null);
  }
}

export function hex(address: number): string {
  return `0x${address.toString(16).padStart(2, '0')}`;
}
