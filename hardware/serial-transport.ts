import { EventEmitter } from 'node:events';
import type { SerialPortStream } from '@serialport/stream';
import type { LineTransport, LineTransportEvents, WriteOptions } from './line-transport.js';

export interface SerialTransportOptions {
  path: string;
  baudRate: number;
}

/**
 * A `LineTransport` over `serialport` (its stream and native binding, loaded
 * at the first open: a daemon on the built-in simulator never needs them,
 * and the umbrella package's parsers cost memory a Pi can use): 8N1, no flow control, opened with
 * HUPCL off (DTR stays up on close, so the next open does not reset an
 * Arduino) and the default exclusive lock. Each `open()` makes a fresh
 * `SerialPort`: events of an old one are ignored. On Linux the binding reads
 * and writes on the main thread (hardware/direct-io-binding.ts): a reply no
 * longer waits for a thread-pool round trip (0.25 → 0.08 ms per request on
 * a pty here).
 *
 * What the driver must know (see shared/hardware-testing.md): a far side that
 * goes away shows up as `close` within ~30 ms; a far side that hangs may
 * leave the binding busy-reading with no `close` ever (bindings-cpp #162), so
 * drivers close the port on reply timeouts rather than just retrying.
 */
export class SerialTransport extends EventEmitter<LineTransportEvents> implements LineTransport {
  private port: SerialPortStream | null = null;

  constructor(private readonly options: SerialTransportOptions) {
    super();
  }

  get description(): string {
    return this.options.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  async open(): Promise<void> {
    if (this.port) throw new Error(`${this.options.path} is already open`);
    const { SerialPortStream, binding } = await loadSerialport();
    if (this.port) throw new Error(`${this.options.path} is already open`);
    const port = new SerialPortStream({
      binding,
      path: this.options.path,
      baudRate: this.options.baudRate,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      rtscts: false,
      hupcl: false,
      autoOpen: false,
    });
    // Always listen for `error`: an EIO after an unplug is otherwise an uncaught exception.
    port.on('error', (error: Error) => {
      if (this.port === port && this.listenerCount('error') > 0) this.emit('error', error);
    });
    port.on('data', (chunk: Buffer) => {
      if (this.port === port) this.emit('data', chunk.toString('latin1'));
    });
    port.on('close', (error?: Error | null) => {
      if (this.port !== port) return;
      this.port = null;
      this.emit('close', error ?? new Error(`${this.options.path} closed`));
    });
    this.port = port;
    try {
      await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    } catch (error) {
      if (this.port === port) this.port = null;
      throw withErrorCode(error);
    }
    if (this.port !== port) {
      // close() was called while opening: do not leave an orphaned open port.
      await new Promise<void>((resolve) => port.close(() => resolve()));
      throw new Error(`${this.options.path} was closed while opening`);
    }
  }

  write(text: string, options: WriteOptions = {}): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new Error(`${this.options.path} is not open`));
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (options.drain === false) {
        port.write(text, 'latin1', done);
        return;
      }
      port.write(text, 'latin1');
      // Resolve once it left (tcdrain), not when the OS took it: the inrush guard
      // spaces switch-ons from this moment. Off the reply path: replies arrive anyway.
      port.drain(done);
    });
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/** bindings-cpp open errors carry no `code`: recover the common one from the message. */
function withErrorCode(error: unknown): Error {
  const result = error instanceof Error ? error : new Error(String(error));
  const withCode = result as Error & { code?: string };
  if (withCode.code === undefined && /No such file or directory/i.test(result.message))
    withCode.code = 'ENOENT';
  return result;
}

let serialport: Promise<{
  SerialPortStream: typeof SerialPortStream;
  binding: ReturnType<typeof import('@serialport/bindings-cpp').autoDetect>;
}> | null = null;

function loadSerialport() {
  serialport ??= Promise.all([
    import('@serialport/stream'),
    import('@serialport/bindings-cpp'),
    import('./direct-io-binding.js'),
  ]).then(([stream, bindings, direct]) => ({
    SerialPortStream: stream.SerialPortStream,
    // Linux: reads and writes without a thread-pool hop (see direct-io-binding.ts).
    binding:
      process.platform === 'linux' ? direct.directIoBinding(bindings.LinuxBinding) : bindings.autoDetect(),
  }));
  return serialport;
}
