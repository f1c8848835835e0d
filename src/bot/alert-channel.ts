import type { EventEmitter } from 'node:events';
import { type Client, Routes } from 'discord.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { Logger } from '../log.js';
import type { Alarm, PduEvents, SocketInfo } from '../pdu/types.js';
import { type AlertNews, alarmMessage, alertMessage } from './embeds.js';
import { describeError } from './status-message.js';
import { OFF_DRAW_WATTS } from './style.js';

export interface AlertChannelDeps {
  client: Client;
  channelId: string;
  /** Discord role ids mentioned when something needs a person (not for good news). */
  roleIds: readonly string[];
  events: EventEmitter<PduEvents>;
  logger: Logger;
  /** A link to where the sockets are shown (the live status message), when there is one. */
  link?: () => string | null;
  /** How long after a board reset the restores are collected into one message; default 5000 ms. */
  restoreWindowMs?: number;
  /** How long stop() waits for the posts in flight; default 3000 ms. */
  stopTimeoutMs?: number;
}

/** Hook and board failures worth an alert; refusals, cancels and busy are the asker's business. */
const ALERT_CODES = new Set([
  'SSH_AUTH_FAILED',
  'SSH_HOST_KEY_MISMATCH',
  'SSH_UNREACHABLE',
  'SSH_ERROR',
  'COMMAND_FAILED',
  'HOST_STILL_UP',
  'HOST_STILL_DOWN',
  'POWER_STILL_ON',
  'NO_TELEMETRY',
  'TIMEOUT',
  'BOARD_TIMEOUT',
  'BOARD_ERROR',
]);

/**
 * The alert channel (`discord.alertChannelId`): what needs a person, as new
 * messages (an edit notifies nobody), each saying what happened, the state
 * things are in now, and linking to the status:
 *
 * - the board going offline (with the last known state) and coming back;
 * - a failed pipeline (hook or board failure, not refusals or cancels);
 * - a socket shown off that draws power (once, until it stops);
 * - a board reset, with what was restored (collected for `restoreWindowMs`);
 * - the Energy part's alarms: raised (a new message), cleared (that message edited).
 *
 * Rules: the configured roles are mentioned for bad news only, and only
 * they can be (allowed_mentions). Posts go out one at a time in the order
 * of the events; a failure is logged, never thrown (everything is in the
 * audit log either way). The state shown is what the events said last
 * (telemetry, socket changes). `stop()` removes the listeners, clears the
 * restore window's timer and waits (at most `stopTimeoutMs`) for what is in
 * flight.
 */
export class AlertChannel {
  private readonly deps: AlertChannelDeps;
  private readonly logger: Logger;
  /** The message of each raised alarm, by alarm id. */
  private readonly posted = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  private running = false;
  /** The sockets as the latest telemetry or change showed them. */
  private readonly sockets = new Map<number, SocketInfo>();
  private offlineSince: string | null = null;
  /** Sockets shown off that draw power, already alerted. */
  private readonly drawing = new Set<number>();
  private reset: { at: string; restored: AuditEntry[]; timer: NodeJS.Timeout } | null = null;

