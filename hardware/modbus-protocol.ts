import { EventEmitter } from 'node:events';
import { BoardTimeoutError, PduError } from '../src/errors.js';
import type { ProtocolIo, RelayProtocol } from './exchange-board.js';

/** The modbus-serial client, as far as this driver uses it (loaded at the first connect). */
interface ModbusClient {
  open(callback: (error: unknown) => void): void;
  setID(id: number): void;
  setTimeout(ms: number): void;
  readCoils(address: number, length: number): Promise<{ data: boolean[] }>;
  writeCoil(address: number, state: boolean): Promise<unknown>;
  writeCoils(address: number, states: boolean[]): Promise<unknown>;
  _transactions?: Record<string, { _timeoutHandle?: NodeJS.Timeout; next?: unknown }>;
}

/** Modbus's CRC-16 (poly 0xA001, init 0xFFFF), sent low byte first. */
export function modbusCrc(bytes: ArrayLike<number>): number {
  let crc = 0xffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

const EXCEPTION_LENGTH = 5;

/**
 * The port modbus-serial talks through: its writes go out on the driver's
 * link and the bytes coming back are cut into whole reply frames (as its own
 * buffered RTU port does: by slave id, function code and the length the
 * request implies), since its parser wants one frame per `data` event.
 * Bytes skipped to find a frame, or arriving with no request out, are garbage.
 */
class LinkPort extends EventEmitter {
  readonly isOpen = true;
  /** modbus-serial keeps its transaction numbers on the port. */
  _transactionIdRead = 1;
  _transactionIdWrite = 1;
  private buffer: number[] = [];
  private expect: { id: number; code: number; length: number } | null = null;
  /** Called once the next request has left the port (a switch's `sent`). */
  sentHook: (() => void) | null = null;

  constructor(private readonly io: ProtocolIo) {
    super();
  }

  open(callback: (error: Error | null) => void): void {
    callback(null);
  }

  close(callback?: () => void): void {
    callback?.();
  }

  write(data: Buffer): void {
    const id = data[0]!;
    const code = data[1]!;
    const count = data.length >= 6 ? data.readUInt16BE(4) : 0;
    const length = code === 1 || code === 2 ? 5 + Math.ceil(count / 8) : 8;
    this.expect = { id, code, length };
    this.dropBuffer();
    const sent = this.sentHook;
    this.sentHook = null;
    this.io.write(data.toString('latin1'), sent !== null).then(
      () => sent?.(),
      (error: unknown) => this.emit('error', error),
    );
  }

  /** What has come since the request, for a timeout's message. */
  received(): string {
    return this.buffer.map((byte) => byte.toString(16).toUpperCase().padStart(2, '0')).join(' ');
  }

  push(bytes: string): void {
    for (const char of bytes) this.buffer.push(char.charCodeAt(0));
    const expect = this.expect;
    if (!expect) {
      this.dropBuffer();
      return;
    }
    for (let i = 0; i + EXCEPTION_LENGTH <= this.buffer.length; i++) {
      if (this.buffer[i] !== expect.id) continue;
      const code = this.buffer[i + 1];
      const length =
        code === expect.code ? expect.length : code === (expect.code | 0x80) ? EXCEPTION_LENGTH : 0;
      if (length === 0) continue;
      if (i + length > this.buffer.length) return; // the rest is on its way
      if (i > 0) this.io.garbage(String.fromCharCode(...this.buffer.slice(0, i)));
      const frame = Buffer.from(this.buffer.slice(i, i + length));
      this.buffer = this.buffer.slice(i + length);
      this.expect = null;
      this.dropBuffer();
      this.emit('data', frame);
      return;
    }
    if (this.buffer.length > 256) this.dropBuffer();
  }

  dropBuffer(): void {
    if (this.buffer.length > 0) this.io.garbage(String.fromCharCode(...this.buffer));
    this.buffer = [];
  }

  forget(): void {
    this.expect = null;
    this.buffer = [];
  }
}

export interface ModbusProtocolOptions {
  channels: number;
  slaveId: number;
}

/**
 * Modbus RTU relay boards (8, 16, 32 coils) over RS-485, through the
 * modbus-serial library on the driver's own serial link: coil i is relay i;
 * read with function 01, one coil written with 05, all with 0F (one frame).
 * The board's slave id is set in the config; parity and baud rate are the
 * serial port's. CRC errors and short frames are BOARD_PROTOCOL, exception
 * replies BOARD_ERROR, silence BOARD_TIMEOUT. A board has no identity of
 * its own beyond its slave id: `serial` is null.
 */
export class ModbusProtocol implements RelayProtocol {
  readonly label = 'Modbus board';
  readonly protocol = 'modbus-rtu';
  private port: LinkPort | null = null;
  private client: ModbusClient | null = null;
  private pending: { reject: (error: PduError) => void } | null = null;
  private io: ProtocolIo | null = null;

  constructor(private readonly options: ModbusProtocolOptions) {}

  attach(io: ProtocolIo): void {
    this.io = io;
    this.port = new LinkPort(io);
    this.client = null;
  }

  receive(bytes: string): void {
    if (this.port) this.port.push(bytes);
    else this.io?.garbage(bytes);
  }

  detach(reason: PduError): void {
    // modbus-serial's reply timer would run on after the port is gone: clear it.
    for (const transaction of Object.values(this.client?._transactions ?? {})) {
      clearTimeout(transaction._timeoutHandle);
      transaction.next = undefined;
    }
    this.port?.forget();
    const pending = this.pending;
    this.pending = null;
    pending?.reject(reason);
  }

  async identify(): Promise<{ firmware: string; serial: string | null }> {
    await this.connectClient();
    return { firmware: `slave ${this.options.slaveId}`, serial: null };
  }

  async read(): Promise<number> {
    const { data } = await this.run('01 (read coils)', (client) =>
      client.readCoils(0, this.options.channels),
    );
    let mask = 0;
    for (let channel = 0; channel < this.options.channels; channel++) if (data[channel]) mask += 2 ** channel;
    return mask;
  }

  async write(channel: number, on: boolean, sent: () => void): Promise<void> {
    await this.run('05 (write coil)', (client) => client.writeCoil(channel, on), sent);
  }

  async writeMask(to: number): Promise<void> {
    const states = Array.from({ length: this.options.channels }, (_, i) => Math.floor(to / 2 ** i) % 2 === 1);
    await this.run('0F (write coils)', (client) => client.writeCoils(0, states));
  }

  private async connectClient(): Promise<ModbusClient> {
    const port = this.port;
    if (!port || !this.io) throw new PduError('BOARD_OFFLINE', 'the Modbus board link is not open');
    // A CommonJS module: its `module.exports` is the client class.
    const ModbusRTU = (
      (await import('modbus-serial')) as unknown as { default: new (port: LinkPort) => unknown }
    ).default;
    if (this.port !== port) throw new PduError('BOARD_OFFLINE', 'the Modbus board link closed');
    const client = new ModbusRTU(port) as unknown as ModbusClient;
    await new Promise<void>((resolve, reject) => client.open((error) => (error ? reject(error) : resolve())));
    client.setID(this.options.slaveId);
    client.setTimeout(this.io.replyTimeoutMs);
    this.client = client;
    return client;
  }

  /** One transaction; modbus-serial's errors become PduErrors that say what happened. */
  private run<T>(what: string, request: (client: ModbusClient) => Promise<T>, sent?: () => void): Promise<T> {
    const client = this.client;
    const port = this.port;
    if (!client || !port)
      return Promise.reject(new PduError('BOARD_OFFLINE', 'the Modbus board link is not open'));
    return new Promise<T>((resolve, reject) => {
      const pending = { reject };
      this.pending = pending;
      port.sentHook = sent ?? null;
      const slave = this.options.slaveId;
      request(client).then(
        (value) => {
          if (this.pending !== pending) return;
          this.pending = null;
          resolve(value);
        },
        (error: unknown) => {
          if (this.pending !== pending) return;
          this.pending = null;
          const e = error as { name?: string; message?: string; modbusCode?: number };
          if (e.name === 'TransactionTimedOutError') {
            const got = port.received();
            reject(
              new BoardTimeoutError(
                `the Modbus board (slave ${slave}) did not answer function ${what} within ${this.io?.replyTimeoutMs} ms${got ? ` (got ${got}: no reply frame)` : ''}`,
              ),
            );
          } else if (typeof e.modbusCode === 'number') {
            reject(
              new PduError(
                'BOARD_ERROR',
                `the Modbus board (slave ${slave}) refused function ${what}: exception ${e.modbusCode} (${String(e.message).replace(/^Modbus exception \d+: /, '')})`,
              ),
            );
          } else {
            reject(
              new PduError(
                'BOARD_PROTOCOL',
                `the Modbus board (slave ${slave}) gave a bad reply to function ${what}: ${e.message ?? String(error)}`,
              ),
            );
          }
        },
      );
    });
  }
}
