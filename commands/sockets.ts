import { SlashCommandBuilder } from 'discord.js';
import type { AuditEntry } from '../src/audit/audit-log.js';
import { allResultEmbed } from '../src/bot/embeds.js';
import { canForce, canSwitchAll } from '../src/pdu/permissions.js';
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
  const check = canSwitchAll(context.caller, action, includeProtected);
  if (!check.ok) return context.refuse(check, `all-${action}`, null);
  if (force) {
    const forceCheck = canForce(context.caller);
    if (!forceCheck.ok) return context.refuse(forceCheck, `all-${action}`, null);
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
      const result: AllResult =
        action === 'on'
          ? await context.service.allOn(context.actor)
          : await context.service.allOff(context.actor, { includeProtected, force, reason });
      return { content: '', embeds: [allResultEmbed(result, { names })] };
    } finally {
      context.service.events.off('action', onAction);
    }
  });
}

export default { data, execute } satisfies Command;
