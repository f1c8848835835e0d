import type {
  APIActionRowComponent,
  APIComponentInMessageActionRow,
  APIEmbed,
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { DiscordConfig, SocketConfig } from '../src/config/schema.js';
import type { EnergyView } from '../src/energy/energy.js';
import type { PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { Actor, Requester } from '../src/pdu/actor.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import type { Check } from '../src/pdu/permissions.js';
import type { PduRequest } from '../src/pdu/request.js';

/**
 * A slash command: one module per command under `commands/`, listed in
 * `commands/index.ts`, which the bot and `deploy-commands.ts` both import.
 * `data` is what Discord registers; `execute` answers it (and must answer:
 * reply, defer or refuse); `autocomplete` answers the focused option.
 */
export interface Command {
  data: { name: string; toJSON(): RESTPostAPIChatInputApplicationCommandsJSONBody };
  execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void>;
  autocomplete?(interaction: AutocompleteInteraction, context: CommandContext): Promise<void>;
}

/**
 * What the bot hands a command: the service, who is asking, and the bot's
 * reply helpers. A command turns the user's words into one PduRequest `by`
 * the user and submits it; the service decides and audits (it may ask
 * `service.preview()` first, to know whether to confirm).
 */
export interface CommandContext {
  service: PduService;
  /** Energy, the last 24 h and alarms, where the daemon runs the energy part. */
  energy?: EnergyView;
  config: DiscordConfig;
  /** The user as a requester: actor, PiPDU role from their Discord roles, groups; Discord confirms. */
  by: Requester;
  actor: Actor;
  logger: Logger;
  /**
   * Refuses a read or an admin command (not a switch: the service refuses
   * those) with an ephemeral message saying what is needed, and audits the
   * attempt (action, socket).
   */
  refuse(check: Check & { ok: false }, action: string, socket: number | null): Promise<void>;
  /** Answers a PduError (unknown socket, busy, offline...) with an ephemeral message. */
  fail(error: PduError | unknown): Promise<void>;
  /**
   * Asks the invoking user to confirm with a question embed and two buttons
   * only they can press (the first named for the action, `label`), for
   * `config.confirmTimeout`. Resolves with the ISO time it was confirmed
   * (the message is then the one the work goes to, the answer kept on it);
   * null when cancelled or expired (the message says so).
   */
  confirm(ask: { embed: APIEmbed; label: string; cancelLabel?: string }): Promise<string | null>;
  /**
   * Runs one switch request and shows it in the same embed style whether it
   * is quick or long: long work (hooks, a cycle) is deferred at once and
   * edited as the plan advances, with Cancel and (where the service would
   * allow it) Force; a failure ends with Retry and Force off buttons. A
   * refusal (FORBIDDEN, BUSY, …) is answered privately.
   */
  runSwitch(work: SwitchWork): Promise<void>;
  /**
   * Runs other work that may take a while (all sockets): deferred at once
   * (unless a confirmation holds the reply); `update` edits the reply as it
   * advances (a Cancel button on it aborts `signal` and cancels the running
   * steps, for whoever the service lets cancel); the value it resolves with
   * is the final edit. Errors are answered.
   */
  runDeferred(
    work: (update: (payload: ReplyPayload) => void, signal: AbortSignal) => Promise<ReplyPayload>,
    options?: { cancellable?: { action: 'on' | 'off' } },
  ): Promise<void>;
  /** When the board went offline (null: it is online) and when the latest power reading came. */
  boardTimes(): { offlineSince: string | null; lastReadingAt: string | null };
  /** Answers with the outcome of work that finished at once (or edits the confirmation). */
  respond(payload: ReplyPayload, options?: { ephemeral?: boolean }): Promise<void>;
  /** The daemon's reload, by this user; rejects with the file's errors (the running config stays). */
  reload(): Promise<string>;
}

export interface ReplyPayload {
  content?: string;
  embeds?: APIEmbed[];
  components?: APIActionRowComponent<APIComponentInMessageActionRow>[];
}

/** One switch, as runSwitch takes it: the request, and what the plan shown is made of. */
export interface SwitchWork {
  socket: SocketConfig;
  request: PduRequest;
  /** The direction expected now (the service decides it when the request acts). */
  direction: 'on' | 'off' | 'cycle';
  /** The asker confirmed it (ISO time). */
  confirmedAt?: string;
}
