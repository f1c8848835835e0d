import type { EventEmitter } from 'node:events';
import type { Logger } from '../src/log.js';

/**
 * A byte link to a board that speaks in text lines: a serial port
 * (`SerialTransport`) or an in-memory link to the simulator (`MemoryTransport`).
 * The board drivers own the connection policy (timeouts, reopen, back-off);
 * a transport only opens, writes, closes and reports.
 *
 * Obligations of an implementation:
 * - `open()` resolves once writes can go out, or rejects without emitting
 *   anything; an error whose device node is missing has `code: 'ENOENT'`.
 *   `open()` may be called again after `close()` or a `close` event.
 * - `data` carries text as it arrives (ASCII, decoded as latin1), not split
 *   into lines: drivers split with `LineSplitter`.
 * - `close` is emitted once when the link goes away by itself (far side gone,
 *   cable pulled, a write failed for good); never for a `close()` call, and
 *   nothing is emitted after it until the next `open()`.
 * - `write()` resolves once the text has left the port (drained: tcdrain on a
 *   serial port), or with `{ drain: false }` once the OS has taken it, which
 *   spares a thread-pool round trip when nobody needs the moment it left;
 *   it rejects when the link is not open or the write failed.
 * - `close()` never rejects and is harmless when already closed.
 */
export interface LineTransport extends EventEmitter<LineTransportEvents> {
  /** For logs: the device path, or what the link leads to. */
  readonly description: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  write(text: string, options?: WriteOptions): Promise<void>;
  close(): Promise<void>;
  /** Release whatever the transport owns for good (the driver's `stop()` calls it after `close()`). */
  dispose?(): Promise<void>;
}

export interface WriteOptions {
  /** Resolve only once the text has left the port (default true). */
  drain?: boolean;
}

export interface LineTransportEvents {
  data: [text: string];
  close: [error: Error];
  /** Errors that do not close the link by themselves (logged, otherwise ignored). */
  error: [error: Error];
}

/** Reopen delays: `initialMs`, doubling up to `maxMs`; back to `initialMs` after a good connection. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5000 };

/**
 * Splits incoming text into lines: `\n` ends a line, a `\r` before it is
 * dropped. A line longer than `maxLength` bytes (the `\n` included) is
 * discarded up to the next `\n` and counted in `overlong`.
 */
export class LineSplitter {
  private buffer = '';
  private discarding = false;

  constructor(private readonly maxLength: number) {}

  push(text: string): { lines: string[]; overlong: number } {
    const lines: string[] = [];
    let overlong = 0;
    let rest = text;
    for (;;) {
      const end = rest.indexOf('\n');
      if (end === -1) break;
      const piece = rest.slice(0, end);
      rest = rest.slice(end + 1);
      if (this.discarding) {
        this.discarding = false;
        this.buffer = '';
        continue;
      }
      const line = this.buffer + piece;
      this.buffer = '';
      if (line.length + 1 > this.maxLength) overlong++;
      else lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    if (!this.discarding) {
      this.buffer += rest;
      if (this.buffer.length + 1 > this.maxLength) {
        this.buffer = '';
        this.discarding = true;
        overlong++;
      }
    }
    return { lines, overlong };
  }

  /** Forget a partial line (a new connection starts clean). */
  reset(): void {
    this.buffer = '';
    this.discarding = false;
  }
}

/** What kind of open failure this is, for logging once per outage. */
export function openFailureKind(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ENOENT' || /No such file or directory/i.test(message)) return 'ENOENT';
  if (/Cannot lock port/i.test(message)) return 'LOCKED';
  return typeof code === 'string' ? code : message;
}

/**
 * Schedules reopen attempts with back-off and logs a failing open once per
 * outage and kind (a missing device node is logged once, not every attempt).
 * Used by `LinkKeeper` (hardware/link-keeper.ts), which both serial drivers
 * keep their link with; `stop()` clears its timer.
 */
export class ReopenSchedule {
  private delayMs: number;
  private timer: NodeJS.Timeout | null = null;
  private loggedKinds = new Set<string>();

  constructor(
    private readonly deps: {
      logger: Logger;
      backoff: BackoffOptions;
      description: string;
      attempt: () => void;
    },
  ) {
    this.delayMs = deps.backoff.initialMs;
  }

  get pending(): boolean {
    return this.timer !== null;
  }

  /** Try again after the current back-off delay, which then doubles. */
  schedule(): void {
    if (this.timer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.deps.backoff.maxMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.deps.attempt();
    }, delay);
  }

  /** An open failed: log it unless this outage already logged this kind of failure. */
  openFailed(error: unknown): void {
    const kind = openFailureKind(error);
    const hint =
      kind === 'ENOENT'
        ? 'the device node is missing (unplugged?)'
        : kind === 'LOCKED'
          ? 'another program holds the port'
          : error instanceof Error
            ? error.message
            : String(error);
    this.failed(kind, `relay board port cannot be opened: ${hint}`);
  }

  /** An attempt failed for `kind` of reason: warn once per outage and kind, debug after that. */
  failed(kind: string, message: string): void {
    if (this.loggedKinds.has(kind)) {
      this.deps.logger.debug({ port: this.deps.description, kind }, `${message} (still)`);
      return;
    }
    this.loggedKinds.add(kind);
    this.deps.logger.warn(
      { port: this.deps.description, kind },
      `${message}; retrying with back-off up to ${this.deps.backoff.maxMs} ms`,
    );
  }

  /** A connection succeeded: the next outage starts with a short delay and logs afresh. */
  connected(): void {
    this.delayMs = this.deps.backoff.initialMs;
    this.loggedKinds.clear();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
