import { lcusHex } from '../lcus-protocol.js';
import { RelayDevice } from './relay-device.js';

/**
 * An LCUS (CH340) USB relay board: takes `A0 ch state sum` frames
 * (hardware/lcus-protocol.ts) and never answers. A frame with a bad sum, a
 * channel it lacks or a state other than 00/01 is ignored (and reported as
 * a `request` ending in "ignored"); bytes before an `A0` are skipped.
 * Powers up all off.
 */
export class LcusDevice extends RelayDevice {
  private pending: number[] = [];

  constructor(options: { channels?: number } = {}) {
    super(options.channels ?? 4);
    if (this.channels > 8) throw new Error(`an LCUS board has 1, 2, 4 or 8 channels, not ${this.channels}`);
  }

  receive(bytes: string): void {
    for (const char of bytes) {
      const byte = char.charCodeAt(0);
      if (this.pending.length === 0 && byte !== 0xa0) continue;
      this.pending.push(byte);
      if (this.pending.length < 4) continue;
      const [start, number, state, sum] = this.pending as [number, number, number, number];
      this.pending = [];
      const hex = lcusHex(String.fromCharCode(start, number, state, sum));
      const valid =
        sum === ((start + number + state) & 0xff) && number >= 1 && number <= this.channels && state <= 1;
      this.emit('request', valid ? hex : `${hex} ignored`);
      if (valid) this.setChannel(number - 1, state === 1);
    }
  }
}
