import type { Logger } from '../log.js';
import type { Clock } from './clock.js';

/** Back-off between retries of a failed chip: doubles from the first to the last. */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 30_000;

export interface ChipKeeperDeps {
  /** For the log: which chip. */
  name: string;
  logger: Logger;
  clock: Clock;
  /** Why an error happened, in words. */
  describe: (error: unknown) => string;
}

/**
 * Keeps a panel chip (LED expander, shift register, LCD) going through
 * failures: the first failure of a streak is logged once as a warning with
 * why, then the chip is retried (its init, then the latest state) after 1 s,
 * 2 s, 4 s … up to 30 s, silently, until it answers again ("recovered" is
 * logged). A failing chip never throws into the panel: the buttons and the
 * other chips go on.
 */
export class ChipKeeper {
  private readonly deps: ChipKeeperDeps;
  private failing = false;
  private backoff = RETRY_FIRST_MS;
  private retry: unknown = null;
  private stopped = false;
  /** Failures since start (tests, bench). */
  failures = 0;

  constructor(deps: ChipKeeperDeps) {
    this.deps = deps;
  }

  /** The chip is failing and waits for its retry: writes are pointless until then. */
  get down(): boolean {
    return this.failing;
  }

  /**
   * Reports a failure (once per streak) and schedules `recover` after the
   * back-off; `recover` resolves once the chip is back, or rejects to wait longer.
   */
  failed(error: unknown, recover: () => Promise<void> | void): void {
    this.failures++;
    if (!this.failing) {
      this.failing = true;
      this.deps.logger.warn(
        { chip: this.deps.name, err: this.deps.describe(error) },
        `front panel: ${this.deps.name} failed; retrying in the background`,
      );
    }
    if (this.stopped || this.retry !== null) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, RETRY_MAX_MS);
    this.retry = this.deps.clock.setTimeout(() => {
      this.retry = null;
      if (this.stopped) return;
      Promise.resolve()
        .then(recover)
        .then(
          () => this.recovered(),
          (err: unknown) => this.failed(err, recover),
        );
    }, wait);
  }

  /** A write went through: ends a failure streak. */
  recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.backoff = RETRY_FIRST_MS;
    this.deps.logger.info({ chip: this.deps.name }, `front panel: ${this.deps.name} answers again`);
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) this.deps.clock.clearTimeout(this.retry);
    this.retry = null;
  }
}
