import {
  type APIActionRowComponent,
  type APIComponentInMessageActionRow,
  ButtonStyle,
  ComponentType,
  SlashCommandBuilder,
  type SlashCommandSubcommandBuilder,
} from 'discord.js';
import { confirmEmbed, confirmLabel, socketInfoEmbed } from '../src/bot/embeds.js';
import { parseDuration } from '../src/config/duration.js';
import type { SocketConfig } from '../src/config/schema.js';
import { PduError } from '../src/errors.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { canRead, type SwitchKind } from '../src/pdu/permissions.js';
import { directionOf, type PduRequest } from '../src/pdu/request.js';
import type { SocketInfo } from '../src/pdu/types.js';
import { inGuilds, reasonOption, socketChoices, socketOption } from './options.js';
import type { Command, CommandContext } from './types.js';

/** Adds the `socket` option to a subcommand. */
function withSocket(sub: SlashCommandSubcommandBuilder): SlashCommandSubcommandBuilder {
  return sub.addStringOption(socketOption);
}

/** `force` on the switches that can go off: skips the shutdown steps (admins; the service checks). */
function withForce(sub: SlashCommandSubcommandBuilder, description: string): SlashCommandSubcommandBuilder {
  return sub.addBooleanOption((option) =>
    option.setName('force').setDescription(description).setRequired(false),
  );
}

const data = inGuilds(new SlashCommandBuilder())
  .setName('socket')
  .setDescription('Switch or inspect one socket')
  .addSubcommand((sub) =>
    withForce(
      withSocket(sub.setName('on').setDescription('Switch a socket on')),
      'even past alarms.maxCurrent (admins)',
    ),
  )
  .addSubcommand((sub) =>
    withForce(
      withSocket(sub.setName('off').setDescription('Switch a socket off (after its shutdown steps)')),
      'skip the shutdown steps (admins)',
    ).addStringOption(reasonOption),
  )
  .addSubcommand((sub) =>
    withForce(
      withSocket(sub.setName('toggle').setDescription('Switch a socket to its other state')),
      'if it goes off, skip the shutdown steps (admins)',
    ).addStringOption(reasonOption),
  )
  .addSubcommand((sub) =>
    withForce(
      withSocket(sub.setName('cycle').setDescription('Switch a socket off, wait, and on again')),
      'skip the shutdown steps (admins)',
    )
      .addStringOption((option) =>
        option.setName('off_time').setDescription('how long it stays off, like 10s or 1m').setRequired(false),
      )
      .addStringOption(reasonOption),
  )
  .addSubcommand((sub) => withSocket(sub.setName('info').setDescription('Show a socket')))
  .addSubcommand((sub) =>
    withSocket(sub.setName('cancel').setDescription('Cancel the work running on a socket')),
  );

async function execute(
  interaction: Parameters<Command['execute']>[0],
  context: CommandContext,
): Promise<void> {
  const action = interaction.options.getSubcommand(true) as SwitchKind | 'info' | 'cancel';
  const id = interaction.options.getString('socket', true);
  if (action === 'info') return showInfo(context, id);
  if (action === 'cancel') return cancelWork(context, id);
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
  await switchFlow(context, id, action, {
    force: interaction.options.getBoolean('force') ?? false,
    reason: interaction.options.getString('reason') ?? undefined,
    offTimeMs,
  });
}

/**
 * One switch, from a command or a button (On/Off/Cycle, Retry, Force off):
 * one request to the service. `preview` says whether it would be refused
 * (then the service refuses it, says why and audits it) or needs a
 * confirmation (asked with a question naming what happens); the service
 * decides everything again when the request acts.
 */
export async function switchFlow(
  context: CommandContext,
  id: string,
  action: SwitchKind,
  options: { force?: boolean; reason?: string; offTimeMs?: number; confirmed?: boolean },
): Promise<void> {
  const { service } = context;
  let socket: SocketConfig;
  try {
    socket = service.resolve(id);
  } catch (error) {
    await context.fail(error);
    return;
  }
  let request: PduRequest = { socket: socket.number, action, by: context.by, options };
  const preview = service.preview(request);
  if (!preview.ok && preview.id !== 'needsConfirmation') {
    // Refused: the service says why and audits it; nothing is deferred or shown publicly.
    await context.fail(await refusalOf(service, request));
    return;
  }
  let confirmedAt: string | undefined;
  if (!preview.ok) {
    // What the user confirms is what is requested: a toggle confirmed as an off is an off.
    const effect = action === 'toggle' ? 'off' : action;
    const info = service.info(socket.number);
    const expiresAt = new Date(Date.now() + context.config.confirmTimeout).toISOString();
    const at = await context.confirm({
      embed: confirmEmbed({
        socket: info,
        config: socket,
        direction: effect === 'on' ? 'on' : effect,
        force: options.force,
        reason: options.reason,
        offTimeMs: options.offTimeMs,
        expiresAt,
      }),
      label: confirmLabel(effect === 'on' ? 'on' : effect, info),
      cancelLabel: effect === 'cycle' ? 'Cancel' : 'Keep it on',
    });
    if (!at) return;
    confirmedAt = at;
    request = { ...request, action: effect, options: { ...options, confirmed: true } };
  }
  const direction = directionOf(request.action as SwitchKind, service.info(socket.number).on);
  await context.runSwitch({ socket, request, direction, ...(confirmedAt ? { confirmedAt } : {}) });
}

