import { randomBytes } from 'node:crypto';
import {
  ActionRowBuilder,
  type AutocompleteInteraction,
  ButtonBuilder,
  type ButtonInteraction,
  ButtonStyle,
  type ChatInputCommandInteraction,
  Client,
  type ClientOptions,
  Events,
  GatewayIntentBits,
  type Interaction,
  MessageFlags,
  Options,
} from 'discord.js';
import { commands } from '../../commands/index.js';
import type { Command, CommandContext, ReplyPayload } from '../../commands/types.js';
import type { DiscordConfig } from '../config/schema.js';
import type { EnergyView } from '../energy/energy.js';
import { PduError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Actor, Requester } from '../pdu/actor.js';
import type { StepReport } from '../pdu/hooks/phase.js';
import type { PduService } from '../pdu/pdu-service.js';
import { forbiddenError, hasRole, roleFromGroups } from '../pdu/permissions.js';
import type { SwitchResult } from '../pdu/types.js';
import { AuditChannel } from './audit-channel.js';
import { errorMessage, progressEmbed } from './embeds.js';
import { StatusMessage } from './status-message.js';

export interface DiscordBotDeps {
  config: DiscordConfig;
  service: PduService;
  /** From DISCORD_TOKEN; never logged. */
  token: string;
  logger: Logger;
  /** `/pdu reload`: the daemon's reload (it checks the requester is an admin), resolves with a summary. */
  reload: (by: Requester) => Promise<string>;
  /** Extra client options (tests raise `rest.globalRequestsPerSecond`). */
  clientOptions?: Partial<ClientOptions>;
  /** Energy, the last 24 h and alarms for `/status` and `/socket info`; absent: they are not shown. */
  energy?: EnergyView;
}

/** A confirmation waiting for its Confirm / Cancel click. */
interface PendingConfirmation {
  userId: string;
  timer: NodeJS.Timeout;
  settle: (confirmed: boolean, click?: ButtonInteraction) => void;
}

/** How often a live progress reply is edited at most (steps can be quick). */
const PROGRESS_EDIT_MS = 500;
const NO_MENTIONS = { parse: [] };

/**
 * The Discord bot: slash commands, confirmations, live progress, the status
 * message and the audit channel, all over the Pdu service (never the board).
 *
 * Rules:
 * - The constructor wires; `start()` logs in and resolves whether it did: an
 *   invalid token or an unreachable Discord is logged, and the daemon runs on.
 * - No Discord error escapes: an unexpected one answers the user with a short
 *   ephemeral message and an incident id that is in the log.
 * - Every refusal is ephemeral, says what is needed, and is audited.
 * - Caches are limited (no member, user or message caches beyond the bot's
 *   own), so memory stays flat however many people use it.
 * - `stop()` expires pending confirmations, stops the status message and the
 *   audit channel, and destroys the client: no timer outlives it.
 */
export class DiscordBot {
  readonly client: Client;
  private config: DiscordConfig;
  private readonly service: PduService;
  private readonly energy: EnergyView | undefined;
  private readonly token: string;
  private readonly logger: Logger;
  private readonly reload: (by: Requester) => Promise<string>;
  private readonly byName = new Map<string, Command>(commands.map((command) => [command.data.name, command]));
  private readonly confirmations = new Map<string, PendingConfirmation>();
  private readonly statusMessage: StatusMessage | null;
  private readonly auditChannel: AuditChannel | null;

  constructor(deps: DiscordBotDeps) {
    this.config = deps.config;
    this.service = deps.service;
    this.energy = deps.energy;
    this.token = deps.token;
    this.logger = deps.logger.child({ component: 'discord' });
    this.reload = deps.reload;
    const extra = deps.clientOptions ?? {};
    this.client = new Client({
      ...extra,
      intents: [GatewayIntentBits.Guilds],
      rest: { ...extra.rest, api: deps.config.api },
      allowedMentions: NO_MENTIONS,
      makeCache: Options.cacheWithLimits({
        ...Options.DefaultMakeCacheSettings,
        MessageManager: 0,
        ReactionManager: 0,
        PresenceManager: 0,
        ThreadManager: 0,
        VoiceStateManager: 0,
        GuildMemberManager: { maxSize: 0, keepOverLimit: (member) => member.id === member.client.user.id },
        UserManager: { maxSize: 0, keepOverLimit: (user) => user.id === user.client.user.id },
      }),
      sweepers: { ...Options.DefaultSweeperSettings },
    });
    this.statusMessage = deps.config.statusChannelId
      ? new StatusMessage({
          client: this.client,
          channelId: deps.config.statusChannelId,
          service: deps.service,
          logger: this.logger,
        })
      : null;
    this.auditChannel = deps.config.auditChannelId
      ? new AuditChannel({
          client: this.client,
          channelId: deps.config.auditChannelId,
          service: deps.service,
          logger: this.logger,
        })
      : null;
    // A reload's roles and timeouts apply to the next interaction.
    deps.service.events.on('reloaded', this.onReloaded);
    this.client.on(Events.InteractionCreate, (interaction) => {
      void this.handle(interaction);
    });
    this.client.on(Events.Error, (error) => this.logger.error({ err: error }, 'Discord client error'));
    this.client.on(Events.ShardDisconnect, (event) =>
      this.logger.warn({ code: event.code }, 'Discord gateway disconnected'),
    );
    this.client.on(Events.ShardResume, () => this.logger.info('Discord gateway resumed'));
  }

