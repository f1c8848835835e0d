import { EventEmitter } from 'node:events';
import type { SerialPortStream } from '@serialport/stream';
import { PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { LineTransport, LineTransportEvents, WriteOptions } from './line-transport.js';

/**
 * How the port's bytes move: `direct` reads and writes on the main thread
 * (Linux only, hardware/direct-io-binding.ts), `stock` is
 * `@serialport/bindings-cpp` as shipped.
 */
export type SerialBindingName = 'direct' | 'stock';

export const SERIAL_BINDINGS: readonly SerialBindingName[] = ['direct', 'stock'];

export interface SerialTransportOptions {
  path: string;
  baudRate: number;
  /** Default none (8N1); RS-485 Modbus boards may want even or odd. */
  parity?: 'none' | 'even' | 'odd';
  /** Default: `PIPDU_SERIAL_BINDING` (`direct` or `stock`) if set, else `direct`. */
  binding?: SerialBindingName;
  /** Told (once, at info) when the direct binding falls back to the stock one. */
  logger?: Pick<Logger, 'info'>;
}

/** The binding `PIPDU_SERIAL_BINDING` asks for (unset or empty: `direct`); anything else is BAD_CONFIG. */
export function serialBindingFromEnv(value = process.env.PIPDU_SERIAL_BINDING): SerialBindingName {
  if (value === undefined || value === '') return 'direct';
  if ((SERIAL_BINDINGS as readonly string[]).includes(value)) return value as SerialBindingName;
  throw new PduError(
    'BAD_CONFIG',
    `PIPDU_SERIAL_BINDING is "${value}": valid values are ${SERIAL_BINDINGS.join(', ')}`,
  );
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
 * a pty here). That binding relies on bindings-cpp internals: when a port's
 * are not as expected it keeps the stock binding and logs why once; the
 * `binding: 'stock'` option (or PIPDU_SERIAL_BINDING=stock) forces the stock
 * one. `binding` says which one the open port uses.
 *
 * What the driver must know (measured over socat ptys): a far side that
 * goes away shows up as `close` within ~30 ms; a far side that hangs may
 * leave the binding busy-reading with no `close` ever (bindings-cpp #162), so
 * drivers close the port on reply timeouts rather than just retrying.
 */
export class SerialTransport extends EventEmitter<LineTransportEvents> implements LineTransport {
  private port: SerialPortStream | null = null;
  private readonly wanted: SerialBindingName;
  private opened: SerialBindingName | null = null;
  private fallbackLogged = false;

  /** Throws BAD_CONFIG if no binding is given and PIPDU_SERIAL_BINDING names none. */
  constructor(private readonly options: SerialTransportOptions) {
    super();
    this.wanted = options.binding ?? serialBindingFromEnv();
  }

  /** The binding the open port moves its bytes with (the last port's once closed; null before the first open). */
  get binding(): SerialBindingName | null {
    return this.opened;
  }

  get description(): string {
    return this.options.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  async open(): Promise<void> {
    if (this.port) throw new Error(`${this.options.path} is already open`);
    const { SerialPortStream, bindings, directIoBinding } = await loadSerialport();
    if (this.port) throw new Error(`${this.options.path} is already open`);
    // Linux: reads and writes without a thread-pool hop, unless the port's internals say otherwise.
    const direct = this.wanted === 'direct' && process.platform === 'linux';
    let used: SerialBindingName = direct ? 'direct' : 'stock';
    const binding = direct
      ? directIoBinding(bindings.LinuxBinding, (reason) => {
          used = 'stock';
          if (this.fallbackLogged) return;
          this.fallbackLogged = true;
          this.options.logger?.info(
            { path: this.options.path, reason },
            'serial: direct I/O unavailable, using the stock binding',
          );
        })
      : bindings.autoDetect();
    const port = new SerialPortStream({
      binding,
      path: this.options.path,
      baudRate: this.options.baudRate,
      dataBits: 8,
      parity: this.options.parity ?? 'none',
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
    this.opened = used;
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
  bindings: typeof import('@serialport/bindings-cpp');
  directIoBinding: typeof import('./direct-io-binding.js').directIoBinding;
}> | null = null;

function loadSerialport() {
  serialport ??= Promise.all([
    import('@serialport/stream'),
    import('@serialport/bindings-cpp'),
    import('./direct-io-binding.js'),
  ]).then(([stream, bindings, direct]) => ({
    SerialPortStream: stream.SerialPortStream,
    bindings,
    directIoBinding: direct.directIoBinding,
  }));
  return serialport;
}
