import type {
  APIEmbed,
  AutocompleteInteraction,
  ChatInputCommandInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { DiscordConfig } from '../src/config/schema.js';
import type { EnergyView } from '../src/energy/energy.js';
import type { PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { Actor, Requester } from '../src/pdu/actor.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import type { Check } from '../src/pdu/permissions.js';
import type { SwitchResult } from '../src/pdu/types.js';

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
   * Asks the invoking user to confirm with Confirm / Cancel buttons that only
   * they can press, for `config.confirmTimeout`. Resolves true once confirmed
   * (the message is then the one the work's progress goes to); false when
   * cancelled or expired (the message says so).
   */
  confirm(prompt: string): Promise<boolean>;
  /**
   * Runs work that may take a while (hooks, cycle): the reply is deferred at
   * once (unless a confirmation already holds one), then edited as the steps
   * advance, with Cancel and, for admins, Force buttons while it runs; the
   * final edit says the outcome.
   */
  runLong(socket: number, action: string, work: () => Promise<SwitchResult>): Promise<void>;
  /**
   * Runs other work that may take a while (all sockets): deferred at once
   * (unless a confirmation holds the reply); `update` edits the reply as it
   * advances; the value it resolves with is the final edit. Errors are answered.
   */
  runDeferred(work: (update: (payload: ReplyPayload) => void) => Promise<ReplyPayload>): Promise<void>;
  /** Answers with the outcome of work that finished at once (or edits the confirmation). */
  respond(payload: ReplyPayload, options?: { ephemeral?: boolean }): Promise<void>;
  /** The daemon's reload, by this user; rejects with the file's errors (the running config stays). */
  reload(): Promise<string>;
}

export interface ReplyPayload {
  content?: string;
  embeds?: APIEmbed[];
}
