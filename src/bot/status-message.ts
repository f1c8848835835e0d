import Bottleneck from 'bottleneck/light.js';
import {
  type APIEmbed,
  type APIMessage,
  type Client,
  DiscordAPIError,
  MessageType,
  makeURLSearchParams,
  RESTJSONErrorCodes,
  Routes,
} from 'discord.js';
import type { Logger } from '../log.js';
import type { PduService } from '../pdu/pdu-service.js';
import { statusEmbed, statusTitles } from './embeds.js';

export interface StatusMessageDeps {
  client: Client;
  channelId: string;
  service: PduService;
  logger: Logger;
  /** When the board went offline and the latest reading came (shown while offline). */
  times?: () => { offlineSince: string | null; lastReadingAt: string | null };
  /** Least time between two requests that write the message; default 2000 ms. */
  minIntervalMs?: number;
  /** Least time between two refreshes caused by power readings alone; default 30 s. */
  telemetryRefreshMs?: number;
}

/** How many of the channel's latest messages are searched for the bot's previous status message. */
const SEARCH_LIMIT = 20;
/** How long stop() waits for a write in flight before it returns anyway. */
const STOP_WAIT_MS = 2000;

/**
 * The live status message: one `statusEmbed` in the status channel, kept up
 * to date whoever changes the sockets (Discord, front panel, API, restore
 * after `! BOOT`).
 *
 * - **Start**: the newest status message the bot itself posted among the
 *   channel's latest 20 messages is reused (edited), so restarts do not pile
 *   up messages; without one, a new message is posted. A status message is a
 *   plain bot message (not an interaction reply) whose embed has this PDU's
 *   status title (online or offline). When the bot may not read the channel history, it posts.
 * - **Changes** (`socketChanged`, `pending`, `boardOnline`, `boardOffline`,
 *   `boardReset`) schedule a write on a bottleneck limiter: one at a time,
 *   starts at least `minIntervalMs` apart. The first change after a quiet
 *   period goes out at once (a few ms later: the limiter yields to timers,
 *   so changes emitted together make one edit); changes during the interval,
 *   or while a write is in flight, make one edit when it ends. A burst of 16
 *   changes therefore gives 1–2 edits. Each write renders the state as it is
 *   when it starts, so a change while a write waits needs no write of its
 *   own: at most one waits. (That is kept here, not with bottleneck's
 *   `highWater`: each job handed to bottleneck costs a few ms of its timer
 *   yields, which a burst of 32 events turns into a late first edit, and in
 *   2.19.5 its `LEAK` strategy races with its own dequeue and can lose the
 *   write, "Invalid job status null, expected QUEUED".) A write skipped as
 *   unchanged (below) still counts as a start for the interval.
 * - **Power readings** alone (`telemetry`) refresh it at most every
 *   `telemetryRefreshMs` (30 s).
 * - A write whose embed (timestamp aside) equals the last one written is
 *   skipped: nothing visible changed. The embed's timestamp is therefore the
 *   time of the last visible change.
 * - **Deleted** by someone (the edit fails with 10008 Unknown Message): a new
 *   message is posted at once, in the same write. The deletion is noticed at
 *   the next write (the Guilds intent brings no MESSAGE_DELETE), i.e. at the
 *   next visible change or power refresh.
 * - **Any other Discord error** (5xx after discord.js's retries, 403, a
 *   timeout…) is logged and never thrown; the next change tries again. The
 *   first failure of a streak is logged as an error, the rest at debug, and
 *   the recovery at info.
 * - Mentions are never parsed (`allowed_mentions: { parse: [] }`).
 * - `stop()` removes the listeners, drops the waiting write (its timer with
 *   it) and waits (at most 2 s) for a write in flight; nothing runs after it.
 *
 * It writes through the client's REST manager (`client.rest`), so it needs
 * no message or channel cache.
 */
