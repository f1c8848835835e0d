import { EventEmitter } from 'node:events';
import type { LineTransport, LineTransportEvents } from './line-transport.js';

/** The far end of an in-memory link: `SimulatedBoard` fits it. */
export interface LineDevice {
  /** Bytes from the host. */
  receive(text: string): void;
  /** Power up (the simulator sends `! BOOT` and starts its telemetry). */
  start(): void;
  /** Power down: clears its timers. */
  stop(): void;
  on(event: 'output', listener: (text: string) => void): unknown;
  off(event: 'output', listener: (text: string) => void): unknown;
}

export interface MemoryTransportOptions {
  device: LineDevice;
  /** Power the device up at the first `open()` and down at `dispose()` (the embedded simulator). */
  ownDevice?: boolean;
  description?: string;
}

/**
 * A `LineTransport` to an in-process device. Output from the device while
 * the link is closed is lost, as on a serial line. `unplug()`/`plug()` let
 * tests pull the cable: the link emits `close` and opens fail with ENOENT
 * until it is plugged back.
 */
export class MemoryTransport extends EventEmitter<LineTransportEvents> implements LineTransport {
  readonly description: string;
  private opened = false;
  private plugged = true;
  private powered = false;
  private readonly onOutput = (text: string): void => {
    if (this.opened) this.emit('data', text);
  };

  constructor(private readonly options: MemoryTransportOptions) {
    super();
    this.description = options.description ?? 'in-memory link';
  }

  get isOpen(): boolean {
    return this.opened;
  }

  async open(): Promise<void> {
    if (this.opened) throw new Error(`${this.description} is already open`);
    if (!this.plugged) {
      throw Object.assign(new Error(`No such file or directory, cannot open ${this.description}`), {
        code: 'ENOENT',
      });
    }
    this.opened = true;
    this.options.device.on('output', this.onOutput);
    if (this.options.ownDevice && !this.powered) {
      this.powered = true;
      this.options.device.start();
    }
  }

  async write(text: string): Promise<void> {
    if (!this.opened) throw new Error(`${this.description} is not open`);
    this.options.device.receive(text);
  }

  async close(): Promise<void> {
    this.detach();
  }

  async dispose(): Promise<void> {
    this.detach();
    if (this.powered) {
      this.powered = false;
      this.options.device.stop();
    }
  }

  /** Tests: pull the cable. */
  unplug(): void {
    this.plugged = false;
    if (!this.opened) return;
    this.detach();
    this.emit('close', Object.assign(new Error(`${this.description} disconnected`), { disconnected: true }));
  }

  /** Tests: plug the cable back in. */
  plug(): void {
    this.plugged = true;
  }

  private detach(): void {
    if (!this.opened) return;
    this.opened = false;
    this.options.device.off('output', this.onOutput);
  }
}
