import { BACKPACK } from '../../hardware/hd44780.js';
import type { I2cBus, I2cOpener, I2cPromisifiedBus } from '../../hardware/i2c.js';
import { MCP23017 } from '../../hardware/mcp23017.js';
import type { FakeGpio } from './fake-gpio.js';

/** One pin level and `now()` when it became so. */
export interface PinChange {
  value: boolean;
  at: number;
}

/** A chip on the fake bus: each write transaction's bytes, in order, after its address was acknowledged. */
export interface I2cDeviceModel {
  write(bytes: Uint8Array): void;
}

/** One transaction as it went over the wire. */
export interface I2cTransaction {
  bus: number;
  address: number;
  bytes: number;
  ok: boolean;
}

/** The error Linux's i2c-dev gives when no chip acknowledges its address. */
export function nakError(): NodeJS.ErrnoException {
  return Object.assign(new Error('EREMOTEIO: remote I/O error, write'), { code: 'EREMOTEIO', errno: -121 });
}

/**
 * I²C for tests, at the `i2c-bus` boundary: `opener` stands in for
 * `i2c-bus`'s openSync, and the buses it opens deliver each write to the
 * chip model attached at that address, or throw EREMOTEIO (NAK) where none
 * is attached or the chip is set to `nak`. Asynchronous writes land a
 * macrotask later, as the real ones come back from libuv's thread pool.
 * Every transaction is logged (bytes count, for bus time).
 */
export class FakeI2c {
  readonly transactions: I2cTransaction[] = [];
  private readonly devices = new Map<string, I2cDeviceModel>();
  private readonly naking = new Set<string>();
  /** Bus numbers that are missing (like a Pi without dtparam=i2c_arm=on). */
  readonly missing = new Set<number>();
  opens = 0;
  closes = 0;

