import { modbusCrc } from '../modbus-protocol.js';
import { RelayDevice } from './relay-device.js';

export interface ModbusDeviceOptions {
  channels?: number;
  /** Its slave id (default 1); frames for other ids are ignored, as on a shared bus. */
  slaveId?: number;
}

/** Modbus exception codes this model answers with. */
export const ILLEGAL_FUNCTION = 1;
export const ILLEGAL_ADDRESS = 2;
export const ILLEGAL_VALUE = 3;

/**
 * A Modbus RTU relay board: coils 0..channels-1 are its relays. It answers
 * function 01 (read coils), 05 (write one coil: FF00 on, 0000 off) and 0F
 * (write coils); other functions get exception 01, addresses beyond its
 * coils 02, a bad 05 value 03. A frame with a bad CRC is dropped without an
 * answer (as the standard says), and reported as a `request` ending in
 * "bad CRC". Frames are cut by the function's length (the model does not
 * time the 3.5-character gap). `corruptNextReply` flips a CRC bit in the
 * next answer, for the host's CRC check. Powers up all off.
 */
export class ModbusDevice extends RelayDevice {
  readonly slaveId: number;
  corruptNextReply = false;
  private buffer: number[] = [];

  constructor(options: ModbusDeviceOptions = {}) {
    super(options.channels ?? 8);
    if (![8, 16, 32].includes(this.channels))
      throw new Error(`a Modbus board has 8, 16 or 32 coils, not ${this.channels}`);
    this.slaveId = options.slaveId ?? 1;
  }

  receive(bytes: string): void {
    for (const char of bytes) this.buffer.push(char.charCodeAt(0));
    for (;;) {
      if (this.buffer.length < 8) return;
      const code = this.buffer[1]!;
      const length = code === 0x0f ? 9 + (this.buffer[6] ?? 0) : 8;
      if (this.buffer.length < length) return;
      const frame = this.buffer.slice(0, length);
      this.buffer = this.buffer.slice(length);
      this.frame(frame);
    }
  }

  private frame(frame: number[]): void {
    const hex = frame.map((byte) => byte.toString(16).toUpperCase().padStart(2, '0')).join(' ');
    const crc = modbusCrc(frame.slice(0, -2));
    if (frame.at(-2) !== (crc & 0xff) || frame.at(-1) !== crc >> 8) {
      this.emit('request', `${hex} bad CRC`);
      this.buffer = []; // resynchronise: what follows a broken frame cannot be trusted
      return;
    }
    const [id, code] = frame as [number, number];
    if (id !== this.slaveId) return;
    this.emit('request', hex);
    const address = (frame[2]! << 8) | frame[3]!;
    const value = (frame[4]! << 8) | frame[5]!;
    switch (code) {
      case 0x01: {
        if (value < 1 || address + value > this.channels) {
          this.exception(code, ILLEGAL_ADDRESS);
          return;
        }
        const bytes = Math.ceil(value / 8);
        const data: number[] = [];
        for (let i = 0; i < bytes; i++) {
          let byte = 0;
          for (let bit = 0; bit < 8; bit++) {
            const coil = address + i * 8 + bit;
            if (i * 8 + bit < value && Math.floor(this.relays / 2 ** coil) % 2 === 1) byte |= 1 << bit;
          }
          data.push(byte);
        }
        this.reply([id, code, bytes, ...data]);
        return;
      }
      case 0x05:
        if (address >= this.channels) {
          this.exception(code, ILLEGAL_ADDRESS);
          return;
        }
        if (value !== 0xff00 && value !== 0) {
          this.exception(code, ILLEGAL_VALUE);
          return;
        }
        this.setChannel(address, value === 0xff00);
        this.reply(frame.slice(0, 6));
        return;
      case 0x0f: {
        if (value < 1 || address + value > this.channels) {
          this.exception(code, ILLEGAL_ADDRESS);
          return;
        }
        let mask = this.relays;
        for (let i = 0; i < value; i++) {
          const on = ((frame[7 + (i >> 3)] ?? 0) >> (i & 7)) & 1;
          const bit = 2 ** (address + i);
          mask = on ? (mask | bit) >>> 0 : (mask & ~bit) >>> 0;
        }
        this.setRelays(mask);
        this.reply(frame.slice(0, 6));
        return;
      }
      default:
        this.exception(code, ILLEGAL_FUNCTION);
        return;
    }
  }

  private exception(code: number, exception: number): void {
    this.reply([this.slaveId, code | 0x80, exception]);
  }

  private reply(body: number[]): void {
    const crc = modbusCrc(body) ^ (this.corruptNextReply ? 1 : 0);
    this.corruptNextReply = false;
    this.send(String.fromCharCode(...body, crc & 0xff, crc >> 8));
  }
}
