import {
  ApplicationIntegrationType,
  InteractionContextType,
  PermissionFlagsBits,
  type SlashCommandBuilder,
  type SlashCommandStringOption,
} from 'discord.js';
import type { SocketInfo } from '../src/pdu/types.js';

/** The `socket` option (docs/decisions.md #10): a string, a number or a name, with autocomplete. */
export function socketOption(option: SlashCommandStringOption): SlashCommandStringOption {
  return option
    .setName('socket')
    .setDescription('socket number (1-16) or name')
    .setRequired(true)
    .setAutocomplete(true);
}

/** The optional `reason` option, kept in the audit log. */
export function reasonOption(option: SlashCommandStringOption): SlashCommandStringOption {
  return option
    .setName('reason')
    .setDescription('why, for the audit log')
    .setMaxLength(200)
    .setRequired(false);
}

/**
 * Autocomplete choices: the sockets whose number starts with, or whose name
 * contains, what was typed (all of them when nothing is), at most 25 (Discord's limit).
 */
export function socketChoices(
  sockets: readonly SocketInfo[],
  typed: string,
  label: (socket: SocketInfo) => string,
): Array<{ name: string; value: string }> {
  const text = typed.trim().toLowerCase();
  return sockets
    .filter(
      (socket) =>
        text === '' ||
        String(socket.number).startsWith(text) ||
        (socket.name ?? '').toLowerCase().includes(text),
    )
    .slice(0, 25)
    .map((socket) => ({ name: label(socket), value: socket.name ?? String(socket.number) }));
}

/**
 * Every command lives in the server the bot was installed in: no DMs, no
 * user installs (contexts and integration types replace the deprecated
 * `dm_permission`).
 */
export function inGuilds<T extends SlashCommandBuilder>(builder: T): T {
  builder.setContexts(InteractionContextType.Guild);
  builder.setIntegrationTypes(ApplicationIntegrationType.GuildInstall);
  return builder;
}

/**
 * The permission Discord asks for before it shows an admin command
 * (`default_member_permissions`: Manage Server). It only hides the command;
 * the service still checks the PiPDU role of whoever uses it. A server admin
 * can grant the command to the PiPDU admin role under Server Settings →
 * Integrations.
 */
export const ADMIN_COMMAND_PERMISSION = PermissionFlagsBits.ManageGuild;

export function adminOnly<T extends SlashCommandBuilder>(builder: T): T {
  builder.setDefaultMemberPermissions(ADMIN_COMMAND_PERMISSION);
  return builder;
}
