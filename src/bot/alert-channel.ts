import type { EventEmitter } from 'node:events';
import { type Client, Routes } from 'discord.js';
import type { Logger } from '../log.js';
import type { Alarm, PduEvents } from '../pdu/types.js';
import { alarmMessage } from './embeds.js';
import { describeError } from './status-message.js';

export interface AlertChannelDeps {
  client: Client;
  channelId: string;
  /** Discord role ids mentioned when an alarm is raised. */
  roleIds: readonly string[];
  events: EventEmitter<PduEvents>;
  logger: Logger;
  /** How long stop() waits for the posts in flight; default 3000 ms. */
  stopTimeoutMs?: number;
}

/**
 * The alert channel (`discord.alertChannelId`): each alarm the service
 * raises is posted as one message mentioning `alertRoleIds`; when it clears,
 * that message is edited to say so (no new ping).
 *
 * - Posts and edits go out one at a time, in the order of the events, so an
 *   edit always follows its post. A failure is logged, never thrown (the
 *   alarm is in the audit log either way); a clear whose post failed is
 *   posted as a new message.
 * - Only the configured roles can be mentioned (allowed_mentions), never
 *   users or @everyone.
 * - `stop()` removes the listener and waits (at most `stopTimeoutMs`) for
 *   what is in flight; no timer is left.
 */
export class AlertChannel {
  private readonly deps: AlertChannelDeps;
  private readonly logger: Logger;
  /** The message of each raised alarm, by alarm id. */
  private readonly posted = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  private running = false;

  constructor(deps: AlertChannelDeps) {
    this.deps = deps;
    this.logger = deps.logger.child({ component: 'discord-alerts', channel: deps.channelId });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.deps.events.on('alarm', this.onAlarm);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.deps.events.off('alarm', this.onAlarm);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.deps.stopTimeoutMs ?? 3000);
    });
    await Promise.race([this.chain, late]);
    clearTimeout(timer);
  }

  private readonly onAlarm = (event: { alarm: Alarm; state: 'raised' | 'cleared'; at: string }): void => {
    this.chain = this.chain.then(() => this.send(event));
  };

  private async send({ alarm, state, at }: { alarm: Alarm; state: 'raised' | 'cleared'; at: string }) {
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