  private readonly onReloaded = ({ config }: { config: { discord?: DiscordConfig } }): void => {
    if (config.discord) this.updateConfig(config.discord);
  };

  /** A reloaded configuration's roles and timeouts apply to the next interaction (channels and API need a restart). */
  updateConfig(config: DiscordConfig): void {
    this.config = {
      ...config,
      api: this.config.api,
      statusChannelId: this.config.statusChannelId,
      auditChannelId: this.config.auditChannelId,
    };
  }

  /** Logs in; resolves false (and logs why) when it cannot: the daemon runs on without Discord. */
  async start(): Promise<boolean> {
    const ready = new Promise<void>((resolve) => this.client.once(Events.ClientReady, () => resolve()));
    try {
      await this.client.login(this.token);
      await ready;
    } catch (error) {
      const invalid =
        /token/i.test(String((error as Error)?.message)) || (error as { code?: unknown }).code === 4004;
      this.logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        invalid
          ? 'Discord refused the bot token (DISCORD_TOKEN): the bot is off, everything else runs on'
          : 'could not connect to Discord: the bot is off, everything else runs on',
      );
      await this.client.destroy();
      return false;
    }
    this.logger.info({ user: this.client.user?.tag }, 'Discord bot online');
    await this.statusMessage?.start();
    this.auditChannel?.start();
    return true;
  }

  async stop(): Promise<void> {
    this.service.events.off('reloaded', this.onReloaded);
    for (const [id, pending] of this.confirmations) {
      clearTimeout(pending.timer);
      this.confirmations.delete(id);
      pending.settle(false);
    }
    await this.statusMessage?.stop();
    await this.auditChannel?.stop();
    // Also while still logging in: destroy() ends the attempt and the heartbeat timers.
    await this.client.destroy();
  }

  // --- interactions ----------------------------------------------------------

  private async handle(interaction: Interaction): Promise<void> {
    try {
      if (interaction.isChatInputCommand()) await this.onCommand(interaction);
      else if (interaction.isAutocomplete()) await this.onAutocomplete(interaction);
      else if (interaction.isButton()) await this.onButton(interaction);
    } catch (error) {
      await this.unexpected(interaction, error);
    }
  }

  private async onCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    const command = this.byName.get(interaction.commandName);
    if (!command) {
      await interaction.reply({
        content: 'This command is not known here (yet).',
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    await command.execute(interaction, this.context(interaction));
  }

  private async onAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    const command = this.byName.get(interaction.commandName);
    if (!command?.autocomplete) {
      await interaction.respond([]);
      return;
    }
    await command.autocomplete(interaction, this.context(interaction));
  }

  private async onButton(button: ButtonInteraction): Promise<void> {
    const [kind, target, answer] = button.customId.split(':');
    if (kind === 'confirm' && target) return this.onConfirmClick(button, target, answer === 'yes');
    if ((kind === 'cancel' || kind === 'force') && target)
      return this.onWorkButton(button, kind, Number(target));
    await button.reply({ content: 'This button is no longer in use.', flags: MessageFlags.Ephemeral });
  }

  private async onConfirmClick(button: ButtonInteraction, id: string, yes: boolean): Promise<void> {
    const pending = this.confirmations.get(id);
    if (!pending) {
      await button.reply({
        content: 'This confirmation has expired or was already answered; nothing was switched.',
        flags: MessageFlags.Ephemeral,
      });
      return;
    }
    if (button.user.id !== pending.userId) {
      await button.reply({
        content: `Only <@${pending.userId}> can answer this confirmation.`,
        flags: MessageFlags.Ephemeral,
        allowedMentions: NO_MENTIONS,
      });
      return;
    }
    clearTimeout(pending.timer);
    this.confirmations.delete(id);
    pending.settle(yes, button);
  }

  /**
   * Cancel and Force on a live progress message: each a request to the
   * service, which checks the clicker (cancel: an admin or an operator of
   * that socket; force: an admin) and audits a refusal.
   */
  private async onWorkButton(
    button: ButtonInteraction,
    kind: 'cancel' | 'force',
    socketNumber: number,
  ): Promise<void> {
    const by = this.requesterOf(button);
    if (kind === 'cancel') {
      try {
        await this.service.submit({ socket: socketNumber, action: 'cancel', by });
        await button.reply({ content: 'Cancelling…', flags: MessageFlags.Ephemeral });
      } catch (error) {
        await button.reply({ content: errorMessage(error), flags: MessageFlags.Ephemeral });
      }
      return;
    }
    // Joins the pending off and skips the rest of its shutdown steps; the progress
    // message shows the end. The off itself was confirmed when it was asked for.
    const forced = this.service.submit({
      socket: socketNumber,
      action: 'off',
      by,
      options: { force: true, confirmed: true },
    });
    forced.catch(() => undefined);
    // A refusal comes at once (checked on arrival); the joined work takes its time.
    const refused = await Promise.race([
      forced.then(
        () => null,
        (error: unknown) =>
          error instanceof PduError && (error.code === 'FORBIDDEN' || error.code === 'BUSY') ? error : null,
      ),
      new Promise<null>((resolve) => setImmediate(() => resolve(null))),
    ]);
    await button.reply({
      content: refused ? errorMessage(refused) : 'Forcing the off: skipping the remaining shutdown steps…',
      flags: MessageFlags.Ephemeral,
    });
  }

  /** An error nobody planned for: logged with an id the user is given. */
  private async unexpected(interaction: Interaction, error: unknown): Promise<void> {
    const incident = randomBytes(4).toString('hex');
    this.logger.error(
      { err: error, incident, interaction: interaction.id },
      'unexpected error answering Discord',
    );
    if (!interaction.isRepliable()) return;
    const content = errorMessage(error, incident);
    try {
      if (interaction.replied || interaction.deferred) {
        await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
      } else {
        await interaction.reply({ content, flags: MessageFlags.Ephemeral });
      }
    } catch (replyError) {
      this.logger.warn({ err: replyError, incident }, 'could not tell the user about the error');
    }
  }

  // --- what a command gets ---------------------------------------------------

  /** Who clicked or typed: their PiPDU role from their Discord roles; Discord confirms protected offs. */
  private requesterOf(interaction: Interaction): Requester {
    const member = interaction.member;
    const ids: string[] = member
      ? Array.isArray(member.roles)
        ? member.roles
        : [...member.roles.cache.keys()]
      : [];
    const names = ids
      .map((id) => interaction.guild?.roles.cache.get(id)?.name)
      .filter((name): name is string => !!name);
    const groups = [...ids, ...names];
    return {
      actor: actorOf(interaction),
      role: roleFromGroups(groups, this.config.roles),
      groups,
      confirms: true,
    };
  }

  private context(interaction: ChatInputCommandInteraction | AutocompleteInteraction): CommandContext {
    const by = this.requesterOf(interaction);
    const { actor } = by;
    const bot = this;
    /** After a confirmation the reply is the confirmation message; edits go there. */
    let holdsReply = false;

    const answer = async (payload: ReplyPayload & { ephemeral?: boolean }): Promise<void> => {
      if (!interaction.isChatInputCommand()) return;
      const { ephemeral, ...rest } = payload;
      if (holdsReply || interaction.deferred) {
        await interaction.editReply({ ...rest, components: [] });
      } else if (interaction.replied) {
        await interaction.followUp({ ...rest, flags: ephemeral ? MessageFlags.Ephemeral : undefined });
      } else {
        await interaction.reply({ ...rest, flags: ephemeral ? MessageFlags.Ephemeral : undefined });
      }
    };
    const defer = async (): Promise<void> => {
      if (!interaction.isChatInputCommand() || holdsReply || interaction.deferred || interaction.replied)
        return;
      await interaction.deferReply();
    };

    return {
      service: this.service,
      ...(this.energy ? { energy: this.energy } : {}),
      config: this.config,
      by,
      actor,
      logger: this.logger,
      async refuse(check, action, socket) {
        bot.service.recordRefusal(actor, action, socket, forbiddenError(check));
        await answer({ content: `🚫 ${check.message}`, ephemeral: true });
      },
      async fail(error) {
        if (!(error instanceof PduError)) throw error;
        await answer({ content: errorMessage(error), ephemeral: true });
      },
      async confirm(prompt) {
        if (!interaction.isChatInputCommand()) return false;
        const id = interaction.id;
        const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder()
            .setCustomId(`confirm:${id}:yes`)
            .setLabel('Confirm')
            .setStyle(ButtonStyle.Danger),
          new ButtonBuilder()
            .setCustomId(`confirm:${id}:no`)
            .setLabel('Cancel')
            .setStyle(ButtonStyle.Secondary),
        );
        const seconds = Math.round(bot.config.confirmTimeout / 1000);
        await interaction.reply({ content: `${prompt}\n-# Expires in ${seconds} s.`, components: [row] });
        holdsReply = true;
        const outcome = await new Promise<{ confirmed: boolean; click?: ButtonInteraction }>((resolve) => {
          const timer = setTimeout(() => {
            bot.confirmations.delete(id);
            resolve({ confirmed: false });
          }, bot.config.confirmTimeout);
          bot.confirmations.set(id, {
            userId: interaction.user.id,
            timer,
            settle: (confirmed, click) => resolve({ confirmed, click }),
          });
        });
        if (outcome.click) {
          if (outcome.confirmed) {
            await outcome.click.update({
              content: `${prompt}\n✅ Confirmed by ${interaction.user.username}.`,
              components: [],
            });
          } else {
            await outcome.click.update({
              content: `${prompt}\n✖️ Cancelled; nothing was switched.`,
              components: [],
            });
          }
        } else {
          await interaction
            .editReply({
              content: `${prompt}\n⌛ Not confirmed in time; nothing was switched.`,
              components: [],
            })
            .catch((error: unknown) =>
              bot.logger.warn({ err: error }, 'could not mark a confirmation expired'),
            );
        }
        return outcome.confirmed;
      },
      async runLong(socketNumber, action, work) {
        await defer();
        if (!interaction.isChatInputCommand()) return;
        const chat = interaction;
        const steps: StepReport[] = [];
        const admin = hasRole(by.role, 'admin');
        const buttons = new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder()
            .setCustomId(`cancel:${socketNumber}`)
            .setLabel('Cancel')
            .setStyle(ButtonStyle.Secondary),
          ...(admin && action !== 'on'
            ? [
                new ButtonBuilder()
                  .setCustomId(`force:${socketNumber}`)
                  .setLabel('Force')
                  .setStyle(ButtonStyle.Danger),
              ]
            : []),
        );
        let timer: NodeJS.Timeout | null = null;
        let lastEdit = 0;
        let finished = false;
        let edits: Promise<unknown> = Promise.resolve();
        const show = (): void => {
          timer = null;
          lastEdit = performance.now();
          const embed = progressEmbed({
            socket: bot.service.info(socketNumber),
            action,
            actor: actor.name ?? actor.id,
            steps,
            state: 'running',
          });
          edits = edits
            .then(() =>
              finished ? undefined : chat.editReply({ content: '', embeds: [embed], components: [buttons] }),
            )
            .catch((error: unknown) =>
              bot.logger.warn({ err: error }, 'could not update a progress message'),
            );
        };
        const onStep = ({ socket, step }: { socket: { number: number }; step: StepReport }): void => {
          if (socket.number !== socketNumber) return;
          const at = steps.findIndex((known) => known.phase === step.phase && known.index === step.index);
          if (at === -1) steps.push(step);
          else steps[at] = step;
          if (timer) return;
          timer = setTimeout(show, Math.max(0, PROGRESS_EDIT_MS - (performance.now() - lastEdit)));
        };
        bot.service.events.on('step', onStep);
        show();
        let result: SwitchResult | null = null;
        let failure: unknown = null;
        try {
          result = await work();
        } catch (error) {
          failure = error;
        } finally {
          bot.service.events.off('step', onStep);
          if (timer) clearTimeout(timer);
          finished = true;
        }
        await edits;
        const final = result
          ? progressEmbed({
              socket: result.socket,
              action,
              actor: actor.name ?? actor.id,
              steps: result.steps,
              state: 'done',
              warnings: result.warnings,
            })
          : progressEmbed({
              socket: bot.service.info(socketNumber),
              action,
              actor: actor.name ?? actor.id,
              steps,
              state: failure instanceof PduError && failure.code === 'CANCELLED' ? 'cancelled' : 'failed',
              error:
                failure instanceof PduError
                  ? { code: failure.code, message: failure.message }
                  : { code: 'ERROR', message: 'unexpected error' },
            });
        await chat.editReply({ content: '', embeds: [final], components: [] });
        if (failure && !(failure instanceof PduError)) throw failure;
      },
      async runDeferred(work) {
        await defer();
        if (!interaction.isChatInputCommand()) return;
        const chat = interaction;
        try {
          const payload = await work((update) => {
            void chat.editReply({ ...update, components: [] }).catch(() => undefined);
          });
          await chat.editReply({ ...payload, components: [] });
        } catch (error) {
          if (!(error instanceof PduError)) throw error;
          await chat.editReply({ content: errorMessage(error), embeds: [], components: [] });
        }
      },
      async respond(payload, options = {}) {
        await answer({ ...payload, ephemeral: options.ephemeral });
      },
      reload: () => bot.reload(by),
    };
  }
}

function actorOf(interaction: Interaction): Actor {
  return { kind: 'discord', id: interaction.user.id, name: interaction.user.username };
}
