import type { SocketConfig } from '../config/schema.js';
import { PduError } from '../errors.js';
import { type Actor, describeActor } from './actor.js';
import { formatMs } from './hooks/index.js';
import type { StepReport } from './hooks/phase.js';
import { label } from './request.js';
import type { PendingWork, SwitchAction, SwitchResult } from './types.js';

/**
 * Work that takes a while on one socket: a hook pipeline or a cycle. While it
 * is queued or running, requests in its direction join it and others are
 * refused BUSY (docs/decisions.md #1).
 */
export interface LongWork {
  action: SwitchAction;
  direction: 'on' | 'off' | 'cycle';
  actor: Actor;
  since: string;
  /** Cancel, the pipeline timeout, or the daemon stopping: ends the work with its reason. */
  abort: AbortController;
  /** A forced off: skips what is left of preOff. */
  skip: AbortController;
  forcedBy: Actor | null;
  /** The step running now, or the last one that ran. */
  step: StepReport | null;
  result: Promise<SwitchResult>;
  /** `hookTimeout`, plus a cycle's off-time: the bound on the whole work. */
  budgetMs: number;
}

/** A request waiting or running in the lane. */
interface Entry {
  action: PendingWork['action'];
  actor: Actor;
  since: string;
  /** Known once the request acts (a toggle's direction depends on the state it finds). */
  direction?: PendingWork['direction'];
}

/**
 * One socket's lane: its requests run in arrival order, one at a time (a
 * promise chain: nothing more is needed), and what is waiting or running is
 * its pending work.
 *
 * Rules:
 * - `enqueue()` runs jobs in order; `pending` names the request at the head
 *   (running, or next), the count of requests, and the step running.
 * - At most one long work at a time (`long`): `beginLong()` makes one,
 *   bounded by its budget (past it the work ends with TIMEOUT); `cancel()`
 *   ends it; a forced off skips its remaining preOff.
 * - `close()` (the daemon stopping): the job running finishes, the ones
 *   waiting behind it fail with STOPPED, long work is cancelled.
 */
export class SocketLane {
  config: SocketConfig;
  long: LongWork | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly entries: Entry[] = [];
  private step: StepReport | null = null;
  private issued = 0;
  private done = 0;
  private lastAllowed = Number.POSITIVE_INFINITY;
  private readonly onPending: (lane: SocketLane) => void;

  constructor(deps: { config: SocketConfig; onPending: (lane: SocketLane) => void }) {
    this.config = deps.config;
    this.onPending = deps.onPending;
  }

  get pending(): PendingWork | null {
    const head = this.entries[0];
    if (!head) return null;
    const pending: PendingWork = {
      action: head.action,
      actor: head.actor,
      since: head.since,
      requests: this.entries.length,
    };
    if (head.direction) pending.direction = head.direction;
    if (this.step) pending.step = this.step;
    return pending;
  }

  /** Whether nothing is waiting or running. */
  get idle(): boolean {
    return this.entries.length === 0;
  }

  /**
   * Runs `job` after every job handed in before it. `job` gets a `resolved`
   * callback to name the direction it took (shown as pending).
   */
  enqueue<T>(
    action: Entry['action'],
    actor: Actor,
    job: (resolved: (direction: NonNullable<Entry['direction']>) => void) => Promise<T>,
  ): Promise<T> {
    const ticket = ++this.issued;
    const entry: Entry = { action, actor, since: new Date().toISOString() };
    this.entries.push(entry);
    this.onPending(this);
    const run = async (): Promise<T> => {
      try {
        if (ticket > this.lastAllowed) {
          throw new PduError(
            'STOPPED',
            'PiPDU is shutting down; this request was still waiting and nothing was switched',
          );
        }
        return await job((direction) => {
          entry.direction = direction;
          this.onPending(this);
        });
      } finally {
        this.done++;
        this.entries.splice(this.entries.indexOf(entry), 1);
        if (this.entries.length === 0) this.step = null;
        this.onPending(this);
      }
    };
    const result = this.tail.then(run);
    this.tail = result.catch(() => {});
    return result;
  }

  /** Resolves once every job handed in so far has run. */
  async drained(): Promise<void> {
    await this.tail;
  }

  /** Starts long work for a request acting now (or queued, for explicit directions). */
  beginLong(
    action: SwitchAction,
    direction: LongWork['direction'],
    actor: Actor,
    budgetMs: number,
  ): LongWork {
    const long: LongWork = {
      action,
      direction,
      actor,
      budgetMs,
      since: new Date().toISOString(),
      abort: new AbortController(),
      skip: new AbortController(),
      forcedBy: null,
      step: null,
      result: new Promise<SwitchResult>(() => {}),
    };
    this.long = long;
    return long;
  }

  endLong(long: LongWork | null): void {
    if (long && this.long === long) this.long = null;
  }

  /** The whole pipeline's bound: past it, the work ends with TIMEOUT. Returns the timer to clear. */
  startBudget(long: LongWork): NodeJS.Timeout {
    return setTimeout(() => {
      long.abort.abort(
        new PduError(
          'TIMEOUT',
          `socket ${label(this.config)}: its hooks took longer than hookTimeout (${formatMs(this.config.hookTimeout)})`,
        ),
      );
    }, long.budgetMs);
  }

  /** A step's report: the long work's and the pending record's current step. */
  report(step: StepReport): void {
    if (this.long && step.status === 'running') this.long.step = step;
    this.step = step;
    if (step.status === 'running') this.onPending(this);
  }

  /** Forces a pending off: the rest of its preOff is skipped. Returns false when it already was. */
  force(long: LongWork, by: Actor): boolean {
    if (long.direction !== 'off' || long.skip.signal.aborted) return false;
    long.forcedBy = by;
    long.skip.abort();
    return true;
  }

  /** The BUSY error for a request in another direction than the long work's. */
  busy(long: LongWork): PduError {
    const step = long.step
      ? `, at ${long.step.phase} step ${long.step.index} of ${long.step.total} (${long.step.label})`
      : '';
    return new PduError(
      'BUSY',
      `socket ${label(this.config)} is busy: ${long.action} by ${describeActor(long.actor)} pending since ${long.since}${step}; cancel it first`,
    );
  }

  /** Ends the long work with `reason`; the relay not yet switched stays as it is. */
  cancel(reason: PduError): LongWork | null {
    const long = this.long;
    long?.abort.abort(reason);
    return long;
  }

  /** The daemon stopping: the running job finishes, those waiting fail STOPPED, long work is cancelled. */
  close(): void {
    this.lastAllowed = this.done + 1;
    this.long?.abort.abort(new PduError('STOPPED', 'PiPDU is shutting down: pending work was cancelled'));
  }
}
