import { PduError } from '../src/errors.js';
import { type ProtocolIo, type RelayProtocol, ReplyReader } from './exchange-board.js';

/** A Numato module's name for relay `channel`: 0..9, then A..V (10..31). */
export function numatoChannelName(channel: number): string {
  return channel < 10 ? String(channel) : String.fromCharCode(55 + channel); // 'A' = 65 = 55 + 10
}

/** The channel a Numato relay name stands for (either case); null for anything else. */
export function numatoChannel(name: string): number | null {
  if (/^[0-9]$/.test(name)) return Number(name);
  if (/^[A-Va-v]$/.test(name)) return name.toUpperCase().charCodeAt(0) - 55;
  return null;
}

/** Longest answer a module gives (echo, reply, prompt): anything longer without `>` is noise. */
const MAX_ANSWER = 128;

/**
 * The answer to `command`: the module echoes what it was sent, then `\n\r`,
 * the reply (if the command has one) and `\n\r`, then the prompt `>`.
 * Null until the prompt; BOARD_PROTOCOL when the bytes are not that.
 */
export function matchNumatoAnswer(command: string, buffer: string): { value: string; rest: string } | null {
  const prompt = buffer.indexOf('>');
  if (prompt === -1) {
    if (buffer.length > MAX_ANSWER) throw garbage(command, buffer);
    return null;
  }
  const text = buffer.slice(0, prompt);
  const rest = buffer.slice(prompt + 1);
  // The module echoes the command; a leading CR/LF is a previous prompt's tail.
  const body = text.replace(/^[\r\n]+/, '');
  if (!body.startsWith(command)) throw garbage(command, buffer);
  const reply = body
    .slice(command.length)
    .replace(/^[\r\n]+/, '')
    .replace(/[\r\n]+$/, '');
  if (/[\r\n]/.test(reply)) throw garbage(command, buffer);
  return { value: reply, rest };
}

function garbage(command: string, buffer: string): PduError {
  return new PduError(
    'BOARD_PROTOCOL',
    `the Numato module answered ${JSON.stringify(buffer.slice(0, 60))} to "${command}": not an echo, reply and prompt`,
  );
}

/**
 * Numato Lab USB relay modules (1..32 channels): human-readable commands
 * over a CDC serial port, each ended by `\r`; see `matchNumatoAnswer` for
 * the answer. `relay on|off N`, `relay read N` (`on`/`off`), `relay readall`
 * (hex, bit i = relay i; modules of 8 channels and more), `ver`, `id get`
 * (8 characters, kept by the module: its identity).
 */
export class NumatoProtocol implements RelayProtocol {
  readonly label = 'Numato module';
  readonly protocol = 'numato';
  private readonly reader = new ReplyReader('Numato module');

  constructor(private readonly channels: number) {}

  attach(io: ProtocolIo): void {
    this.reader.attach(io);
  }

  receive(bytes: string): void {
    this.reader.receive(bytes);
  }

  detach(reason: PduError): void {
    this.reader.detach(reason);
  }

  async identify(): Promise<{ firmware: string; serial: string | null }> {
    // A bare CR ends whatever a previous program left half-typed; the module answers with a prompt.
    await this.reader.transact('\r', (buffer) => {
      const prompt = buffer.lastIndexOf('>');
      return prompt === -1
        ? buffer.length > MAX_ANSWER
          ? throwGarbage('', buffer)
          : null
        : { value: '', rest: '' };
    });
    const firmware = await this.command('ver');
    const id = await this.command('id get');
    if (!/^[\x21-\x7e]{1,16}$/.test(firmware)) throw badReply('ver', firmware);
    if (!/^[\x21-\x7e]{1,16}$/.test(id)) throw badReply('id get', id);
    return { firmware, serial: id };
  }

  async read(): Promise<number> {
    if (this.channels >= 8) {
      const reply = await this.command('relay readall');
      const digits = Math.ceil(this.channels / 4);
      if (!/^[0-9A-Fa-f]+$/.test(reply) || reply.length !== digits) {
        throw new PduError(
          'BOARD_PROTOCOL',
          `the Numato module answered "${reply.slice(0, 40)}" to "relay readall": ${digits} hex digits expected for ${this.channels} channels (is board.channels right?)`,
        );
      }
      const mask = Number.parseInt(reply, 16) >>> 0;
      return mask;
    }
    let mask = 0;
    for (let channel = 0; channel < this.channels; channel++) {
      const command = `relay read ${numatoChannelName(channel)}`;
      const reply = await this.command(command);
      if (reply !== 'on' && reply !== 'off') throw badReply(command, reply);
      if (reply === 'on') mask |= 1 << channel;
    }
    return mask;
  }

  async write(channel: number, on: boolean, sent: () => void): Promise<void> {
    const command = `relay ${on ? 'on' : 'off'} ${numatoChannelName(channel)}`;
    const reply = await this.command(command, sent);
    if (reply !== '') throw badReply(command, reply);
  }

  async writeMask(to: number, from: number): Promise<void> {
    for (let channel = 0; channel < this.channels; channel++) {
      const bit = 2 ** channel;
      const want = Math.floor(to / bit) % 2 === 1;
      if (want === (Math.floor(from / bit) % 2 === 1)) continue;
      await this.write(channel, want, () => {});
    }
  }

  private command(command: string, sent?: () => void): Promise<string> {
    return this.reader.transact(`${command}\r`, (buffer) => matchNumatoAnswer(command, buffer), sent);
  }
}

function badReply(command: string, reply: string): PduError {
  return new PduError('BOARD_PROTOCOL', `the Numato module answered "${reply.slice(0, 40)}" to "${command}"`);
}

function throwGarbage(command: string, buffer: string): never {
  throw garbage(command, buffer);
}
