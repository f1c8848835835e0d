import { SlashCommandBuilder } from 'discord.js';
import type { AuditEntry } from '../src/audit/audit-log.js';
import { allConfirmEmbed, allProgressEmbed, allResultEmbed } from '../src/bot/embeds.js';
import { phaseWords } from '../src/bot/style.js';
import type { StepReport } from '../src/pdu/hooks/phase.js';
import type { PduRequest } from '../src/pdu/request.js';
import type { SocketInfo } from '../src/pdu/types.js';
import { adminOnly, inGuilds, reasonOption } from './options.js';
import type { Command, CommandContext } from './types.js';

const data = adminOnly(inGuilds(new SlashCommandBuilder()))
  .setName('sockets')
  .setDescription('Switch every socket (admins, after confirmation)')
  .addSubcommand((sub) => sub.setName('on').setDescription('Switch every socket on, staggered'))
  .addSubcommand((sub) =>
    sub
      .setName('off')
      .setDescription('Switch every socket off, each after its shutdown steps')
      .addBooleanOption((option) =>
        option.setName('include_protected').setDescription('protected sockets too').setRequired(false),
      )
      .addBooleanOption((option) =>
        option.setName('force').setDescription('skip the shutdown steps').setRequired(false),
      )
      .addStringOption(reasonOption),
  );

/** How often the progress embed is edited at most. */
const PROGRESS_EDIT_MS = 1000;

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
  const { service } = context;
  const preview = service.preview(request);
  if (!preview.ok && preview.id !== 'needsConfirmation') {
    // Refused: the service says why and audits it.
    try {
      await service.submit(request);
    } catch (error) {
      await context.fail(error);
    }
    return;
  }
  const sockets = service.list();
  const confirmedAt = await context.confirm({
    embed: allConfirmEmbed({
      action,
      sockets,
      configs: service.config.sockets,
      includeProtected,
      force,
      reason,
      expiresAt: new Date(Date.now() + context.config.confirmTimeout).toISOString(),
    }),
    label: `Switch every socket ${action}`,
  });
  if (!confirmedAt) return;
  const names = Object.fromEntries(sockets.map((socket) => [socket.number, socket.name]));
  const targets = sockets
    .filter((socket: SocketInfo) => action === 'on' || includeProtected || !socket.protected)
    .map((socket) => socket.number);
  await context.runDeferred(
    async (update, signal) => {
      // The reply follows the sockets as each one's own work ends (at most one edit a second).
      const ended = new Map<
        number,
        { outcome: 'switched' | 'noChange' | 'failed' | 'cancelled'; code?: string; message?: string }
      >();
      const running = new Map<number, string>();
      let timer: NodeJS.Timeout | null = null;
      const show = () => {
        timer = null;
        update({
          content: '',
          embeds: [
            allProgressEmbed({ action, targets, names, ended, running, actor: context.actor, reason }),
          ],
        });
      };
      const later = () => {
        timer ??= setTimeout(show, PROGRESS_EDIT_MS);
      };
      const onAction = (entry: AuditEntry): void => {
        if (entry.actor.id !== context.actor.id || entry.socket === undefined || entry.action !== action)
          return;
        running.delete(entry.socket);
        ended.set(
          entry.socket,
          entry.result === 'ok'
            ? { outcome: entry.details?.changed === false ? 'noChange' : 'switched' }
            : entry.code === 'CANCELLED'
              ? { outcome: 'cancelled' }
              : { outcome: 'failed', code: entry.code, message: entry.message },
        );
        later();
      };
      const onStep = ({ socket, step }: { socket: SocketInfo; step: StepReport }): void => {
        if (!targets.includes(socket.number) || ended.has(socket.number)) return;
        if (step.status === 'running') {
          running.set(socket.number, `${phaseWords(step.phase)} ${step.index}/${step.total}: ${step.label}`);
        }
        later();
      };
      service.events.on('action', onAction);
      service.events.on('step', onStep);
      show();
      try {
        const outcome = await service.submit({
          ...request,
          options: { ...request.options, confirmed: true, signal },
        });
        if (outcome.kind !== 'all') return { content: 'Nothing was switched.' };
        return {
          content: '',
          embeds: [allResultEmbed(outcome.result, { names, actor: context.actor, reason, confirmedAt })],
        };
      } finally {
        if (timer) clearTimeout(timer);
        service.events.off('action', onAction);
        service.events.off('step', onStep);
      }
    },
    { cancellable: { action } },
  );
}

export default { data, execute } satisfies Command;
