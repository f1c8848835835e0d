import { SlashCommandBuilder } from 'discord.js';
import { logMessage } from '../src/bot/embeds.js';
import { canAdminister } from '../src/pdu/permissions.js';
import { adminOnly, inGuilds, socketChoices, socketOption } from './options.js';
import type { Command, CommandContext } from './types.js';

const data = adminOnly(inGuilds(new SlashCommandBuilder()))
  .setName('pdu')
  .setDescription('Administer PiPDU (admins)')
  .addSubcommand((sub) => sub.setName('reload').setDescription('Re-read the configuration file'))
  .addSubcommand((sub) =>
    sub
      .setName('log')
      .setDescription('The latest audit log entries')
      .addIntegerOption((option) =>
        option.setName('count').setDescription('how many (default 10)').setMinValue(1).setMaxValue(25),
      ),
  )
  .addSubcommand((sub) =>
    sub.setName('cancel').setDescription('Cancel the pending work on a socket').addStringOption(socketOption),
  );

async function execute(
  interaction: Parameters<Command['execute']>[0],
  context: CommandContext,
): Promise<void> {
  const sub = interaction.options.getSubcommand(true);
  if (sub === 'cancel') {
    let socket: ReturnType<CommandContext['service']['resolve']>;
    try {
      socket = context.service.resolve(interaction.options.getString('socket', true));
    } catch (error) {
      return context.fail(error);
    }
    try {
      // The service checks who may cancel (and audits a refusal).
      const outcome = await context.service.submit({
        socket: socket.number,
        action: 'cancel',
        by: context.by,
      });
      const cancelled = outcome.kind === 'cancel' ? outcome.cancelled.action : 'work';
      await context.respond({
        content: `Cancelled the pending ${cancelled} on socket ${socket.number}.`,
      });
    } catch (error) {
      await context.fail(error);
    }
    return;
  }
  if (sub === 'log') {
    const check = canAdminister(context.by, `/pdu ${sub}`);
    if (!check.ok) return context.refuse(check, sub, null);
    const count = interaction.options.getInteger('count') ?? 10;
    const entries = await context.service.auditLog(count);
    // One message: the newest lines that fit, saying how many were left out.
    await context.respond({ content: logMessage(entries, count, Date.now()) }, { ephemeral: true });
    return;
  }
  try {
    // The daemon's reload checks the admin role itself, and audits.
    await context.respond({ content: await context.reload() }, { ephemeral: true });
  } catch (error) {
    await context.fail(error);
  }
}

/** Autocomplete: only the sockets with pending work. */
async function autocomplete(
  interaction: Parameters<NonNullable<Command['autocomplete']>>[0],
  context: CommandContext,
): Promise<void> {
  const pending = context.service.list().filter((socket) => socket.pending !== null);
  await interaction.respond(
    socketChoices(
      pending,
      interaction.options.getFocused(),
      (socket) =>
        `${socket.number}${socket.name ? ` ${socket.name}` : ''}: ${socket.pending?.action} pending`,
    ),
  );
}

export default { data, execute, autocomplete } satisfies Command;