/** The error a request the preview refused fails with (the service audits it). */
async function refusalOf(service: PduService, request: PduRequest): Promise<unknown> {
  try {
    await service.submit(request);
    return new PduError('BAD_REQUEST', 'the request was refused');
  } catch (error) {
    return error;
  }
}

async function showInfo(context: CommandContext, id: string): Promise<void> {
  const { service, energy } = context;
  let socket: SocketConfig;
  try {
    socket = service.resolve(id);
  } catch (error) {
    return context.fail(error);
  }
  const check = canRead(context.by);
  if (!check.ok) return context.refuse(check, 'info', socket.number);
  const info = service.info(socket.number);
  const entries = await service.auditLog(200);
  const last = entries
    .filter(
      (entry) =>
        entry.socket === socket.number &&
        entry.result === 'ok' &&
        entry.details?.changed !== false &&
        ['on', 'off', 'toggle', 'cycle'].includes(entry.action),
    )
    .at(-1);
  const extras = {
    lastSwitch: last ? { actor: last.actor, time: last.time, action: last.action } : null,
    offline: !service.boardOnline,
  };
  const embed = energy
    ? socketInfoEmbed(energy.withEnergy(info), socket, {
        ...extras,
        history: energy.lastDay(socket.number),
        alarms: energy.activeAlarms().filter((alarm) => alarm.socket === socket.number),
      })
    : socketInfoEmbed(info, socket, extras);
  const row = switchButtons(context, info);
  await context.respond({ embeds: [embed], ...(row ? { components: [row] } : {}) });
}

/**
 * On / Off / Cycle under `/socket info`, for the switches the service would
 * let this user ask for now (preview; a confirmation still counts). Each
 * click is a new request by whoever clicks, checked by the service.
 */
function switchButtons(
  context: CommandContext,
  info: SocketInfo,
): APIActionRowComponent<APIComponentInMessageActionRow> | null {
  const actions: Array<{
    action: SwitchKind;
    label: string;
    style: ButtonStyle.Success | ButtonStyle.Secondary | ButtonStyle.Danger;
  }> = [
    { action: 'on', label: 'On', style: ButtonStyle.Success },
    { action: 'off', label: 'Off', style: info.protected ? ButtonStyle.Danger : ButtonStyle.Secondary },
    { action: 'cycle', label: 'Cycle', style: ButtonStyle.Secondary },
  ];
  const allowed = actions.filter(({ action }) => {
    const preview = context.service.preview({ socket: info.number, action, by: context.by });
    return preview.ok || preview.id === 'needsConfirmation';
  });
  if (allowed.length === 0) return null;
  return {
    type: ComponentType.ActionRow,
    components: allowed.map(({ action, label, style }) => ({
      type: ComponentType.Button,
      custom_id: `do:${info.number}:${action}`,
      label,
      style,
    })),
  };
}

async function cancelWork(context: CommandContext, id: string): Promise<void> {
  let socket: SocketConfig;
  try {
    socket = context.service.resolve(id);
  } catch (error) {
    return context.fail(error);
  }
  try {
    // The service checks who may cancel (and audits a refusal).
    const outcome = await context.service.submit({ socket: socket.number, action: 'cancel', by: context.by });
    const cancelled = outcome.kind === 'cancel' ? outcome.cancelled.action : 'work';
    await context.respond({
      content: `✖️ Cancelled the ${cancelled} on socket ${socket.name ? `${socket.number} · ${socket.name}` : socket.number}.`,
    });
  } catch (error) {
    await context.fail(error);
  }
}

/** Autocomplete: the configured sockets by number or name, with their state. */
async function autocomplete(
  interaction: Parameters<NonNullable<Command['autocomplete']>>[0],
  context: CommandContext,
): Promise<void> {
  const online = context.service.boardOnline;
  const state = (socket: SocketInfo) =>
    `${!online ? 'last known ' : ''}${socket.on === null ? 'unknown' : socket.on ? 'on' : 'off'}${socket.pending ? ', busy' : ''}`;
  const sub = interaction.options.getSubcommand(false);
  const sockets = context.service.list().filter((socket) => sub !== 'cancel' || socket.pending !== null);
  await interaction.respond(
    socketChoices(
      sockets,
      interaction.options.getFocused(),
      (socket) => `${socket.number}${socket.name ? ` ${socket.name}` : ''} (${state(socket)})`,
    ),
  );
}

export default { data, execute, autocomplete } satisfies Command;
