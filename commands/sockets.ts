import { SlashCommandBuilder } from 'discord.js';
import type { AuditEntry } from '../src/audit/audit-log.js';
import { allResultEmbed } from '../src/bot/embeds.js';
import type { PduRequest } from '../src/pdu/request.js';
import type { AllResult } from '../src/pdu/types.js';
import { reasonOption } from './options.js';
import type { Command, CommandContext } from './types.js';

const data = new SlashCommandBuilder()
  .setName('sockets')
  .setDescription('Switch every socket (admins, after confirmation)')
  .setDMPermission(false)
  .addSubcommand((sub) => sub.setName('on').setDescription('Switch every socket on, staggered'))
  .addSubcommand((sub) =>
    sub
      .setName('off')
      .setDescription('Switch every socket off, each after its shutdown hooks')
      .addBooleanOption((option) =>
        option.setName('include_protected').setDescription('protected sockets too').setRequired(false),
      )
      .addBooleanOption((option) =>
        option.setName('force').setDescription('skip the shutdown hooks').setRequired(false),
      )
      .addStringOption(reasonOption),
  );

async function execute(
  interaction: Parameters<Command['execute']>[0],
  context: CommandContext,
): Promise<void> {
  const action = interaction.options.getSubcommand(true) as 'on' | 'off';
  const includeProtected = interaction.options.getBoolean('include_protected') ?? false;
  const force = interaction.options.getBoolean('force') ?? false;
  const reason = interaction.options.getString('reason') ?? undefined;
  const request: PduRequest = {
    socket: 'all',
    action,
    by: context.by,
    options: { includeProtected, force, reason },
  };
  const preview = context.service.preview(request);
  if (!preview.ok && preview.id !== 'needsConfirmation') {
    // Refused: the service says why and audits it.
    try {
      await context.service.submit(request);
    } catch (error) {
      await context.fail(error);
    }
    return;
  }
  const what =
    action === 'on'
      ? 'Switch **every socket on** (staggered)?'
      : `Switch **every socket off**${includeProtected ? ', protected ones included' : ' (protected ones stay on)'}${force ? ', skipping their shutdown hooks' : ''}?`;
  if (!(await context.confirm(what))) return;
  const names = Object.fromEntries(context.service.list().map((socket) => [socket.number, socket.name]));
  await context.runDeferred(async (update) => {
    // The reply follows the sockets as each one's own work ends (at most one edit a second).
    const done: string[] = [];
    let last = 0;
    const onAction = (entry: AuditEntry): void => {
      if (entry.actor.id !== context.actor.id || entry.socket === undefined || entry.action !== action)
        return;
      done.push(
        `${entry.result === 'ok' ? '✅' : '❌'} ${entry.socket}${entry.socketName ? ` ${entry.socketName}` : ''}`,
      );
      if (performance.now() - last < 1000) return;
      last = performance.now();
      update({ content: `Switching every socket ${action}… ${done.length} done: ${done.join(' ')}` });
    };
    context.service.events.on('action', onAction);
    try {
      const outcome = await context.service.submit({
        ...request,
        options: { ...request.options, confirmed: true },
      });
      const result: AllResult | null = outcome.kind === 'all' ? outcome.result : null;
      if (!result) return { content: 'Nothing was switched.' };
      return { content: '', embeds: [allResultEmbed(result, { names })] };
    } finally {
      context.service.events.off('action', onAction);
    }
  });
}

export default { data, execute } satisfies Command;
