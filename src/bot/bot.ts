import { randomBytes } from 'node:crypto';
import {
  type APIActionRowComponent,
  type APIComponentInMessageActionRow,
  type APIEmbed,
  type AutocompleteInteraction,
  type ButtonInteraction,
  ButtonStyle,
  type ChatInputCommandInteraction,
  Client,
  type ClientOptions,
  ComponentType,
  Events,
  GatewayIntentBits,
  type Interaction,
  MessageFlags,
  Options,
} from 'discord.js';
import { commands } from '../../commands/index.js';
import { switchFlow } from '../../commands/socket.js';
import type { Command, CommandContext, ReplyPayload, SwitchWork } from '../../commands/types.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { DiscordConfig } from '../config/schema.js';
import type { EnergyView } from '../energy/energy.js';
import { PduError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Actor, Requester } from '../pdu/actor.js';
import type { StepReport } from '../pdu/hooks/phase.js';
import type { PduService } from '../pdu/pdu-service.js';
import { forbiddenError, roleFromGroups, type SwitchKind } from '../pdu/permissions.js';
import type { SocketInfo, SwitchResult } from '../pdu/types.js';
import { AuditChannel } from './audit-channel.js';
import { BoardTimes } from './board-times.js';
import { answeredEmbed, errorMessage, progressEmbed } from './embeds.js';
import { Plan } from './plan.js';
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
  private readonly boardTimes: BoardTimes;
  /** `/sockets` runs that a Cancel button can stop, by interaction id. */
  private readonly allRuns = new Map<string, { action: 'on' | 'off'; abort: AbortController }>();

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
    this.boardTimes = new BoardTimes({ service: deps.service });
    this.statusMessage = deps.config.statusChannelId
      ? new StatusMessage({
          client: this.client,
          channelId: deps.config.statusChannelId,
          service: deps.service,
          logger: this.logger,
          times: () => this.boardTimes.now(),
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

  /**
   * A link to the live status message, for alerts to point at (null without
   * a status channel, or before it is written). The alert channel takes it
   * as its `link`.
   */
  statusLink(): string | null {
    const id = this.statusMessage?.currentMessageId;
    if (!id || !this.config.statusChannelId) return null;
    return `https://discord.com/channels/${this.config.guildId}/${this.config.statusChannelId}/${id}`;
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
    this.boardTimes.start();
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
    for (const run of this.allRuns.values()) run.abort.abort();
    this.boardTimes.stop();
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
    const [kind, target, answer, extra] = button.customId.split(':');
    if (kind === 'confirm' && target) return this.onConfirmClick(button, target, answer === 'yes');
    if ((kind === 'cancel' || kind === 'force') && target)
      return this.onWorkButton(button, kind, Number(target), answer === 'cycle' ? 'cycle' : 'off');
    if ((kind === 'do' || kind === 'retry' || kind === 'retryforce') && target && isSwitch(answer)) {
      // A new request by whoever clicked, answered in a new message: the same checks as the command.
      const offTimeMs = extra && /^\d+$/.test(extra) ? Number(extra) : undefined;
      return switchFlow(this.context(button), target, answer, {
        force: kind === 'retryforce',
        ...(offTimeMs === undefined ? {} : { offTimeMs }),
      });
    }
    if (kind === 'cancelall' && target) return this.onCancelAll(button, target);
    await button.reply({ content: 'This button is no longer in use.', flags: MessageFlags.Ephemeral });
  }

  /**
   * Cancel on a `/sockets` progress message, while its work runs: one
   * `all` + `cancel` request. The service decides who may (whoever may run
   * that all-sockets request), stops the sockets not started yet, cancels
   * the running steps and audits it.
   */
  private async onCancelAll(button: ButtonInteraction, id: string): Promise<void> {
    const run = this.allRuns.get(id);
    if (!run) {
      await button.reply({ content: 'This work has already ended.', flags: MessageFlags.Ephemeral });
      return;
    }
    // One request: the service decides whether this person may stop it, stops it and audits.
    try {
      await this.service.submit({ socket: 'all', action: 'cancel', by: this.requesterOf(button) });
    } catch (error) {
      if (!(error instanceof PduError)) throw error;
      await button.reply({ content: `⛔ ${error.message}`, flags: MessageFlags.Ephemeral });
      return;
    }
    await button.reply({
      content: '✖️ Cancelling: the sockets not started yet stay as they are.',
      flags: MessageFlags.Ephemeral,
    });
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
    direction: 'off' | 'cycle',
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
    // Joins the pending off (or cycle) and skips the rest of its shutdown steps; the
    // progress message shows the end. The work itself was confirmed when it was asked for.
    const forced = this.service.submit({
      socket: socketNumber,
      action: direction,
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

  private context(
    interaction: ChatInputCommandInteraction | AutocompleteInteraction | ButtonInteraction,
  ): CommandContext {
    const by = this.requesterOf(interaction);
    const { actor } = by;
    const bot = this;
    /** After a confirmation the reply is the confirmation message; edits go there. */
    let holdsReply = false;
    const repliable = interaction.isAutocomplete() ? null : interaction;

    const answer = async (payload: ReplyPayload & { ephemeral?: boolean }): Promise<void> => {
      if (!repliable) return;
      const { ephemeral, ...rest } = payload;
      if (holdsReply || repliable.deferred) {
        await repliable.editReply({ components: [], ...rest });
      } else if (repliable.replied) {
        await repliable.followUp({ ...rest, flags: ephemeral ? MessageFlags.Ephemeral : undefined });
      } else {
        await repliable.reply({ ...rest, flags: ephemeral ? MessageFlags.Ephemeral : undefined });
      }
    };
    const defer = async (): Promise<void> => {
      if (!repliable || holdsReply || repliable.deferred || repliable.replied) return;
      await repliable.deferReply();
    };
    const edit = (payload: ReplyPayload) =>
      repliable ? repliable.editReply({ content: '', ...payload }) : Promise.resolve();

    return {
      service: this.service,
      ...(this.energy ? { energy: this.energy } : {}),
      config: this.config,
      by,
      actor,
      logger: this.logger,
      boardTimes: () => bot.boardTimes.now(),
      async refuse(check, action, socket) {
        bot.service.recordRefusal(actor, action, socket, forbiddenError(check));
        await answer({ content: `⛔ ${check.message}`, ephemeral: true });
      },
      async fail(error) {
        if (!(error instanceof PduError)) throw error;
        await answer({ content: errorMessage(error), ephemeral: true });
      },
      async confirm(ask) {
        if (!repliable) return null;
        const id = interaction.id;
        const row = buttons([
          { id: `confirm:${id}:yes`, label: ask.label, style: ButtonStyle.Danger },
          { id: `confirm:${id}:no`, label: ask.cancelLabel ?? 'Cancel', style: ButtonStyle.Secondary },
        ]);
        await repliable.reply({ embeds: [ask.embed], components: [row] });
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
        const at = new Date().toISOString();
        const name = interaction.user.username;
        if (outcome.click) {
          const embed = answeredEmbed(ask.embed, outcome.confirmed ? 'confirmed' : 'cancelled', name, at);
          await outcome.click.update({ embeds: [embed], components: [] });
        } else {
          await repliable
            .editReply({ embeds: [answeredEmbed(ask.embed, 'expired', name, at)], components: [] })
            .catch((error: unknown) =>
              bot.logger.warn({ err: error }, 'could not mark a confirmation expired'),
            );
        }
        return outcome.confirmed ? at : null;
      },
      async runSwitch(work) {
        if (!repliable) return;
        await bot.runSwitch(work, by, { answer, defer, edit, holdsReply: () => holdsReply });
      },
      async runDeferred(work, options = {}) {
        await defer();
        if (!repliable) return;
        const abort = new AbortController();
        const runId = interaction.id;
        const cancel = options.cancellable
          ? [buttons([{ id: `cancelall:${runId}`, label: 'Cancel', style: ButtonStyle.Secondary }])]
          : [];
        if (options.cancellable) bot.allRuns.set(runId, { action: options.cancellable.action, abort });
        let ended = false;
        let edits: Promise<unknown> = Promise.resolve();
        try {
          const payload = await work((update) => {
            edits = edits
              .then(async () => {
                if (!ended) await edit({ components: cancel, ...update });
              })
              .catch(() => undefined);
          }, abort.signal);
          ended = true;
          await edits;
          await edit({ components: [], ...payload });
        } catch (error) {
          ended = true;
          if (!(error instanceof PduError)) throw error;
          await edit({ content: errorMessage(error), embeds: [], components: [] });
        } finally {
          bot.allRuns.delete(runId);
        }
      },
      async respond(payload, options = {}) {
        await answer({ ...payload, ephemeral: options.ephemeral });
      },
      async reload() {
        // Loading the file takes a child process: on a busy Pi that can outlast Discord's 3 s to answer.
        if (repliable && !holdsReply && !repliable.deferred && !repliable.replied) {
          await repliable.deferReply({ flags: MessageFlags.Ephemeral });
        }
        return bot.reload(by);
      },
    };
  }

  /**
   * One switch in one embed (progressEmbed), quick or long. Long work is
   * deferred and edited as its plan advances (at most every 500 ms), with
   * Cancel and — where the service would allow this user to force it —
   * Force. A failure ends with Retry and, again where the service would
   * allow it, Force off. Refusals (the request never acted) are private.
   */
  private async runSwitch(
    work: SwitchWork,
    by: Requester,
    io: {
      answer: (payload: ReplyPayload & { ephemeral?: boolean }) => Promise<void>;
      defer: () => Promise<void>;
      edit: (payload: ReplyPayload) => Promise<unknown>;
      holdsReply: () => boolean;
    },
  ): Promise<void> {
    const { socket, request, direction } = work;
    const number = socket.number;
    const options = request.options ?? {};
    const long = this.service.takesAWhile(number, request.action as SwitchKind);
    const plan = new Plan(socket, direction, options.offTimeMs);
    const base = {
      direction,
      actor: by.actor,
      reason: options.reason,
      ...(work.confirmedAt ? { confirmedAt: work.confirmedAt } : {}),
    };
    const forceCheck = this.service.preview({
      ...request,
      options: { ...options, force: true, confirmed: true },
    });
    const mayForce = direction !== 'on' && forceCheck.ok;
    const runningButtons = buttons([
      { id: `cancel:${number}`, label: 'Cancel', style: ButtonStyle.Secondary },
      ...(mayForce && socket.preOff.length > 0 && !options.force
        ? [{ id: `force:${number}:${direction}`, label: 'Force off', style: ButtonStyle.Danger }]
        : []),
    ]);
    let timer: NodeJS.Timeout | null = null;
    let lastEdit = 0;
    let finished = false;
    let edits: Promise<unknown> = Promise.resolve();
    const show = (): void => {
      timer = null;
      lastEdit = performance.now();
      const embed = progressEmbed({
        ...base,
        socket: this.service.info(number),
        plan: plan.lines,
        state: 'running',
        backOnAt: plan.backOnAt,
      });
      edits = edits
        .then(() => (finished ? undefined : io.edit({ embeds: [embed], components: [runningButtons] })))
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not update a progress message'));
    };
    const later = (): void => {
      if (timer) return;
      timer = setTimeout(show, Math.max(0, PROGRESS_EDIT_MS - (performance.now() - lastEdit)));
    };
    const onStep = ({ socket: changed, step }: { socket: SocketInfo; step: StepReport }): void => {
      if (changed.number !== number) return;
      plan.step(step, new Date().toISOString());
      later();
    };
    let audited: StepReport[] = [];
    const onAction = (entry: AuditEntry): void => {
      // The failed request's audit entry carries the steps it ran (the error does not).
      if (entry.socket !== number || entry.actor.id !== by.actor.id || entry.result !== 'error') return;
      const steps = entry.details?.steps;
      if (Array.isArray(steps)) audited = steps as StepReport[];
    };
    const onChanged = ({ socket: changed, cause }: { socket: SocketInfo; cause: string }): void => {
      if (changed.number !== number || cause !== 'command' || changed.on === null) return;
      plan.relay(changed.on, new Date().toISOString());
      later();
    };
    if (long) {
      await io.defer();
      this.service.events.on('step', onStep);
      this.service.events.on('socketChanged', onChanged);
      show();
    }
    this.service.events.on('action', onAction);
    let result: SwitchResult | null = null;
    let failure: unknown = null;
    try {
      const outcome = await this.service.submit(request);
      if (outcome.kind === 'switch') result = outcome.result;
    } catch (error) {
      failure = error;
    } finally {
      this.service.events.off('step', onStep);
      this.service.events.off('socketChanged', onChanged);
      this.service.events.off('action', onAction);
      if (timer) clearTimeout(timer);
      finished = true;
    }
    await edits;
    if (failure && !(failure instanceof PduError)) throw failure;
    const error = failure as PduError | null;
    if (error && !long && !io.holdsReply() && REFUSALS.has(error.code)) {
      // It never acted: said privately, like any refusal.
      await io.answer({ content: errorMessage(error), ephemeral: true });
      return;
    }
    let embed: APIEmbed;
    let components: APIActionRowComponent<APIComponentInMessageActionRow>[] = [];
    if (result) {
      plan.finish(result.steps, 'done', result.changed);
      embed = progressEmbed({
        ...base,
        socket: result.socket,
        plan: plan.lines,
        state: 'done',
        changed: result.changed,
        warnings: result.warnings,
        ...(result.forcedBy ? { forcedBy: result.forcedBy } : {}),
      });
    } else {
      const cancelled = error?.code === 'CANCELLED';
      plan.finish(audited, cancelled ? 'cancelled' : 'failed', false);
      embed = progressEmbed({
        ...base,
        socket: this.service.info(number),
        plan: plan.lines,
        state: cancelled ? 'cancelled' : 'failed',
        online: this.service.boardOnline,
        ...(error ? { error: { code: error.code, message: error.message } } : {}),
      });
      if (!cancelled) {
        const offTime = options.offTimeMs === undefined ? '' : `:${options.offTimeMs}`;
        const label = socket.name ?? String(number);
        components = [
          buttons([
            { id: `retry:${number}:${direction}${offTime}`, label: 'Retry', style: ButtonStyle.Primary },
            ...(mayForce && !options.force
              ? [
                  {
                    id: `retryforce:${number}:${direction}${offTime}`,
                    label: direction === 'cycle' ? `Force cycle ${label}` : `Force off ${label}`,
                    style: ButtonStyle.Danger,
                  },
                ]
              : []),
          ]),
        ];
      }
    }
    if (long || io.holdsReply()) await io.edit({ embeds: [embed], components });
    else await io.answer({ embeds: [embed], components });
  }
}

/** Errors of a request that never acted: answered privately. */
const REFUSALS = new Set([
  'FORBIDDEN',
  'NEEDS_CONFIRMATION',
  'BUSY',
  'UNKNOWN_SOCKET',
  'BAD_REQUEST',
  'BAD_DURATION',
  'STOPPED',
  'OVERLOAD',
  'BOARD_OFFLINE',
]);

function isSwitch(action: string | undefined): action is SwitchKind {
  return action === 'on' || action === 'off' || action === 'toggle' || action === 'cycle';
}

/** One row of buttons; labels are cut to Discord's 80 characters. */
function buttons(
  list: ReadonlyArray<{ id: string; label: string; style: ButtonStyle }>,
): APIActionRowComponent<APIComponentInMessageActionRow> {
  return {
    type: ComponentType.ActionRow,
    components: list.map((button) => ({
      type: ComponentType.Button,
      custom_id: button.id,
      label: button.label.length > 80 ? `${button.label.slice(0, 79)}…` : button.label,
      style: button.style as ButtonStyle.Primary,
    })),
  };
}

function actorOf(interaction: Interaction): Actor {
  return { kind: 'discord', id: interaction.user.id, name: interaction.user.username };
}
