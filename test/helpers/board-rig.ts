/**
 * What the relay board driver tests share: a logger that keeps its lines,
 * waiting for a board event or a condition, typed rejections, and stopping
 * the boards and simulators a test file made.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { type Logger, pino } from 'pino';
import type { RelayBoard, RelayBoardEvents } from '../../hardware/relay-board.js';
import { PduError } from '../../src/errors.js';

/** A debug-level logger whose lines are kept, parsed, in `lines`. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (text: string) => lines.push(JSON.parse(text)) });
  return { logger, lines };
}

/** `next()` with another default wait (a real pty wants more slack than an in-memory link). */
export function eventWaiter(defaultTimeoutMs: number) {
  /** The next `event` (matching `accept`) within `timeoutMs`, else a rejection. */
  return function next<K extends keyof RelayBoardEvents>(
    board: RelayBoard,
    event: K,
    timeoutMs = defaultTimeoutMs,
    accept: (...args: RelayBoardEvents[K]) => boolean = () => true,
  ): Promise<RelayBoardEvents[K]> {
    return new Promise((resolve, reject) => {
      const listener = (...args: RelayBoardEvents[K]) => {
        if (!accept(...args)) return;
        clearTimeout(timer);
        board.off(event, listener as never);
        resolve(args);
      };
      const timer = setTimeout(() => {
        board.off(event, listener as never);
        reject(new Error(`no "${event}" event within ${timeoutMs} ms`));
      }, timeoutMs);
      board.on(event, listener as never);
    });
  };
}

/** The next `event` (matching `accept`) within `timeoutMs` (default 3 s), else a rejection. */
export const next = eventWaiter(3000);

/** Polls `condition` until it holds; fails after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms: ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Awaits `promise`, which must reject with a `PduError` of `code`; returns that error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<PduError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PduError, `expected a PduError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a ${code} rejection`);
}

/**
 * Boards and simulated devices to stop once the enclosing suite (or file,
 * when called at the top level) is done: boards first, then the devices.
 * `board()` and `device()` return what they are given.
 */
export function stopAfterSuite() {
  const boards: RelayBoard[] = [];
  const devices: Array<{ stop(): void }> = [];
  after(async () => {
    for (const board of boards) await board.stop();
    for (const device of devices) device.stop();
  });
  return {
    board<T extends RelayBoard>(board: T): T {
      boards.push(board);
      return board;
    },
    device<T extends { stop(): void }>(device: T): T {
      devices.push(device);
      return device;
    },
  };
}
