import Bottleneck from 'bottleneck/light.js';
import { type Client, DiscordAPIError, Routes } from 'discord.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { Logger } from '../log.js';
import type { PduService } from '../pdu/pdu-service.js';
import { auditLines, MESSAGE_LIMIT } from './embeds.js';
import { describeError } from './status-message.js';

export interface AuditChannelDeps {
  client: Client;
  channelId: string;
  service: PduService;
  logger: Logger;
  /** Least time between the starts of two posting rounds; default 1000 ms. */
  batchMs?: number;
  /** How long stop() spends posting what is queued; default 3000 ms. */
  stopTimeoutMs?: number;
}

/** Most lines kept waiting (Discord unreachable): older ones are dropped, and that is said in the channel. */
const MAX_QUEUED = 500;

interface Batch {
  lines: string[];
  attempts: number;
}

/**
 * The audit channel: every `action` event of the Pdu service (whatever the
 * interface: Discord, panel, API, restore after `! BOOT`) is posted as its
 * line (who, what, which socket, result; auditLines).
 *
 * - Lines are posted in rounds, on a bottleneck limiter: one round at a
 *   time, starts at least `batchMs` (1 s) apart. A round posts the lines
 *   queued when it starts (the entries that came since the last round,
 *   formatted together: a forced off, an all-sockets request, a run of "no
 *   change" within one round make one line each) in as few messages as fit (≤ 2000 characters each,
 *   whole lines), one request at a time, in order, back to back; lines that
 *   arrive meanwhile wait for the next round. The first line after a quiet
 *   period goes out at once (a few ms later); a burst (all sockets on: 17
 *   lines) makes a handful of messages at most one round a second. discord.js
 *   waits out rate limits.
 * - Failures are logged, never thrown. A message that failed for a transient
 *   reason (5xx after discord.js's retries, a timeout, the network) is tried
 *   once more in the next round, ahead of newer lines; one refused by Discord
 *   (4xx: no access, unknown channel, …) is dropped. Everything stays in
 *   `audit.jsonl` either way.
 * - At most 500 lines wait; past that the oldest are dropped and a line says
 *   how many.
 * - Mentions are never parsed.
 * - `stop()` removes the listener, drops the round waiting for its turn (its
 *   timer with it), lets the one in flight finish, and posts what is queued
 *   at once (all of it for at most `stopTimeoutMs`). No timer is left.
 */
export class AuditChannel {
  private readonly client: Client;
  private readonly channelId: string;
  private readonly service: PduService;
  private readonly logger: Logger;
  private readonly batchMs: number;
  private readonly stopTimeoutMs: number;

  private queue: Batch[] = [];
  /** Entries not formatted yet: the next round takes them all. */
  private entries: AuditEntry[] = [];
  private dropped = 0;
  /** Spaces the rounds; made by start() (a stopped limiter cannot be restarted). */
  private limiter: Bottleneck | null = null;
  /** A round is scheduled and has not started: lines queued now will be in it. */
  private waiting = false;
  private running = false;
  /** stop() is posting what is left: no retries, no limiter. */
  private draining = false;

  constructor(deps: AuditChannelDeps) {
    this.client = deps.client;
    this.channelId = deps.channelId;
    this.service = deps.service;
    this.logger = deps.logger.child({ component: 'discord-audit', channel: deps.channelId });
    this.batchMs = deps.batchMs ?? 1000;
    this.stopTimeoutMs = deps.stopTimeoutMs ?? 3000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.limiter = new Bottleneck({ maxConcurrent: 1, minTime: this.batchMs });
    this.service.events.on('action', this.onAction);
  }

