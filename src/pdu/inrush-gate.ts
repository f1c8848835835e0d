import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The inrush guard: switch-ons across all sockets go out one at a time, each
 * at least `spacingMs` after the previous one went out.
 *
 * "Went out" is when the driver's write of that SET completed (`onSent`),
 * which is when the board drives the relay, give or take the line's
 * transmission time: a stall before the write (a busy event loop, the driver
 * waiting on another reply) never shortens a gap, and a reply's latency never
 * lengthens one. The wait is a timer on a monotonic clock; the contract is "at
 * least the spacing" (a timer fires late, never early: an early one is waited
 * out). Bottleneck's `minTime` was tried: its millisecond clock starts jobs
 * early and each start costs ~3 ms.
 */
export class InrushGate {
  private readonly spacingMs: number;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  /** The switch-ons waiting their turn, as a promise chain. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(deps: { spacingMs: number }) {
    this.spacingMs = deps.spacingMs;
  }

  /** Sends a switch-on in its turn; `send` reports when its write went out. With no spacing, at once. */
  switchOn<T>(send: (onSent: (at: number) => void) => Promise<T>): Promise<T> {
    if (this.spacingMs <= 0) return send(() => {});
    const turn = this.tail.then(() => this.send(send));
    this.tail = turn.catch(() => {});
    return turn;
  }

  /** Resolves once every switch-on handed in so far has gone (or failed). */
  idle(): Promise<void> {
    return this.tail.then(() => {});
  }

  private async send<T>(send: (onSent: (at: number) => void) => Promise<T>): Promise<T> {
    const due = this.lastSentAt + this.spacingMs;
    for (let left = due - performance.now(); left > 0; left = due - performance.now()) {
      await sleep(Math.ceil(left));
    }
    this.lastSentAt = performance.now();
    return send((at) => {
      this.lastSentAt = at;
    });
  }
}
