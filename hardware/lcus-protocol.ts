import type { PduError } from '../src/errors.js';
import type { ProtocolIo, RelayProtocol } from './exchange-board.js';

/** The frame that switches `channel` (0-based): `A0`, channel 1..8, 00 off / 01 on, the byte sum. */
export function lcusFrame(channel: number, on: boolean): string {
  const number = channel + 1;
  const state = on ? 1 : 0;
  return String.fromCharCode(0xa0, number, state, (0xa0 + number + state) & 0xff);
}

/** A frame as hex, for logs and the simulator's `request` events: `A0 01 01 A2`. */
export function lcusHex(frame: string): string {
  return [...frame].map((char) => char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')).join(' ');
}

/**
 * The CH340 "LCUS" USB relay boards (1, 2, 4, 8 channels): 9600 8N1, one
 * 4-byte frame per switch (`lcusFrame`), and no answer at all. The board
 * cannot say what its relays are, nor that it is there: a frame has gone
 * once the port has drained it, and every mask is *assumed*.
 */
export class LcusProtocol implements RelayProtocol {
  readonly label = 'LCUS board';
  readonly protocol = 'lcus';
  private io: ProtocolIo | null = null;

  constructor(private readonly channels: number) {}

  attach(io: ProtocolIo): void {
    this.io = io;
  }

  /** The board never talks: whatever comes is noise. */
  receive(bytes: string): void {
    this.io?.garbage(bytes);
  }

  detach(_reason: PduError): void {}

  async identify(): Promise<{ firmware: string; serial: string | null }> {
    return { firmware: 'lcus', serial: null };
  }

  read(): Promise<number> {
    return Promise.reject(new Error('an LCUS board cannot report its relays'));
  }

  async write(channel: number, on: boolean, sent: () => void): Promise<void> {
    if (!this.io) throw new Error('the LCUS board link is not attached');
    await this.io.write(lcusFrame(channel, on), true);
    sent();
  }

  /** One frame per changed channel, each drained before the next (some boards drop back-to-back frames). */
  async writeMask(to: number, from: number): Promise<void> {
    for (let channel = 0; channel < this.channels; channel++) {
      const bit = 1 << channel;
      if ((to & bit) === (from & bit)) continue;
      await this.write(channel, (to & bit) !== 0, () => {});
    }
  }
}
