import { numatoChannel, numatoChannelName } from '../numato-protocol.js';
import { RelayDevice } from './relay-device.js';

export interface NumatoDeviceOptions {
  channels?: number;
  /** `id get`'s answer (8 characters). */
  id?: string;
  /** `ver`'s answer. */
  version?: string;
}

/**
 * A Numato Lab USB relay module as the host sees it: every byte is echoed
 * as it arrives; at `\r` the line is run and answered with `\n\r`, the
 * reply and `\n\r` if it has one, and the prompt `>`. It knows `relay
 * on|off|read <0-9A-V>`, `relay readall` (hex, one digit per 4 relays),
 * `relay writeall <hex>`, `ver`, `id get`, `id set <8 chars>`; anything
 * else gets just the prompt, as the module does. Powers up all off.
 */
export class NumatoDevice extends RelayDevice {
  id: string;
  readonly version: string;
  private line = '';

  constructor(options: NumatoDeviceOptions = {}) {
    super(options.channels ?? 8);
    this.id = options.id ?? '00000001';
    this.version = options.version ?? '00000008';
  }

  receive(bytes: string): void {
    let out = '';
    for (const char of bytes) {
      out += char;
      if (char === '\r') {
        const reply = this.run(this.line.trim());
        out += `\n\r${reply === null ? '' : `${reply}\n\r`}>`;
        this.line = '';
      } else if (char !== '\n') {
        this.line += char;
      }
    }
    this.send(out);
  }

  private run(command: string): string | null {
    if (command === '') return null;
    this.emit('request', command);
    const words = command.split(/\s+/);
    if (command === 'ver') return this.version;
    if (command === 'id get') return this.id;
    if (words[0] === 'id' && words[1] === 'set' && words[2]?.length === 8) {
      this.id = words[2];
      return null;
    }
    if (words[0] !== 'relay') return null;
    if (words[1] === 'readall' && words.length === 2) {
      return this.relays
        .toString(16)
        .toUpperCase()
        .padStart(Math.ceil(this.channels / 4), '0');
    }
    if (words[1] === 'writeall' && words.length === 3 && /^[0-9A-Fa-f]{1,8}$/.test(words[2]!)) {
      this.setRelays(Number.parseInt(words[2]!, 16));
      return null;
    }
    const channel = words.length === 3 ? numatoChannel(words[2]!) : null;
    if (channel === null || channel >= this.channels) return null;
    if (words[1] === 'on' || words[1] === 'off') this.setChannel(channel, words[1] === 'on');
    else if (words[1] === 'read') return Math.floor(this.relays / 2 ** channel) % 2 === 1 ? 'on' : 'off';
    return null;
  }

  /** For messages: relay `channel`'s name on this module. */
  static channelName(channel: number): string {
    return numatoChannelName(channel);
  }
}
