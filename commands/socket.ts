import { SlashCommandBuilder, type SlashCommandSubcommandBuilder } from 'discord.js';
import { socketInfoEmbed } from '../src/bot/embeds.js';
import { parseDuration } from '../src/config/duration.js';
import type { SocketConfig } from '../src/config/schema.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { canForce, canRead, canSwitch, needsConfirmation, type SwitchKind } from '../src/pdu/permissions.js';
import type { SocketInfo, SwitchResult } from '../src/pdu/types.js';
import { reasonOption, socketChoices, socketOption } from './options.js';
import type { Command, CommandContext } from './types.js';

/** Adds the `socket` option to a subcommand. */
function withSocket(sub: SlashCommandSubcommandBuilder): SlashCommandSubcommandBuilder {
  return sub.addStringOption(socketOption);
}

const data = new SlashCommandBuilder()
  .setName('socket')
  .setDescription('Switch or inspect one socket')
  .setDMPermission(false)
  .addSubcommand((sub) => withSocket(sub.setName('on').setDescription('Switch a socket on')))
  .addSubcommand((sub) =>
    withSocket(sub.setName('off').setDescription('Switch a socket off (after its shutdown hooks)'))
      .addBooleanOption((option) =>
        option.setName('force').setDescription('skip the shutdown hooks (admins)').setRequired(false),
      )
      .addStringOption(reasonOption),
  )
  .addSubcommand((sub) =>
    withSocket(sub.setName('toggle').setDescription('Switch a socket to its other state')),
  )
  .addSubcommand((sub) =>
    withSocket(sub.setName('cycle').setDescription('Switch a socket off, wait, and on again'))
      .addStringOption((option) =>
        option.setName('off_time').setDescription('how long it stays off, like 10s or 1m').setRequired(false),
      )
      .addStringOption(reasonOption),
  )
  .addSubcommand((sub) => withSocket(sub.setName('info').setDescription('Show a socket')));

async function execute(
  interaction: Parameters<Command['execute']>[0],
  context: CommandContext,
): Promise<void> {
  const action = interaction.options.getSubcommand(true) as SwitchKind | 'info';
  const id = interaction.options.getString('socket', true);
  const { service } = context;
  let socket: SocketConfig;
  try {
    socket = service.resolve(id);
  } catch (error) {
    await context.fail(error);
    return;
  }
  if (action === 'info') {
    const check = canRead(context.caller);
    if (!check.ok) return context.refuse(check, 'info', socket.number);
    await context.respond({ embeds: [socketInfoEmbed(service.info(socket.number), socket)] });
    return;
  }

  const isOn = service.info(socket.number).on;
  const check = canSwitch(context.caller, socket, action, isOn);
  if (!check.ok) return context.refuse(check, action, socket.number);
  const force = interaction.options.getBoolean('force') ?? false;
  if (force) {
    const forceCheck = canForce(context.caller, socket);
    if (!forceCheck.ok) return context.refuse(forceCheck, action, socket.number);
  }
  const reason = interaction.options.getString('reason') ?? undefined;
  let offTimeMs: number | undefined;
  const offTime = interaction.options.getString('off_time');
  if (offTime) {
    try {
      offTimeMs = parseDuration(offTime);
    } catch (error) {
      await context.fail(error);
      return;
    }
  }

  const name = socket.name ? `${socket.number} (${socket.name})` : `${socket.number}`;
  if (needsConfirmation(socket, action, isOn)) {
    const confirmed = await context.confirm(
      `Socket ${name} is protected. ${describe(action)} it${force ? ', skipping its shutdown hooks' : ''}?`,
    );
    if (!confirmed) return;
  }
  const work = (): Promise<SwitchResult> =>
    run(service, context, socket.number, action, { force, reason, offTimeMs });
  const direction = action === 'toggle' ? (isOn ? 'off' : 'on') : action;
  if (service.takesAWhile(socket.number, direction)) {
    await context.runLong(socket.number, action, work);
    return;
  }
  try {
    const result = await work();
    await context.respond({ content: outcome(result, name) });
  } catch (error) {
    await context.fail(error);
  }
}

function run(
  service: PduService,
  context: CommandContext,
  socket: number,
  action: SwitchKind,
  options: { force: boolean; reason: string | undefined; offTimeMs: number | undefined },
): Promise<SwitchResult> {
  const { actor } = context;
  switch (action) {
    case 'on':
      return service.on(socket, actor);
    case 'off':
      return service.off(socket, actor, { force: options.force, reason: options.reason });
    case 'toggle':
      return service.toggle(socket, actor);
    case 'cycle':
      return service.cycle(socket, actor, { reason: options.reason, offTimeMs: options.offTimeMs });
  }
}

function describe(action: SwitchKind): string {
  return { on: 'Switch on', off: 'Switch off', toggle: 'Toggle', cycle: 'Power-cycle' }[action];
}

function outcome(result: SwitchResult, name: string): string {
  const state = result.socket.on ? 'on' : 'off';
  if (!result.changed) return `Socket ${name} was already ${state}.`;
  const warnings = result.warnings.length > 0 ? `\n⚠️ ${result.warnings.join('\n⚠️ ')}` : '';
  return `Socket ${name} is now **${state}**.${warnings}`;
}

/** Autocomplete: the configured sockets by number or name, with their state. */
async function autocomplete(
  interaction: Parameters<NonNullable<Command['autocomplete']>>[0],
  context: CommandContext,
): Promise<void> {
  const state = (socket: SocketInfo) =>
    `${socket.on === null ? 'unknown' : socket.on ? 'on' : 'off'}${socket.pending ? ', busy' : ''}`;
  await interaction.respond(
    socketChoices(
      context.service.list(),
      interaction.options.getFocused(),
      (socket) => `${socket.number}${socket.name ? ` ${socket.name}` : ''} (${state(socket)})`,
    ),
  );
}

export default { data, execute, autocomplete } satisfies Command;
