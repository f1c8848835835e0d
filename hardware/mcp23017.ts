import { atAddress, type I2cBus, type LazyI2cBus } from './i2c.js';
import { chipByte, type OutputBank } from './output-bank.js';
import { hex } from './pcf8574.js';

/** MCP23017 registers (IOCON.BANK = 0, the power-on layout; addresses auto-increment). */
export const MCP23017 = { IODIRA: 0x00, IODIRB: 0x01, OLATA: 0x14, OLATB: 0x15 } as const;

/**
 * MCP23017 16-bit I²C expanders as LED outputs: port A pins 0–7 then port
 * B pins 0–7 of the chip at `addresses[k]` are outputs 16k … 16k + 15. The
 * pins are push-pull (25 mA either way), so LEDs usually go from the pin
 * through a resistor to ground (active high, the default).
 *
 * `init()` sets the output latches to off first, then makes the pins outputs
 * (IODIR = 0), so nothing flashes; a pattern is one write of OLATA and OLATB.
 */
export class Mcp23017Bank implements OutputBank {
  readonly name: string;
  readonly size: number;
  /** The latch word each chip holds, as last written; null: unknown. */
  private readonly written: (number | null)[];

  constructor(
    private readonly bus: LazyI2cBus,
    private readonly addresses: readonly number[],
    private readonly activeLow: boolean,
  ) {
    this.name = `MCP23017 ${addresses.map(hex).join(', ')} on /dev/i2c-${bus.busNumber}`;
    this.size = 16 * addresses.length;
    this.written = addresses.map(() => null);
  }

  init(): void {
    this.written.fill(null);
    const bus = this.bus.get();
    for (const address of this.addresses) {
      const off = this.activeLow ? 0xff : 0x00;
      send(bus, address, [MCP23017.OLATA, off, off]);
      send(bus, address, [MCP23017.IODIRA, 0x00, 0x00]);
    }
    this.write(0);
  }

  write(bits: number): void {
    const bus = this.bus.get();
    this.addresses.forEach((address, chip) => {
      const a = chipByte(bits, 2 * chip, this.activeLow);
      const b = chipByte(bits, 2 * chip + 1, this.activeLow);
      const word = a | (b << 8);
      if (this.written[chip] === word) return;
      this.written[chip] = null;
      send(bus, address, [MCP23017.OLATA, a, b]);
      this.written[chip] = word;
    });
  }

  close(): void {
    this.written.fill(null);
  }
}

/** One write: the register pointer, then the registers from there on. */
function send(bus: I2cBus, address: number, bytes: number[]): void {
  try {
    bus.i2cWriteSync(address, bytes.length, Buffer.from(bytes));
  } catch (error) {
    throw atAddress(error, address);
  }
}