export class StatusMessage {
  private readonly client: Client;
  private readonly channelId: string;
  private readonly service: PduService;
  private readonly logger: Logger;
  private readonly minIntervalMs: number;
  private readonly telemetryRefreshMs: number;
  private readonly times: () => { offlineSince: string | null; lastReadingAt: string | null };

  private messageId: string | null = null;
  /** The channel history was searched for a previous status message (once per start). */
  private searched = false;
  /** The embed last written (timestamp left out), to skip writes that change nothing. */
  private lastKey: string | null = null;
  /** performance.now() of the last flush, written or skipped: what telemetry refreshes count from. */
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  /** Spaces the writes; made by start() (a stopped limiter cannot be restarted). */
  private limiter: Bottleneck | null = null;
  /** A write is scheduled and has not started rendering: later changes will be in it. */
  private waiting = false;
  private running = false;
  private failures = 0;

  constructor(deps: StatusMessageDeps) {
    this.client = deps.client;
    this.channelId = deps.channelId;
    this.service = deps.service;
    this.logger = deps.logger.child({ component: 'discord-status', channel: deps.channelId });
    this.minIntervalMs = deps.minIntervalMs ?? 2000;
    this.telemetryRefreshMs = deps.telemetryRefreshMs ?? 30_000;
    this.times = deps.times ?? (() => ({ offlineSince: null, lastReadingAt: null }));
  }

  /** The id of the status message, once written or found. */
  get currentMessageId(): string | null {
    return this.messageId;
  }

  /** Subscribes to the service and writes the message (reusing the previous one). Never rejects. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.searched = false;
    this.messageId = null;
    this.lastKey = null;
    const { events } = this.service;
    events.on('socketChanged', this.onChange);
    events.on('pending', this.onChange);
    events.on('boardOnline', this.onChange);
    events.on('boardOffline', this.onChange);
    events.on('boardReset', this.onChange);
    events.on('telemetry', this.onTelemetry);
    this.limiter = new Bottleneck({ maxConcurrent: 1, minTime: this.minIntervalMs });
    // Power readings before the first write completes must not queue a refresh: the first write is one.
    this.lastFlushAt = performance.now();
    await this.schedule();
  }

  /** Removes the listeners and timers; waits (bounded) for a write in flight. Never rejects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const { events } = this.service;
    events.off('socketChanged', this.onChange);
    events.off('pending', this.onChange);
    events.off('boardOnline', this.onChange);
    events.off('boardOffline', this.onChange);
    events.off('boardReset', this.onChange);
    events.off('telemetry', this.onTelemetry);
    const limiter = this.limiter;
    this.limiter = null;
    this.waiting = false;
    if (!limiter) return;
    // Drops a write that waits (and its timer); resolves once the write in flight, if any, ended.
    const stopped = limiter
      .stop({ dropWaitingJobs: true })
      .then(() => limiter.disconnect())
      .catch(() => {});
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      stopped,
      new Promise<void>((resolve) => {
        bound = setTimeout(resolve, STOP_WAIT_MS);
      }),
    ]);
    clearTimeout(bound);
  }

  private readonly onChange = (): void => {
    if (!this.waiting) void this.schedule();
  };

  private readonly onTelemetry = (): void => {
    if (performance.now() - this.lastFlushAt < this.telemetryRefreshMs) return;
    this.onChange();
  };

  /** Schedules a write; resolves when it is done, or dropped by stop(). Never rejects. */
  private async schedule(): Promise<void> {
    const limiter = this.limiter;
    if (!limiter) return;
    this.waiting = true;
    await limiter
      .schedule(() => {
        this.waiting = false;
        return this.flush();
      })
      .catch(() => {}); // dropped by stop()
  }

