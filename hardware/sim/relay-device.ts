import { EventEmitter } from 'node:events';
import type { LineDevice } from '../memory-transport.js';

export interface RelayDeviceEvents {
  /** Bytes to the host (latin1). */
  output: [bytes: string];
  /** One request the device understood or refused, as text (a command line, or a frame in hex). */
  request: [line: string];
  /** The relays changed. */
  relays: [mask: number];
  /** The device powered up (at `start()` and `reset()`), with the relays it came up with. */
  boot: [mask: number, bootId: string];
}

/**
 * What the Numato, LCUS and Modbus device models share: relays, power-up,
 * a reset (power loss: every relay off, as these boards come up), and the
 * faults tests inject. The subclass parses bytes in `receive()` and answers
 * with `send()`. Fits `MemoryTransport` and the simulator CLI's pty.
 */
export abstract class RelayDevice extends EventEmitter<RelayDeviceEvents> implements LineDevice {
  relays = 0;
  /** `muted`: nothing is answered (a hung or unpowered device); requests are still seen. */
  readonly faults = { muted: false };
  private bootCount = 0;

  constructor(readonly channels: number) {
    super();
    if (![1, 2, 4, 8, 16, 32].includes(channels))
      throw new Error(`a relay device has 1..32 channels, not ${channels}`);
  }

  get allOn(): number {
    return this.channels >= 32 ? 0xffffffff : 2 ** this.channels - 1;
  }

  /** A different id after every power-up, for observers (the device itself cannot tell). */
  get bootId(): string {
    return `boot-${this.bootCount}`;
  }

  abstract receive(bytes: string): void;

  start(): void {
    this.bootCount++;
    this.emit('boot', this.relays, this.bootId);
  }

  stop(): void {}

  /** Power loss: every relay drops out, then it powers up again. */
  reset(): void {
    this.setRelays(0);
    this.start();
  }

  /** Raw bytes to the host (noise on the line). */
  sendGarbage(text: string): void {
    this.emit('output', text);
  }

  /** No current sensing on these boards; the CLI's `load` control says so. */
  setLoad(_channel: number, _milliamps: number): void {
    throw new Error('this board measures no current');
  }

  protected send(bytes: string): void {
    if (!this.faults.muted) this.emit('output', bytes);
  }

  protected setRelays(mask: number): void {
    const next = (mask & this.allOn) >>> 0;
    if (next === this.relays) return;
    this.relays = next;
    this.emit('relays', next);
  }

  protected setChannel(channel: number, on: boolean): void {
    const bit = 2 ** channel;
    this.setRelays(on ? (this.relays | bit) >>> 0 : (this.relays & ~bit) >>> 0);
  }
}