  constructor(deps: AlertChannelDeps) {
    this.deps = deps;
    this.logger = deps.logger.child({ component: 'discord-alerts', channel: deps.channelId });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { events } = this.deps;
    events.on('alarm', this.onAlarm);
    events.on('boardOffline', this.onOffline);
    events.on('boardOnline', this.onOnline);
    events.on('boardReset', this.onReset);
    events.on('telemetry', this.onTelemetry);
    events.on('socketChanged', this.onChanged);
    events.on('action', this.onAction);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const { events } = this.deps;
    events.off('alarm', this.onAlarm);
    events.off('boardOffline', this.onOffline);
    events.off('boardOnline', this.onOnline);
    events.off('boardReset', this.onReset);
    events.off('telemetry', this.onTelemetry);
    events.off('socketChanged', this.onChanged);
    events.off('action', this.onAction);
    if (this.reset) clearTimeout(this.reset.timer);
    this.reset = null;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.deps.stopTimeoutMs ?? 3000);
    });
    await Promise.race([this.chain, late]);
    clearTimeout(timer);
  }

  private readonly onAlarm = (event: { alarm: Alarm; state: 'raised' | 'cleared'; at: string }): void => {
    this.chain = this.chain.then(() => this.sendAlarm(event));
  };

  private readonly onTelemetry = ({ sockets }: { sockets: SocketInfo[] }): void => {
    for (const socket of sockets) {
      this.sockets.set(socket.number, socket);
      const draws = socket.on === false && (socket.watts ?? 0) >= OFF_DRAW_WATTS;
      if (draws && !this.drawing.has(socket.number)) {
        this.drawing.add(socket.number);
        this.post({ kind: 'drawingOff', socket });
      } else if (!draws && (socket.on !== false || (socket.watts ?? 0) < OFF_DRAW_WATTS / 2)) {
        this.drawing.delete(socket.number);
      }
    }
  };

  private readonly onChanged = ({ socket }: { socket: SocketInfo }): void => {
    this.sockets.set(socket.number, socket);
  };

  private readonly onOffline = (): void => {
    if (this.offlineSince) return;
    this.offlineSince = new Date().toISOString();
    this.post({ kind: 'offline', since: this.offlineSince, sockets: [...this.sockets.values()] });
  };

  private readonly onOnline = (): void => {
    const since = this.offlineSince;
    this.offlineSince = null;
    // The first connect is not news; coming back after an alert is.
    if (since) this.post({ kind: 'online', since, sockets: [...this.sockets.values()] });
  };

  private readonly onReset = (event: { resetOnOpen: boolean }): void => {
    // A reset as the port opens is the board's DTR auto-reset at start: expected, not news.
    if (event.resetOnOpen || this.reset) return;
    const at = new Date().toISOString();
    const timer = setTimeout(() => {
      const restored = this.reset?.restored ?? [];
      this.reset = null;
      this.post({ kind: 'reset', at, restored });
    }, this.deps.restoreWindowMs ?? 5000);
    this.reset = { at, restored: [], timer };
  };

  private readonly onAction = (entry: AuditEntry): void => {
    if (this.reset && typeof entry.details?.restore === 'string') {
      this.reset.restored.push(entry);
      return;
    }
    if (entry.result !== 'error' || entry.socket === undefined || !ALERT_CODES.has(entry.code ?? '')) return;
    this.post({ kind: 'failed', entry, socket: this.sockets.get(entry.socket) ?? null });
  };

  private post(news: AlertNews): void {
    this.chain = this.chain.then(() => this.send(news));
  }

  private async send(news: AlertNews): Promise<void> {
    const { client, channelId, roleIds } = this.deps;
    const ping = news.kind !== 'online';
    const content = alertMessage(news, {
      roleIds: ping ? roleIds : [],
      link: this.deps.link?.() ?? null,
    });
    try {
      await client.rest.post(Routes.channelMessages(channelId), {
        body: { content, allowed_mentions: { parse: [], roles: ping ? [...roleIds] : [] } },
      });
    } catch (error) {
      this.logger.error(
        { err: describeError(error), alert: news.kind },
        'could not post to the Discord alert channel (it is in the audit log)',
      );
    }
  }

  private async sendAlarm({ alarm, state, at }: { alarm: Alarm; state: 'raised' | 'cleared'; at: string }) {
    const { client, channelId, roleIds } = this.deps;
    const content = alarmMessage(alarm, state, at, state === 'raised' ? roleIds : []);
    try {
      const id = this.posted.get(alarm.id);
      if (state === 'cleared' && id) {
        this.posted.delete(alarm.id);
        await client.rest.patch(Routes.channelMessage(channelId, id), {
          body: { content, allowed_mentions: { parse: [] } },
        });
        return;
      }
      const message = (await client.rest.post(Routes.channelMessages(channelId), {
        body: { content, allowed_mentions: { parse: [], roles: state === 'raised' ? [...roleIds] : [] } },
      })) as { id: string };
      if (state === 'raised') this.posted.set(alarm.id, message.id);
    } catch (error) {
      this.logger.error(
        { err: describeError(error), alarm: alarm.id, state },
        'could not post the alarm to the Discord alert channel (it is in the audit log)',
      );
    }
  }
}