  readonly opener: I2cOpener = (busNumber) => {
    if (this.missing.has(busNumber)) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '/dev/i2c-${busNumber}'`), {
        code: 'ENOENT',
      });
    }
    this.opens++;
    let closed = false;
    const write = (address: number, length: number, buffer: Buffer): number => {
      if (closed) throw new Error('FakeI2c: write on a closed bus');
      const key = `${busNumber}:${address}`;
      const device = this.devices.get(key);
      const ok = device !== undefined && !this.naking.has(key);
      this.transactions.push({ bus: busNumber, address, bytes: length, ok });
      if (!ok) throw nakError();
      device.write(buffer.subarray(0, length));
      return length;
    };
    const promisified: I2cPromisifiedBus = {
      i2cWrite: (address, length, buffer) =>
        new Promise((resolve, reject) => {
          setImmediate(() => {
            try {
              resolve({ bytesWritten: write(address, length, buffer), buffer });
            } catch (error) {
              reject(error);
            }
          });
        }),
    };
    const bus: I2cBus = {
      i2cWriteSync: write,
      promisifiedBus: () => promisified,
      closeSync: () => {
        closed = true;
        this.closes++;
      },
    };
    return bus;
  };

  attach(busNumber: number, address: number, device: I2cDeviceModel): void {
    this.devices.set(`${busNumber}:${address}`, device);
  }

  /** The chip stops (true) or starts again (false) acknowledging: unplugged, or a bad contact. */
  nak(busNumber: number, address: number, on: boolean): void {
    if (on) this.naking.add(`${busNumber}:${address}`);
    else this.naking.delete(`${busNumber}:${address}`);
  }
}

/**
 * A PCF8574: one latch byte, 0xFF at power-on. Quasi-bidirectional pins: a 1
 * is a weak pull-up that anything outside can pull low, a 0 sinks. `pin(i)`
 * is the level on pin i; `pull(i, low)` is the outside world pulling it.
 */
export class Pcf8574Model implements I2cDeviceModel {
  latch = 0xff;
  private readonly pulledLow = new Set<number>();
  private readonly changes: PinChange[][];
  private readonly listeners = new Set<(pins: number) => void>();

  constructor(private readonly now: () => number = () => 0) {
    this.changes = Array.from({ length: 8 }, (_, i) => [{ value: this.pin(i), at: now() }]);
  }

  write(bytes: Uint8Array): void {
    // every byte of a transaction goes to the pins in turn (the LCD backpack relies on it)
    for (const byte of bytes) {
      this.latch = byte;
      this.record();
      for (const listener of [...this.listeners]) listener(this.pins());
    }
  }

  /** The eight pin levels as a byte. */
  pins(): number {
    let pins = 0;
    for (let i = 0; i < 8; i++) if (this.pin(i)) pins |= 1 << i;
    return pins;
  }

  pin(i: number): boolean {
    return ((this.latch >> i) & 1) === 1 && !this.pulledLow.has(i);
  }

  pull(i: number, low: boolean): void {
    if (low) this.pulledLow.add(i);
    else this.pulledLow.delete(i);
    this.record();
  }

  /** Every level pin i has had, the power-on one first. */
  history(i: number): PinChange[] {
    return [...this.changes[i]!];
  }

  onPins(listener: (pins: number) => void): void {
    this.listeners.add(listener);
  }

  /** Power lost and back: the latch is 0xFF again. */
  powerCycle(): void {
    this.latch = 0xff;
    this.record();
  }

  private record(): void {
    for (let i = 0; i < 8; i++) {
      const value = this.pin(i);
      if (this.changes[i]!.at(-1)!.value !== value) this.changes[i]!.push({ value, at: this.now() });
    }
  }
}

/**
 * An MCP23017 (IOCON.BANK = 0): 22 registers, a write sets the register
 * pointer with its first byte and writes the rest to consecutive registers.
 * Pins are inputs (IODIR = 1) at power-on; an output pin shows its OLAT bit
 * (a write to GPIOx writes OLATx). Pin i: port A 0–7, port B 8–15. An input
 * pin reads as floating: `pin()` says false.
 */
export class Mcp23017Model implements I2cDeviceModel {
  readonly registers = new Uint8Array(0x16);
  private readonly changes: PinChange[][];

  constructor(private readonly now: () => number = () => 0) {
    this.reset();
    this.changes = Array.from({ length: 16 }, (_, i) => [{ value: this.pin(i), at: now() }]);
  }

  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    let pointer = bytes[0]!;
    for (const byte of bytes.subarray(1)) {
      if (pointer >= this.registers.length)
        throw new Error(`Mcp23017Model: no register 0x${pointer.toString(16)}`);
      const target = pointer === 0x12 ? MCP23017.OLATA : pointer === 0x13 ? MCP23017.OLATB : pointer;
      this.registers[target] = byte;
      pointer = (pointer + 1) % this.registers.length;
    }
    this.record();
  }

  isOutput(i: number): boolean {
    const dir = this.registers[i < 8 ? MCP23017.IODIRA : MCP23017.IODIRB]!;
    return ((dir >> (i % 8)) & 1) === 0;
  }

  pin(i: number): boolean {
    if (!this.isOutput(i)) return false;
    const latch = this.registers[i < 8 ? MCP23017.OLATA : MCP23017.OLATB]!;
    return ((latch >> (i % 8)) & 1) === 1;
  }

  history(i: number): PinChange[] {
    return [...this.changes[i]!];
  }

  powerCycle(): void {
    this.reset();
    this.record();
  }

  private reset(): void {
    this.registers.fill(0);
    this.registers[MCP23017.IODIRA] = 0xff;
    this.registers[MCP23017.IODIRB] = 0xff;
  }

  private record(): void {
    for (let i = 0; i < 16; i++) {
      const value = this.pin(i);
      if (this.changes[i]!.at(-1)!.value !== value) this.changes[i]!.push({ value, at: this.now() });
    }
  }
}

/**
 * 74HC595s chained on a FakeGpio's lines: a rising clock shifts the data
 * line's level into Q0 of the first chip (each Q moves up, the last Q7
 * feeds the next chip); a rising latch copies the shift registers to the
 * outputs. Output i is chip ⌊i / 8⌋'s Q(i mod 8).
 */
export class Hc595ChainModel {
  private shift: boolean[];
  private outputs: boolean[];
  private readonly changes: PinChange[][];
  private clock = false;
  private latch = false;
  private data = false;
  private readonly stop: () => void;
  /** Clock pulses seen (the bench's shift cost). */
  pulses = 0;

  constructor(
    gpio: FakeGpio,
    lines: { data: number; clock: number; latch: number },
    chips: number,
    private readonly now: () => number = () => 0,
  ) {
    this.shift = new Array(8 * chips).fill(false);
    this.outputs = new Array(8 * chips).fill(false);
    this.changes = this.outputs.map((value) => [{ value, at: now() }]);
    this.stop = gpio.observe((line, value) => {
      if (line === lines.data) this.data = value;
      else if (line === lines.clock) {
        if (value && !this.clock) {
          this.shift = [this.data, ...this.shift.slice(0, -1)];
          this.pulses++;
        }
        this.clock = value;
      } else if (line === lines.latch) {
        if (value && !this.latch) this.copy();
        this.latch = value;
      }
    });
  }

  pin(i: number): boolean {
    return this.outputs[i]!;
  }

  history(i: number): PinChange[] {
    return [...this.changes[i]!];
  }

  detach(): void {
    this.stop();
  }

  private copy(): void {
    this.outputs = [...this.shift];
    this.outputs.forEach((value, i) => {
      if (this.changes[i]!.at(-1)!.value !== value) this.changes[i]!.push({ value, at: this.now() });
    });
  }
}

/**
 * An HD44780 behind a PCF8574 backpack (P0 RS, P1 RW, P2 E, P3 backlight,
 * P4–P7 D4–D7), decoded from the pins: the LCD latches D4–D7 when E falls.
 * It starts in 8-bit mode (one instruction per E pulse, the low nibble read
 * as 0), as after power-on; a function set with DL = 0 switches to 4-bit
 * mode, where two pulses make a byte. DDRAM is 0x00–0x27 and 0x40–0x67;
 * `text()` is the screen, row by row, as a person would read it.
 */
export class Hd44780Model {
  readonly ddram = new Uint8Array(0x68).fill(0x20);
  private address = 0;
  private fourBit = false;
  private half: number | null = null;
  private previous = 0xff;
  displayOn = false;
  backlight = false;
  /** Instructions and characters received (for tests that count writes). */
  instructions = 0;
  characters = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    backpack: Pcf8574Model,
    readonly columns = 20,
    readonly rows = 4,
  ) {
    backpack.onPins((pins) => this.pins(pins));
  }

  /**
   * Resolves once the screen's text passes `accept` (at once if it does
   * now), checked after each instruction or character; rejects after
   * `timeoutMs` saying what the screen showed.
   */
  shows(accept: (rows: string[]) => boolean, timeoutMs = 3000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!accept(this.text())) return false;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(this.text());
        return true;
      };
      const listener = () => void check();
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`the LCD never showed it; it shows:\n${this.text().join('\n')}`));
      }, timeoutMs);
      this.listeners.add(listener);
      check();
    });
  }

  /** The screen's rows as text. */
  text(): string[] {
    const starts = [0x00, 0x40, this.columns, 0x40 + this.columns];
    return Array.from({ length: this.rows }, (_, row) =>
      String.fromCharCode(...this.ddram.subarray(starts[row]!, starts[row]! + this.columns)),
    );
  }

  private pins(pins: number): void {
    this.backlight = (pins & BACKPACK.BACKLIGHT) !== 0;
    const fell = (this.previous & BACKPACK.E) !== 0 && (pins & BACKPACK.E) === 0;
    this.previous = pins;
    if (!fell || (pins & BACKPACK.RW) !== 0) return;
    const nibble = pins >> 4;
    const data = (pins & BACKPACK.RS) !== 0;
    if (!this.fourBit) {
      this.execute(nibble << 4, data);
      return;
    }
    if (this.half === null) {
      this.half = nibble;
      return;
    }
    const byte = (this.half << 4) | nibble;
    this.half = null;
    this.execute(byte, data);
  }

  private execute(byte: number, data: boolean): void {
    this.decode(byte, data);
    for (const listener of [...this.listeners]) listener();
  }

  private decode(byte: number, data: boolean): void {
    if (data) {
      this.characters++;
      this.ddram[this.address] = byte;
      this.address = next(this.address);
      return;
    }
    this.instructions++;
    if (byte & 0x80) this.address = byte & 0x7f;
    else if (byte & 0x40) {
      // CGRAM address: not used by the panel
    } else if (byte & 0x20) {
      this.fourBit = (byte & 0x10) === 0;
      this.half = null;
    } else if (byte & 0x08) this.displayOn = (byte & 0x04) !== 0;
    else if (byte & 0x04) {
      // entry mode: the panel uses increment, no shift
    } else if (byte & 0x02) this.address = 0;
    else if (byte & 0x01) {
      this.ddram.fill(0x20);
      this.address = 0;
    }
  }
}

/** DDRAM address after a character: each line's 40 cells wrap into the other line. */
function next(address: number): number {
  if (address === 0x27) return 0x40;
  if (address === 0x67) return 0x00;
  return address + 1;
}
