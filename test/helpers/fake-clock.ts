import type { Clock } from '../../src/controller/clock.js';

/**
 * A clock a test moves by hand: timers fire only inside `advance()`, in time
 * order, and `now()` is the clock's own time. Code that takes a `Clock`
 * (the front panel) runs on it unchanged.
 */
interface Timer {
  id: number;
  at: number;
  every: number | null;
  callback: () => void;
}

export class FakeClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): number {
    return this.add(callback, ms, null);
  }

  setInterval(callback: () => void, ms: number): number {
    return this.add(callback, ms, Math.max(1, ms));
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers not yet fired or cleared (a stopped panel must leave none). */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = [...this.timers.values()].sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next || next.at > end) break;
      this.time = next.at;
      if (next.every === null) this.timers.delete(next.id);
      else next.at += next.every;
      next.callback();
    }
    this.time = end;
  }

  private add(callback: () => void, ms: number, every: number | null): number {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.time + Math.max(0, ms), every, callback });
    return id;
  }
}