  /** Stops listening and posts what is queued (bounded by `stopTimeoutMs`). Never rejects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.service.events.off('action', this.onAction);
    const limiter = this.limiter;
    this.limiter = null;
    this.waiting = false;
    this.draining = true;
    let bound: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => {
      bound = setTimeout(() => resolve(true), this.stopTimeoutMs);
    });
    try {
      const drained = (async () => {
        // Drops the round waiting for its turn (and its timer); resolves once the one in flight ended.
        await limiter
          ?.stop({ dropWaitingJobs: true })
          .then(() => limiter.disconnect())
          .catch(() => {});
        while (this.draining && (this.queue.length > 0 || this.entries.length > 0)) await this.round();
      })();
      const late = await Promise.race([drained.then(() => false as const), timedOut]);
      if (late) {
        const left = this.queue.reduce((sum, batch) => sum + batch.lines.length, 0) + this.entries.length;
        this.logger.warn(
          { lines: left },
          'stopping: audit lines not posted to Discord in time (they are in the audit log)',
        );
      }
    } finally {
      clearTimeout(bound);
      this.queue = [];
      this.entries = [];
      this.draining = false;
    }
  }

  private readonly onAction = (entry: AuditEntry): void => {
    this.entries.push(entry);
    this.schedule();
  };

  /**
   * The entries that came since the last round, as lines: formatted together
   * (auditLines), so that a forced off, an all-sockets request and runs of
   * "no change" that arrive within one round become one line each.
   */
  private absorb(): void {
    if (this.entries.length === 0) return;
    const entries = this.entries.splice(0);
    let lines: string[];
    try {
      lines = auditLines(entries);
    } catch (error) {
      this.logger.error({ err: describeError(error) }, 'could not format audit entries for Discord');
      return;
    }
    for (const line of lines) this.enqueue(line);
  }

  private enqueue(line: string): void {
    const last = this.queue.at(-1);
    if (last && last.attempts === 0) last.lines.push(line);
    else this.queue.push({ lines: [line], attempts: 0 });
    let queued = this.queue.reduce((sum, batch) => sum + batch.lines.length, 0);
    while (queued > MAX_QUEUED) {
      const oldest = this.queue[0]!;
      oldest.lines.shift();
      if (oldest.lines.length === 0) this.queue.shift();
      this.dropped++;
      queued--;
    }
  }

  /** Schedules a round unless one waits (it will take what is queued when it starts). */
  private schedule(): void {
    const limiter = this.limiter;
    if (!limiter || this.waiting) return;
    this.waiting = true;
    limiter
      .schedule(() => {
        this.waiting = false;
        return this.round();
      })
      .catch(() => {}); // dropped by stop()
  }

  /**
   * Posts the lines queued now, a message's worth at a time, in order. A
   * message to retry goes back to the front of the queue with the rest of
   * the round, for the next round. Never rejects.
   */
  private async round(): Promise<void> {
    this.absorb();
    const batches = this.queue.splice(0);
    while (batches.length > 0) {
      if (!this.running && !this.draining) return; // stop() gave up: those lines are only in the audit log
      const batch = batches[0]!;
      const lines = takeLines(batch.lines, this.dropped);
      this.dropped = 0;
      if (batch.lines.length === 0) batches.shift();
      if (await this.post(lines, batch.attempts)) {
        this.queue.unshift({ lines, attempts: 1 }, ...batches);
        this.schedule();
        return;
      }
    }
  }

  /** Posts one message; true if it failed for a transient reason and is worth one more try. */
  private async post(lines: string[], attempts: number): Promise<boolean> {
    try {
      await this.client.rest.post(Routes.channelMessages(this.channelId), {
        body: { content: lines.join('\n'), allowed_mentions: { parse: [] } },
      });
      return false;
    } catch (error) {
      const refused = error instanceof DiscordAPIError && error.status >= 400 && error.status < 500;
      const retry = !refused && attempts === 0 && !this.draining;
      this.logger.error(
        { err: describeError(error), lines: lines.length },
        retry
          ? 'could not post to the Discord audit channel; trying once more'
          : 'could not post to the Discord audit channel; these lines are only in the audit log',
      );
      return retry;
    }
  }
}

/**
 * Takes whole lines off the front of `lines` while they fit in one message
 * (auditLine keeps each within MESSAGE_LIMIT); a note on dropped lines goes first.
 */
function takeLines(lines: string[], dropped: number): string[] {
  const out: string[] = [];
  if (dropped > 0) out.push(`⚠️ ${dropped} earlier audit lines were not posted (Discord was unreachable).`);
  let size = out.reduce((sum, line) => sum + line.length + 1, 0);
  while (lines.length > 0) {
    const add = (out.length > 0 ? 1 : 0) + lines[0]!.length;
    if (out.length > 0 && size + add > MESSAGE_LIMIT) break;
    out.push(lines.shift()!.slice(0, MESSAGE_LIMIT));
    size += add;
  }
  return out;
}
