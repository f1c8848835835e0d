import { type Client, DiscordAPIError, Routes } from 'discord.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { Logger } from '../log.js';
import type { PduService } from '../pdu/pdu-service.js';
import { auditLine, MESSAGE_LIMIT } from './embeds.js';
import { describeError } from './status-message.js';

export interface AuditChannelDeps {
  client: Client;
  channelId: string;
  service: PduService;
  logger: Logger;
  /** How long lines are collected after the first one before they are posted together; default 1000 ms. */
  batchMs?: number;
  /** How long stop() spends posting what is queued; default 3000 ms. */
  stopTimeoutMs?: number;
  /** Wait before a batch that failed for a transient reason is tried once more; default 5000 ms. */
  retryMs?: number;
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
 * `auditLine` (who, what, which socket, result, duration).
 *
 * - Lines are collected for `batchMs` (1 s) after the first one, then posted
 *   in as few messages as fit (≤ 2000 characters each, whole lines), one
 *   request at a time, in order. More than one message's worth goes out back
 *   to back; lines that arrive while a post is in flight are collected for
 *   `batchMs` again. A burst (all sockets on: 17 lines) makes one or two
 *   messages; an entry shows about a second after it happened. discord.js
 *   waits out rate limits.
 * - Failures are logged, never thrown. A batch that failed for a transient
 *   reason (5xx after discord.js's retries, a timeout, the network) is tried
 *   once more after `retryMs` (5 s); one refused by Discord (4xx: no access,
 *   unknown channel, …) is dropped. Everything stays in `audit.jsonl` either way.
 * - At most 500 lines wait; past that the oldest are dropped and a line says
 *   how many.
 * - Mentions are never parsed.
 * - `stop()` removes the listener, posts what is queued (for at most
 *   `stopTimeoutMs`), and clears its timers.
 */
export class AuditChannel {
  private readonly client: Client;
  private readonly channelId: string;
  private readonly service: PduService;
  private readonly logger: Logger;
  private readonly batchMs: number;
  private readonly stopTimeoutMs: number;
  private readonly retryMs: number;

  private queue: Batch[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private running = false;
  /** stop() is posting what is left: send without waiting for timers. */
  private draining = false;

  constructor(deps: AuditChannelDeps) {
    this.client = deps.client;
    this.channelId = deps.channelId;
    this.service = deps.service;
    this.logger = deps.logger.child({ component: 'discord-audit', channel: deps.channelId });
    this.batchMs = deps.batchMs ?? 1000;
    this.stopTimeoutMs = deps.stopTimeoutMs ?? 3000;
    this.retryMs = deps.retryMs ?? 5000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.service.events.on('action', this.onAction);
  }

  /** Stops listening and posts what is queued (bounded by `stopTimeoutMs`). Never rejects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.service.events.off('action', this.onAction);
    this.clearTimer();
    this.draining = true;
    let bound: NodeJS.Timeout | undefined;
    const timedOut = new Promise<true>((resolve) => {
      bound = setTimeout(() => resolve(true), this.stopTimeoutMs);
    });
    try {
      const drained = (async () => {
        while (this.sending || this.queue.length > 0) {
          if (this.sending) await this.sending;
          else this.send();
        }
      })();
      const late = await Promise.race([drained.then(() => false as const), timedOut]);
      if (late) {
        const left = this.queue.reduce((sum, batch) => sum + batch.lines.length, 0);
        this.logger.warn(
          { lines: left },
          'stopping: audit lines not posted to Discord in time (they are in the audit log)',
        );
      }
    } finally {
      clearTimeout(bound);
      this.queue = [];
      this.draining = false;
      this.clearTimer();
    }
  }

  private readonly onAction = (entry: AuditEntry): void => {
    let line: string;
    try {
      line = auditLine(entry);
    } catch (error) {
      this.logger.error({ err: describeError(error) }, 'could not format an audit entry for Discord');
      return;
    }
    this.enqueue(line);
    this.arm(this.batchMs);
  };

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

  /** Sets the timer for the next post, unless one is set or a post is in flight. */
  private arm(delayMs: number): void {
    if (!this.running || this.timer !== null || this.sending !== null || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.send();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Posts the next message's worth of lines; when done, arms for what is left or came meanwhile. */
  private send(): void {
    if (this.sending || this.queue.length === 0) return;
    const batch = this.queue[0]!;
    const lines = takeLines(batch.lines, this.dropped);
    this.dropped = 0;
    const more = batch.lines.length > 0;
    if (!more) this.queue.shift();
    const posting = this.post(lines, batch.attempts);
    this.sending = posting;
    void posting.finally(() => {
      this.sending = null;
      // More than one message's worth goes at once; a failed batch waits to be retried; new lines are collected.
      const next = this.queue[0];
      this.arm(next?.attempts ? this.retryMs : more ? 0 : this.batchMs);
    });
  }

  private async post(lines: string[], attempts: number): Promise<void> {
    try {
      await this.client.rest.post(Routes.channelMessages(this.channelId), {
        body: { content: lines.join('\n'), allowed_mentions: { parse: [] } },
      });
    } catch (error) {
      const refused = error instanceof DiscordAPIError && error.status >= 400 && error.status < 500;
      const retry = !refused && attempts === 0 && !this.draining;
      this.logger.error(
        { err: describeError(error), lines: lines.length },
        retry
          ? 'could not post to the Discord audit channel; trying once more'
          : 'could not post to the Discord audit channel; these lines are only in the audit log',
      );
      if (retry) this.queue.unshift({ lines, attempts: 1 });
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
