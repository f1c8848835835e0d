import { readSync, writeSync } from 'node:fs';
import type { LinuxBindingInterface, LinuxOpenOptions, LinuxPortBinding } from '@serialport/bindings-cpp';
import { BindingsError } from '@serialport/bindings-cpp';

/** Told once per open when a port's internals are not what the direct I/O needs (the stock binding is used). */
export type DirectIoFallback = (reason: string) => void;

/**
 * bindings-cpp's Linux binding with reads and writes done on the main thread.
 *
 * The stock binding does every `read` and `write` through libuv's thread pool
 * (`fs.read`/`fs.write`), even though it opens the port O_NONBLOCK and polls
 * it for readiness. A reply therefore waits for a poll wake-up plus a
 * thread-pool round trip, which costs more than the byte time of a whole
 * PRP/1 line on a busy Pi (and queues behind state/audit file writes). On a
 * non-blocking fd a synchronous read or write never blocks: it returns what
 * is there or EAGAIN. So:
 * - `read`: read what is there; on EAGAIN wait for the poller's `readable`
 *   (as the stock binding does) and read again.
 * - `write`: write synchronously; whatever the OS does not take at once
 *   (a full output buffer) goes through the stock write, which waits for
 *   `writable`. The stream never has two writes in flight, so order holds.
 * Errors keep the binding's contract: a read or write on a closed port fails
 * with `canceled`, anything else makes the stream report a disconnect.
 * Everything else (open options, locking, HUPCL, close) is the stock binding.
 *
 * This relies on bindings-cpp internals (`port.fd`, `port.poller`), so each
 * opened port is checked first (`directIoUnsupported`): when they are not
 * what this code expects (another bindings-cpp version), the port stays the
 * stock one and `onFallback` is told why.
 */
export function directIoBinding(
  stock: LinuxBindingInterface,
  onFallback?: DirectIoFallback,
): LinuxBindingInterface {
  return {
    list: () => stock.list(),
    async open(options: LinuxOpenOptions): Promise<LinuxPortBinding> {
      const port = await stock.open(options);
      const unsupported = directIoUnsupported(port);
      if (unsupported !== null) {
        onFallback?.(unsupported);
        return port;
      }
      const stockWrite = port.write.bind(port);
      port.read = (buffer, offset, length) => readWhenReady(port, buffer, offset, length);
      port.write = (buffer) => {
        const fd = port.fd;
        if (!port.isOpen || fd === null) return Promise.reject(new BindingsError('Port is not open'));
        let written = 0;
        try {
          written = buffer.length === 0 ? 0 : writeSync(fd, buffer);
        } catch (error) {
          if (!isWouldBlock(error)) return Promise.reject(error);
        }
        return written === buffer.length ? Promise.resolve() : stockWrite(buffer.subarray(written));
      };
      return port;
    },
  };
}

/**
 * Why a freshly opened port cannot take the direct I/O, or null if it can:
 * it must be open with a numeric fd, have `read`/`write` methods to replace,
 * and a bindings-cpp poller (`once('readable', …)` that starts a `poll`).
 */
export function directIoUnsupported(port: unknown): string | null {
  if (typeof port !== 'object' || port === null) return 'the port is not an object';
  const candidate = port as Record<string, unknown>;
  if (typeof candidate.fd !== 'number' || !Number.isInteger(candidate.fd) || candidate.fd < 0)
    return 'the port has no numeric fd';
  if (candidate.isOpen !== true) return 'the port does not report isOpen';
  if (typeof candidate.read !== 'function' || typeof candidate.write !== 'function')
    return 'the port has no read/write methods';
  const poller = candidate.poller as Record<string, unknown> | null | undefined;
  if (typeof poller !== 'object' || poller === null) return 'the port has no poller';
  if (typeof poller.once !== 'function' || typeof poller.poll !== 'function')
    return 'the poller has no once/poll methods';
  return null;
}

async function readWhenReady(
  port: LinuxPortBinding,
  buffer: Buffer,
  offset: number,
  length: number,
): Promise<{ buffer: Buffer; bytesRead: number }> {
  for (;;) {
    const fd = port.fd;
    if (!port.isOpen || fd === null) throw new BindingsError('Port is not open', { canceled: true });
    try {
      const bytesRead = readSync(fd, buffer, offset, length, null);
      if (bytesRead > 0) return { buffer, bytesRead };
    } catch (error) {
      if (!isWouldBlock(error)) throw error;
    }
    // Nothing there yet: the poller says when there is (or fails with `canceled` on close).
    await new Promise<void>((resolve, reject) =>
      port.poller.once('readable', (error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}

function isWouldBlock(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR';
}