  /** Renders the status and writes it unless nothing visible changed. Run by the limiter only; never rejects. */
  private async flush(): Promise<void> {
    if (!this.running) return;
    this.lastFlushAt = performance.now();
    let embed: APIEmbed;
    try {
      embed = statusEmbed(this.service.status(), { time: new Date().toISOString(), ...this.times() });
    } catch (error) {
      // A bug, not Discord: logged, and the daemon runs on.
      this.logger.error({ err: error }, 'could not render the status message');
      return;
    }
    const key = JSON.stringify({ ...embed, timestamp: null });
    if (this.messageId !== null && key === this.lastKey) return;
    await this.write(embed, key);
  }

  /** Edits the message, or finds or posts it. Logs failures; never rejects. */
  private async write(embed: APIEmbed, key: string): Promise<void> {
    const body = { embeds: [embed], allowed_mentions: { parse: [] } };
    try {
      if (this.messageId === null && !this.searched) {
        this.messageId = await this.findPrevious(this.service.status().name);
        this.searched = true;
      }
      if (this.messageId !== null) {
        try {
          await this.client.rest.patch(Routes.channelMessage(this.channelId, this.messageId), { body });
        } catch (error) {
          if (!isCode(error, RESTJSONErrorCodes.UnknownMessage)) throw error;
          this.logger.info(
            { messageId: this.messageId },
            'the status message was deleted: posting a new one',
          );
          this.messageId = null;
        }
      }
      if (this.messageId === null) {
        const message = (await this.client.rest.post(Routes.channelMessages(this.channelId), {
          body,
        })) as APIMessage;
        this.messageId = message.id;
        this.logger.debug({ messageId: message.id }, 'posted the status message');
      }
      this.lastKey = key;
      if (this.failures > 0) this.logger.info('the status message is up to date again');
      this.failures = 0;
    } catch (error) {
      // Written again at the next change, whatever it is.
      this.lastKey = null;
      this.failures++;
      const fields = { err: describeError(error), failures: this.failures };
      if (this.failures === 1) {
        this.logger.error(
          fields,
          'could not update the Discord status message; trying again at the next change',
        );
      } else {
        this.logger.debug(fields, 'could not update the Discord status message');
      }
    }
  }

  /**
   * The newest plain message of the bot's among the channel's latest ones
   * whose embed has this status title; null when there is none, or when the
   * bot may not read the history (then a new one is posted).
   */
  private async findPrevious(name: string): Promise<string | null> {
    const botId = this.client.user?.id;
    const titles = Object.values(statusTitles(name));
    if (!botId) return null;
    let messages: APIMessage[];
    try {
      messages = (await this.client.rest.get(Routes.channelMessages(this.channelId), {
        query: makeURLSearchParams({ limit: SEARCH_LIMIT }),
      })) as APIMessage[];
    } catch (error) {
      if (error instanceof DiscordAPIError && error.status === 403) {
        this.logger.warn(
          { err: describeError(error) },
          'cannot read the status channel history to reuse the previous status message: posting a new one',
        );
        return null;
      }
      throw error;
    }
    // Discord lists the newest first; sort by id anyway (snowflakes grow with time).
    const newestFirst = [...messages].sort((a, b) => compareSnowflakes(b.id, a.id));
    const previous = newestFirst.find(
      (message) =>
        message.author?.id === botId &&
        message.type === MessageType.Default &&
        !message.webhook_id &&
        !message.interaction_metadata &&
        titles.includes(message.embeds?.[0]?.title ?? ''),
    );
    if (previous) this.logger.debug({ messageId: previous.id }, 'reusing the previous status message');
    return previous?.id ?? null;
  }
}

function isCode(error: unknown, code: number): boolean {
  return error instanceof DiscordAPIError && error.code === code;
}

function compareSnowflakes(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** What to log of a Discord failure: its message, and the API code and status when there are. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof DiscordAPIError) {
    return { message: error.message, code: error.code, status: error.status, method: error.method };
  }
  if (error instanceof Error) return { message: error.message, name: error.name };
  return { message: String(error) };
}
