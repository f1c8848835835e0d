import { SlashCommandBuilder, type SlashCommandSubcommandBuilder } from 'discord.js';
import { socketInfoEmbed } from '../src/bot/embeds.js';
import { parseDuration } from '../src/config/duration.js';
import type { SocketConfig } from '../src/config/schema.js';
import { PduError } from '../src/errors.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { canRead, type SwitchKind } from '../src/pdu/permissions.js';
import type { PduRequest } from '../src/pdu/request.js';
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
  .addSubcommand((sub) =>
    withSocket(sub.setName('on').setDescription('Switch a socket on')).addBooleanOption((option) =>
      option.setName('force').setDescription('even past alarms.maxCurrent (admins)').setRequired(false),
    ),
  )
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
    const check = canRead(context.by);
    if (!check.ok) return context.refuse(check, 'info', socket.number);
    const { energy } = context;
    const info = service.info(socket.number);
    const embed = energy
      ? socketInfoEmbed(energy.withEnergy(info), socket, {
          history: energy.lastDay(socket.number),
          alarms: energy.activeAlarms().filter((alarm) => alarm.socket === socket.number),
        })
      : socketInfoEmbed(info, socket);
    await context.respond({ embeds: [embed] });
    return;
  }

  const force = interaction.options.getBoolean('force') ?? false;
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
  let request: PduRequest = {
    socket: socket.number,
    action,
    by: context.by,
    options: { force, reason, offTimeMs },
  };
  const preview = service.preview(request);
  if (!preview.ok && preview.id !== 'needsConfirmation') {
    // Refused: the service says why and audits it; nothing is deferred or shown publicly.
    await context.fail(await refusalOf(submitSwitch(service, request)));
    return;
  }
  if (!preview.ok) {
    // What the user confirms is what is requested: a toggle confirmed as an off is an off.
    const effect = action === 'toggle' ? 'off' : action;
    const confirmed = await context.confirm(
      `Socket ${name} is protected. ${describe(effect)} it${force ? ', skipping its shutdown hooks' : ''}?`,
    );
    if (!confirmed) return;
    request = { ...request, action: effect, options: { ...request.options, confirmed: true } };
  }
  const work = (): Promise<SwitchResult> => submitSwitch(service, request);
  if (service.takesAWhile(socket.number, request.action as SwitchKind)) {
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

/** Submits a one-socket request; resolves with its result. */
async function submitSwitch(service: PduService, request: PduRequest): Promise<SwitchResult> {
  const outcome = await service.submit(request);
  if (outcome.kind !== 'switch') throw new PduError('BAD_REQUEST', 'expected a switch');
  return outcome.result;
}

/** The error a request the preview refused fails with (the service audits it). */
async function refusalOf(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
    return new PduError('BAD_REQUEST', 'the request was refused');
  } catch (error) {
    return error;
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
