import { createRequire } from 'node:module';

/**
 * An I²C bus, as the panel's chip drivers use it: the part of the `i2c-bus`
 * package's Bus (from `openSync`) they call, so tests can put chip models
 * behind the same calls (test/helpers/fake-i2c.ts).
 *
 * Rules the drivers keep:
 * - Every write is one plain I²C transaction (`i2cWrite`: start, address,
 *   the bytes, stop), so a byte count gives the bus time.
 * - Short writes (an LED pattern: 1–3 bytes) are synchronous, so blinking
 *   stays in step with the clock; long ones (the LCD) go through
 *   `promisifiedBus()` and never block the event loop.
 * - A chip that does not acknowledge (unplugged, wrong address) makes the
 *   write throw or reject (Linux: EREMOTEIO or ENXIO); the caller keeps going.
 */
export interface I2cBus {
  i2cWriteSync(address: number, length: number, buffer: Buffer): number;
  promisifiedBus(): I2cPromisifiedBus;
  closeSync(): void;
}

export interface I2cPromisifiedBus {
  i2cWrite(
    address: number,
    length: number,
    buffer: Buffer,
  ): Promise<{ bytesWritten: number; buffer: Buffer }>;
}

/** Opens /dev/i2c-N: `i2c-bus`'s `openSync`. Throws where the bus is missing or not permitted. */
export type I2cOpener = (busNumber: number) => I2cBus;

/** `i2c-bus`'s openSync, loaded on first use (the daemon without I²C parts never loads the addon). */
export const openI2cBus: I2cOpener = (busNumber) => {
  const i2c = createRequire(import.meta.url)('i2c-bus') as { openSync(busNumber: number): I2cBus };
  return i2c.openSync(busNumber);
};

/** Bits on the wire for one write of `bytes` data bytes: the address byte and each byte take 9 (8 + ACK), start and stop one each. */
export function i2cWriteBits(bytes: number): number {
  return 9 * (bytes + 1) + 2;
}

/** Why an I²C operation failed, in words (for the log: reported once per failure streak). */
export function describeI2cError(error: unknown, busNumber: number, address?: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  address ??= (error as { i2cAddress?: number }).i2cAddress;
  const where =
    address === undefined ? `/dev/i2c-${busNumber}` : `0x${address.toString(16)} on /dev/i2c-${busNumber}`;
  switch (code) {
    case 'ENOENT':
      return `/dev/i2c-${busNumber} is missing: enable I²C (dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot`;
    case 'EACCES':
    case 'EPERM':
      return `/dev/i2c-${busNumber}: permission denied: add the daemon's user to the i2c group (sudo usermod -aG i2c <user>)`;
    case 'EREMOTEIO':
    case 'ENXIO':
    case 'EIO':
      return `no answer from ${where} (NAK): is the chip plugged in, powered, at this address? (i2cdetect -y ${busNumber})`;
    default:
      return `${where}: ${(error as Error).message}`;
  }
}

/** Marks an error with the chip address it came from (a bank writes to several). */
export function atAddress(error: unknown, address: number): unknown {
  if (typeof error === 'object' && error !== null) Object.assign(error, { i2cAddress: address });
  return error;
}

/**
 * One bus number, opened on first use and shared by the chips on it (LED
 * expanders and the LCD). Opening can fail (no /dev/i2c-N, no permission):
 * then `get()` throws and the next call tries again.
 */
export class LazyI2cBus {
  private bus: I2cBus | null = null;
  private promisified: I2cPromisifiedBus | null = null;

  constructor(
    readonly busNumber: number,
    private readonly opener: I2cOpener,
  ) {}

  get(): I2cBus {
    this.bus ??= this.opener(this.busNumber);
    return this.bus;
  }

  async(): I2cPromisifiedBus {
    this.promisified ??= this.get().promisifiedBus();
    return this.promisified;
  }

  close(): void {
    const bus = this.bus;
    this.bus = null;
    this.promisified = null;
    try {
      bus?.closeSync();
    } catch {
      // closing a bus whose device is gone: nothing left to release
    }
  }
}
