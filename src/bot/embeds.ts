import { type APIEmbed, type APIEmbedField, escapeMarkdown } from 'discord.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { SocketConfig } from '../config/schema.js';
import { PduError } from '../errors.js';
import { describeActor } from '../pdu/actor.js';
import { formatMs } from '../pdu/hooks/abortable.js';
import { describeStep } from '../pdu/hooks/index.js';
import type { HookPhase, StepReport } from '../pdu/hooks/phase.js';
import type { Alarm, AllResult, EnergyFigures, PduStatus, PendingWork, SocketInfo } from '../pdu/types.js';

/**
 * What the bot shows, as pure functions over the Pdu service's types: plain
 * `APIEmbed` objects (discord.js accepts them wherever it takes an embed) and
 * message lines. Rules every function keeps:
 *
 * - Deterministic: nothing reads the clock; times come from the input and are
 *   shown as Discord timestamps (`<t:…:R>`), which each client renders.
 * - Within Discord's limits whatever the input (EMBED_LIMITS, and 2000
 *   characters for a message): long texts are cut with `…`, long lists end
 *   with "… and N more".
 * - Text that users or configs provide (reasons, names, error messages, step
 *   labels) is markdown-escaped and cannot mention anyone.
 */

/** Discord's embed limits (characters). `total` counts title, description, fields, footer and author. */
export const EMBED_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  total: 6000,
} as const;

/** Discord's limit on a message's content. */
export const MESSAGE_LIMIT = 2000;

export const COLORS = {
  ok: 0x57f287,
  warn: 0xfee75c,
  error: 0xed4245,
  running: 0x5865f2,
  neutral: 0x99aab5,
} as const;

// ------------------------------------------------------------------ status

export interface StatusEmbedOptions {
  /** Default: `⚡ <PDU name>`. */
  title?: string;
  /** ISO time the status was taken: the embed's timestamp. None: no timestamp. */
  time?: string;
  /** The PDU's energy, and its total power over the last 24 h (a sparkline): when the energy part runs. */
  energy?: EnergyFigures;
  history?: readonly number[];
  alarms?: readonly Alarm[];
}

/** What `/socket info` shows beyond the service's word: the energy part's figures. */
export interface SocketInfoExtras {
  /** The socket's power over the last 24 h, oldest first (a sparkline). */
  history?: readonly number[];
  alarms?: readonly Alarm[];
}

/** Longest socket name shown in full in the status table. */
const TABLE_NAME_WIDTH = 16;
/** Most characters of one pending socket's details field. */
const PENDING_FIELD_MAX = 300;

/**
 * `/status` and the live status message: every socket in a code-block table
 * in the description (state icon, number, name, on/off with `*` when
 * assumed, watts, notes: 🔒 protected, ⏳ pending action and step), the
 * board (online or offline, driver, firmware) and total power above it, and
 * one field per socket with pending work (who, since when, the step running).
 * Colour: red with the board offline, yellow while work is pending, green
 * otherwise.
 */
export function statusEmbed(status: PduStatus, options: StatusEmbedOptions = {}): APIEmbed {
  const sockets = [...status.sockets].sort((a, b) => a.number - b.number);
  const pending = sockets.filter((socket) => socket.pending !== null);
  const anyAssumed = sockets.some((socket) => socket.assumed);
  const lines = [boardLine(status), powerLine(status)];
  if (options.energy) lines.push(`**Energy** ${energyText(options.energy)}`);
  if (options.history && options.history.length > 1) {
    lines.push(
      `**Last 24 h** \`${sparkline(options.history)}\` peak ${formatWatts(Math.max(...options.history))}`,
    );
  }
  for (const alarm of options.alarms ?? []) lines.push(alarmLine(alarm));
  if (!status.board.online) lines.push('⚠️ The board is offline: states shown are the last known.');
  if (!status.board.reportsState) {
    lines.push('⚠️ This board cannot report its state: each one is what PiPDU last sent.');
  }
  lines.push(codeBlock(statusTable(sockets)));
  const legend = [
    anyAssumed ? '`*` assumed' : null,
    sockets.some((socket) => socket.protected) ? '🔒 protected' : null,
    pending.length > 0 ? '⏳ pending' : null,
  ].filter((part) => part !== null);
  if (legend.length > 0) lines.push(legend.join(' · '));

  const embed: APIEmbed = {
    title: cut(options.title ?? `⚡ ${status.name}`, EMBED_LIMITS.title),
    description: joinLines(lines, EMBED_LIMITS.description),
    color: !status.board.online ? COLORS.error : pending.length > 0 ? COLORS.warn : COLORS.ok,
    footer: { text: cut(`${status.name} · ${status.board.driver} board`, EMBED_LIMITS.footer) },
  };
  if (options.time) embed.timestamp = options.time;
  const fields = pendingFields(pending, EMBED_LIMITS.total - embedSize(embed) - 50);
  if (fields.length > 0) embed.fields = fields;
  return fitTotal(embed);
}

function boardLine(status: PduStatus): string {
  const { board } = status;
  const parts = [board.online ? '🟢 online' : '🔴 offline', board.driver];
  if (board.identity) {
    parts.push(
      safe(`${board.identity.protocol} firmware ${board.identity.firmware}`, 80),
      `${board.identity.channels} channels`,
    );
  } else {
    parts.push('not reached yet');
  }
  return `**Board** ${parts.join(' · ')}`;
}

function powerLine(status: PduStatus): string {
  const on = status.sockets.filter((socket) => socket.on === true).length;
  const total = status.totalWatts === null ? 'no power readings' : `${formatWatts(status.totalWatts)} total`;
  return `**Power** ${total} · ${on} of ${status.sockets.length} sockets on · ${status.mainsVoltage} V · apparent (A × V)`;
}

/** The table rows; socket names are `[a-z0-9-]` (config schema), so nothing in them can end the code block. */
function statusTable(sockets: readonly SocketInfo[]): string {
  const nameWidth = Math.max(
    4,
    ...sockets.map((socket) => Math.min(TABLE_NAME_WIDTH, socket.name?.length ?? 1)),
  );
  const header = `    # ${'name'.padEnd(nameWidth)} state     power`;
  const rows = sockets.map((socket) => {
    const name = cut(socket.name ?? '-', TABLE_NAME_WIDTH).padEnd(nameWidth);
    const state = `${stateWord(socket.on)}${socket.assumed ? '*' : ''}`.padEnd(5);
    const notes = [socket.protected ? '🔒' : null, socket.pending ? pendingNote(socket.pending) : null]
      .filter((note) => note !== null)
      .join(' ');
    const line = `${stateIcon(socket.on)} ${String(socket.number).padStart(2)} ${name} ${state} ${formatWatts(socket.watts).padStart(9)}`;
    return notes ? `${line}  ${notes}` : line;
  });
  return [header, ...rows].join('\n');
}

/** `⏳ cycle · before off 2/3 (+1 queued)`: short, for the table (no user text in it). */
function pendingNote(pending: PendingWork): string {
  const parts = [`⏳ ${pending.action}`];
  if (pending.step)
    parts.push(`${phaseWords(pending.step.phase)} ${pending.step.index}/${pending.step.total}`);
  let note = parts.join(' · ');
  if (pending.requests > 1) note += ` (+${pending.requests - 1} queued)`;
  return note;
}

/** One field per pending socket, its value shortened so that all of them fit in `budget` characters. */
function pendingFields(pending: readonly SocketInfo[], budget: number): APIEmbedField[] {
  const shown = pending.slice(0, EMBED_LIMITS.fields);
  if (shown.length === 0) return [];
  const each = Math.max(40, Math.min(PENDING_FIELD_MAX, Math.floor(budget / shown.length) - 40));
  return shown.map((socket) => {
    const work = socket.pending!;
    const lines = [
      `${work.action} by ${safe(actorName(work.actor), 80)}, since ${discordTime(work.since, 'R')}`,
    ];
    if (work.step) lines.push(stepLine(work.step, 'running', 200));
    return {
      name: cut(`⏳ ${socketLabel(socket)}`, EMBED_LIMITS.fieldName),
      value: joinLines(lines, each),
      inline: false,
    };
  });
}

// ------------------------------------------------------------------ one socket

/**
 * `/socket info`: state (with assumed and pending), power, channel, restore
 * policy, protection, who may switch it, cycle off-time and each hook phase's
 * steps. `info` is the live state, `socket` its configuration.
 */
export function socketInfoEmbed(
  info: SocketInfo,
  socket: SocketConfig,
  extras: SocketInfoExtras = {},
): APIEmbed {
  const lines = [
    `${stateIcon(info.on)} **${stateWord(info.on)}**${info.assumed ? ' (assumed: the board cannot report it)' : ''}`,
  ];
  for (const alarm of extras.alarms ?? []) lines.push(alarmLine(alarm));
  if (info.changedAt) lines.push(`changed ${discordTime(info.changedAt, 'R')}`);
  if (info.pending) {
    const work = info.pending;
    lines.push(
      `⏳ ${work.action} by ${safe(actorName(work.actor), 80)}, since ${discordTime(work.since, 'R')}`,
    );
    if (work.step) lines.push(stepLine(work.step, 'running', 300));
  }
  const fields: APIEmbedField[] = [
    { name: 'Power', value: powerText(info), inline: true },
    ...(info.energy ? [{ name: 'Energy', value: energyText(info.energy), inline: true }] : []),
    ...(extras.history && extras.history.length > 1
      ? [
          {
            name: 'Last 24 h',
            value: `\`${sparkline(extras.history)}\` peak ${formatWatts(Math.max(...extras.history))}`,
            inline: false,
          },
        ]
      : []),
    { name: 'Channel', value: String(info.channel), inline: true },
    { name: 'After power loss', value: restoreText(info.restore), inline: true },
    { name: 'Protected', value: info.protected ? '🔒 yes: off and cycle need an admin' : 'no', inline: true },
    { name: 'Who may switch it', value: whoMaySwitch(socket), inline: true },
    { name: 'Cycle off-time', value: formatMs(socket.offTime), inline: true },
  ];
  const phases: HookPhase[] = ['preOff', 'postOff', 'preOn', 'postOn'];
  for (const phase of phases) {
    const steps = socket[phase];
    if (steps.length === 0) continue;
    const stepLines = steps.map((step, i) => `${i + 1}. ${safe(describeStep(step), 200)}`);
    fields.push({
      name: `Hooks ${phaseWords(phase)}`,
      value: joinLines(stepLines, EMBED_LIMITS.fieldValue),
      inline: false,
    });
  }
  if (phases.some((phase) => socket[phase].length > 0)) {
    fields.push({
      name: 'On hook failure',
      value: `${socket.onFailure === 'abort' ? 'abort (the relay is not switched)' : 'continue (a warning)'} · whole pipeline within ${formatMs(socket.hookTimeout)}`,
      inline: false,
    });
  }
  return fitTotal({
    title: cut(`Socket ${socketLabel(info)}`, EMBED_LIMITS.title),
    description: joinLines(lines, EMBED_LIMITS.description),
    color: info.pending ? COLORS.warn : info.on ? COLORS.ok : COLORS.neutral,
    fields,
  });
}

/** The apparent power (what the board measures, A × V) and, with a power factor set, the real power estimate. */
function powerText(info: SocketInfo): string {
  if (info.watts === null && info.currentMa === null) return 'no readings';
  const parts = [formatWatts(info.watts)];
  if (info.currentMa !== null) parts.push(`${(info.currentMa / 1000).toFixed(2)} A`);
  let text = `${parts.join(' · ')}\napparent (A × V)`;
  if (info.powerFactor !== 1 && info.realWatts !== null) {
    text += `\n≈ ${formatWatts(info.realWatts)} real (power factor ${info.powerFactor})`;
  }
  return text;
}

/** `0.42 kWh today · 8.1 kWh this month · 120 kWh in all`. */
export function energyText(energy: EnergyFigures): string {
  return `${formatKwh(energy.todayKwh)} today · ${formatKwh(energy.monthKwh)} this month · ${formatKwh(energy.totalKwh)} in all`;
}

function formatKwh(kwh: number): string {
  if (kwh < 10) return `${kwh.toFixed(2)} kWh`;
  if (kwh < 100) return `${kwh.toFixed(1)} kWh`;
  return `${Math.round(kwh)} kWh`;
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** Values as a one-line bar chart (▁..█ from the lowest to the highest), at most 48 characters (averaged). */
export function sparkline(values: readonly number[], width = 48): string {
  if (values.length === 0) return '';
  const per = Math.max(1, Math.ceil(values.length / width));
  const points: number[] = [];
  for (let i = 0; i < values.length; i += per) {
    const chunk = values.slice(i, i + per);
    points.push(chunk.reduce((a, b) => a + b, 0) / chunk.length);
  }
  const min = Math.min(...points);
  const max = Math.max(...points);
  return points
    .map((v) => SPARKS[max === min ? 0 : Math.round(((v - min) / (max - min)) * (SPARKS.length - 1))])
    .join('');
}

function alarmLine(alarm: Alarm): string {
  return `${alarm.severity === 'critical' ? '🚨' : '⚠️'} ${safe(alarm.message, 300)} (since ${discordTime(alarm.since, 'R')})`;
}

/**
 * The alert channel's message for an alarm: raised (mentioning `roleIds`)
 * or, edited in place, cleared with the worst value it reached.
 */
export function alarmMessage(
  alarm: Alarm,
  state: 'raised' | 'cleared',
  at: string,
  roleIds: readonly string[],
): string {
  const mentions = roleIds.map((id) => `<@&${id}>`).join(' ');
  if (state === 'raised') {
    const icon = alarm.severity === 'critical' ? '🚨' : '⚠️';
    return cut(
      `${icon} **Alarm** ${safe(alarm.message, 1500)} (since ${discordTime(alarm.since, 'f')})${mentions ? ` ${mentions}` : ''}`,
      MESSAGE_LIMIT,
    );
  }
  return cut(
    `✅ **Cleared** ${discordTime(at, 'f')}: ~~${safe(alarm.message, 1500)}~~ (worst ${alarm.worst} ${alarm.unit}, raised ${discordTime(alarm.since, 'f')})`,
    MESSAGE_LIMIT,
  );
}

function restoreText(restore: SocketInfo['restore']): string {
  if (restore === 'last') return 'back to its last state';
  return `switched ${restore}`;
}

/** Who may switch (docs/decisions.md #2), as the socket's config applies it. */
function whoMaySwitch(socket: SocketConfig): string {
  const roles =
    socket.roles.length > 0 ? cut(socket.roles.map((role) => safe(role, 60)).join(', '), 300) : null;
  if (socket.protected) {
    return roles ? `admins; operators with ${roles} may switch it on` : 'admins only';
  }
  return roles ? `admins, and operators with ${roles}` : 'admins and operators';
}

// ------------------------------------------------------------------ progress

export interface ProgressInput {
  socket: SocketInfo;
  action: string;
  /** Who asked, as people should read it (a display name, or describeActor's text). */
  actor: string;
  /** Every step known so far: from `step` events while running, the result's or error's at the end. */
  steps: readonly StepReport[];
  state: 'running' | 'done' | 'failed' | 'cancelled';
  error?: { code: string; message: string };
  warnings?: readonly string[];
}

/**
 * The reply a long switch keeps editing: an outcome line (working, done with
 * the socket's new state, failed with the error, cancelled), then each step
 * with its icon, phase, position, label and time (or why it did not run), then
 * the warnings. Running: blue; done: green (yellow with warnings); failed:
 * red; cancelled: grey.
 */
export function progressEmbed(input: ProgressInput): APIEmbed {
  const lines = [outcomeLine(input)];
  if (input.steps.length > 0) {
    lines.push('', ...input.steps.map((step) => stepLine(step, input.state, 300)));
  }
  const warnings = input.warnings ?? [];
  if (warnings.length > 0) lines.push('', ...warnings.map((warning) => `⚠️ ${safe(warning, 300)}`));
  const color = {
    running: COLORS.running,
    done: warnings.length > 0 ? COLORS.warn : COLORS.ok,
    failed: COLORS.error,
    cancelled: COLORS.neutral,
  }[input.state];
  const title = cut(`Socket ${socketLabel(input.socket)}: ${input.action}`, EMBED_LIMITS.title);
  const footer = cut(`asked by ${input.actor}`, 200);
  return fitTotal({
    title,
    description: joinLines(lines, EMBED_LIMITS.description),
    color,
    footer: { text: footer },
  });
}

function outcomeLine(input: ProgressInput): string {
  const error = input.error ? `${input.error.code}: ${safe(input.error.message, 600)}` : null;
  switch (input.state) {
    case 'running':
      return '⏳ **Working…**';
    case 'done':
      return `✅ **Done**: socket ${socketLabel(input.socket)} is ${stateIcon(input.socket.on)} ${stateWord(input.socket.on)}${input.socket.assumed ? ' (assumed)' : ''}`;
    case 'failed':
      return `❌ **Failed**${error ? `: ${error}` : ''}`;
    case 'cancelled':
      return `🚫 **Cancelled**: nothing more was switched${error ? ` (${error})` : ''}`;
  }
}

const STEP_ICONS: Record<StepReport['status'], string> = {
  running: '⏳',
  ok: '✅',
  tolerated: '⚠️',
  failed: '❌',
  skipped: '⏭️',
  cancelled: '🚫',
};

/**
 * `✅ before off 1/3 · ssh pi@nas: sudo shutdown -h now · 1.2 s · exit 0`.
 * A step not started yet is "waiting" while the work runs, "not run" after.
 */
function stepLine(step: StepReport, state: ProgressInput['state'], max: number): string {
  const notStarted = step.status === 'skipped' && step.startedAt === null && !step.summary;
  const icon = notStarted ? (state === 'running' ? '◻️' : '➖') : STEP_ICONS[step.status];
  const parts = [`${icon} ${phaseWords(step.phase)} ${step.index}/${step.total}`, safe(step.label, 120)];
  if (notStarted) {
    parts.push(state === 'running' ? 'waiting' : 'not run');
  } else if (step.status === 'running') {
    parts.push(step.startedAt ? `running since ${discordTime(step.startedAt, 'R')}` : 'running');
  } else if (step.durationMs !== null) {
    parts.push(formatMs(step.durationMs));
  }
  if (step.error) parts.push(`${step.error.code}: ${safe(step.error.message, 200)}`);
  else if (step.summary) parts.push(safe(step.summary, 120));
  return cutLine(parts.join(' · '), max);
}

// ------------------------------------------------------------------ all sockets

export interface AllResultOptions {
  /** Socket names by number, for the sockets whose outcome carries none (failures, skipped). */
  names?: Readonly<Record<number, string | null | undefined>>;
}

/**
 * `/sockets on|off`: one line per socket (switched, already so, failed with
 * its error, left alone because protected), in number order; the footer
 * counts them. Green when all succeeded, red when all failed, yellow between.
 */
export function allResultEmbed(result: AllResult, options: AllResultOptions = {}): APIEmbed {
  const name = (number: number, fromResult?: string | null): string => {
    const known = fromResult ?? options.names?.[number] ?? null;
    return known ? `${number} (${known})` : String(number);
  };
  const rows: { number: number; line: string }[] = [];
  let switched = 0;
  let unchanged = 0;
  let failed = 0;
  for (const outcome of result.outcomes) {
    if (outcome.ok) {
      const { result: one } = outcome;
      const label = name(outcome.socket, one.socket.name);
      if (one.changed) {
        switched++;
        const extras = [formatMs(one.durationMs)];
        if (one.forcedBy) extras.push('forced');
        if (one.warnings.length > 0) extras.push(`⚠️ ${plural(one.warnings.length, 'warning')}`);
        rows.push({ number: outcome.socket, line: `✅ ${label} ${result.action} · ${extras.join(' · ')}` });
      } else {
        unchanged++;
        rows.push({ number: outcome.socket, line: `➖ ${label} already ${result.action}` });
      }
    } else {
      failed++;
      rows.push({
        number: outcome.socket,
        line: cutLine(
          `❌ ${name(outcome.socket)} · ${outcome.error.code}: ${safe(outcome.error.message, 160)}`,
          240,
        ),
      });
    }
  }
  for (const number of result.skipped) {
    rows.push({ number, line: `⏭️ ${name(number)} left alone: protected` });
  }
  rows.sort((a, b) => a.number - b.number);
  const total = result.outcomes.length;
  const color = failed === 0 ? COLORS.ok : failed === total ? COLORS.error : COLORS.warn;
  const counts = [
    `${switched} switched`,
    `${unchanged} already ${result.action}`,
    `${failed} failed`,
    result.skipped.length > 0 ? `${result.skipped.length} left alone` : null,
    formatMs(result.durationMs),
  ].filter((part) => part !== null);
  return fitTotal({
    title: `All sockets ${result.action}`,
    description: joinLines(
      rows.map((row) => row.line),
      EMBED_LIMITS.description,
    ),
    color,
    footer: { text: counts.join(' · ') },
  });
}

// ------------------------------------------------------------------ audit and errors

/**
 * One line for the audit channel:
 * `✅ **alice** (discord) off socket 5 (nas) · ok · 1.2 s · forced · reason: "maintenance"`.
 * Who (name, or id, and the interface), what, which socket, the result (the
 * error code and message on failure), how long it took, and the details worth
 * reading (reason, force, warnings, what a cancel stopped, what all-* skipped).
 */
export function auditLine(entry: AuditEntry): string {
  const icon = entry.result === 'ok' ? '✅' : entry.code === 'FORBIDDEN' ? '🚫' : '❌';
  const who = `**${safe(entry.actor.name ?? entry.actor.id, 80)}** (${entry.actor.kind})`;
  const where =
    entry.socket === undefined
      ? ''
      : ` socket ${entry.socketName ? `${entry.socket} (${safe(entry.socketName, 40)})` : entry.socket}`;
  const parts = [`${icon} ${who} ${safe(entry.action, 40)}${where}`];
  parts.push(
    entry.result === 'ok'
      ? 'ok'
      : `${safe(entry.code ?? 'ERROR', 40)}${entry.message ? `: ${safe(entry.message, 400)}` : ''}`,
  );
  parts.push(formatMs(entry.durationMs));
  parts.push(...auditDetails(entry.details ?? {}));
  return cutLine(parts.join(' · '), MESSAGE_LIMIT);
}

function auditDetails(details: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (details.changed === false) out.push('no change');
  if (details.force === true) out.push('forced');
  if (typeof details.forcedBy === 'string') out.push(`forced by ${safe(details.forcedBy, 80)}`);
  if (typeof details.cancelled === 'string') {
    const by = typeof details.by === 'string' ? ` started by ${safe(details.by, 80)}` : '';
    out.push(`cancelled ${safe(details.cancelled, 20)}${by}`);
  }
  if (Array.isArray(details.warnings) && details.warnings.length > 0) {
    out.push(`⚠️ ${plural(details.warnings.length, 'warning')}`);
  }
  if (Array.isArray(details.skipped) && details.skipped.length > 0) {
    out.push(`left alone: ${safe(details.skipped.join(', '), 80)}`);
  }
  if (typeof details.offTimeMs === 'number') out.push(`off-time ${formatMs(details.offTimeMs)}`);
  if (typeof details.reason === 'string' && details.reason.trim()) {
    out.push(`reason: “${safe(details.reason, 300)}”`);
  }
  return out;
}

/**
 * A short message for the user who asked. A PduError shows its message
 * (written for people) with an icon for its kind; anything else is an
 * unexpected failure and shows nothing of its text, only the incident id the
 * log holds it under.
 */
export function errorMessage(error: unknown, incidentId?: string): string {
  const incident = incidentId ? ` (incident \`${incidentId.replace(/`/g, '')}\`)` : '';
  if (error instanceof PduError) {
    const icon =
      error.code === 'FORBIDDEN' || error.code === 'NEEDS_CONFIRMATION'
        ? '🚫'
        : error.code === 'BUSY'
          ? '⏳'
          : '❌';
    return cutLine(`${icon} ${sentence(safe(error.message, 1500))}${incident}`, MESSAGE_LIMIT);
  }
  return incidentId
    ? `❌ Something unexpected went wrong. It is in PiPDU's log as incident \`${incidentId.replace(/`/g, '')}\`.`
    : "❌ Something unexpected went wrong; the details are in PiPDU's log.";
}

// ------------------------------------------------------------------ helpers

function stateIcon(on: boolean | null): string {
  return on === null ? '❔' : on ? '🟢' : '⚫';
}

function stateWord(on: boolean | null): string {
  return on === null ? '?' : on ? 'on' : 'off';
}

/** `4.1 W`, `120 W`, `—` without a reading. */
export function formatWatts(watts: number | null): string {
  if (watts === null) return '—';
  return watts < 10 ? `${watts.toFixed(1)} W` : `${Math.round(watts)} W`;
}

function phaseWords(phase: HookPhase): string {
  return { preOff: 'before off', postOff: 'after off', preOn: 'before on', postOn: 'after on' }[phase];
}

function socketLabel(socket: { number: number; name: string | null }): string {
  return socket.name ? `${socket.number} · ${socket.name}` : String(socket.number);
}

function actorName(actor: PendingWork['actor']): string {
  return actor.name ? `${actor.name} (${actor.kind})` : describeActor(actor);
}

/** `<t:1704067200:R>`; the ISO text itself if it does not parse. */
function discordTime(iso: string, style: 'R' | 'T' | 'f'): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? safe(iso, 40) : `<t:${Math.floor(ms / 1000)}:${style}>`;
}

function codeBlock(text: string): string {
  return `\`\`\`\n${text.replace(/```/g, 'ˋˋˋ')}\n\`\`\``;
}

/**
 * User or config text made safe for one line of markdown: whitespace runs
 * (newlines too) become one space, it is cut to `max` characters, markdown
 * (masked links included) is escaped, and `@` cannot start a mention.
 */
export function safe(text: string, max: number): string {
  const flat = cut(text.replace(/\s+/g, ' ').trim(), max);
  return escapeMarkdown(flat, { maskedLink: true }).replace(/@/g, '@\u200b');
}

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Cut to `max` characters with `…`, never between the two halves of a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  if (/[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end--;
  return `${text.slice(0, end)}…`;
}

/** cut for text that is already escaped: never leaves a lone `\` at the end. */
function cutLine(text: string, max: number): string {
  const out = cut(text, max);
  return out.endsWith('\\…') ? `${out.slice(0, -2)}…` : out;
}

/** Lines joined until `max` characters; what does not fit becomes "… and N more". */
function joinLines(lines: readonly string[], max: number): string {
  const kept: string[] = [];
  let size = 0;
  for (const [i, line] of lines.entries()) {
    const more = lines.length - i - 1;
    const reserve = more > 0 ? 30 : 0;
    const add = (kept.length > 0 ? 1 : 0) + line.length;
    if (size + add + reserve > max) {
      const rest = `… and ${lines.length - i} more`;
      if (size + rest.length + 1 <= max) kept.push(rest);
      else if (kept.length === 0) kept.push(cutLine(line, max));
      break;
    }
    kept.push(line);
    size += add;
  }
  return kept.join('\n');
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * The last guard on the 6000-character total: while the embed is over it,
 * the longest of the description and the field values is cut by the excess.
 */
function fitTotal(embed: APIEmbed): APIEmbed {
  for (let excess = embedSize(embed) - EMBED_LIMITS.total; excess > 0; ) {
    const field = (embed.fields ?? []).reduce<APIEmbedField | null>(
      (longest, candidate) => (candidate.value.length > (longest?.value.length ?? 0) ? candidate : longest),
      null,
    );
    const description = embed.description ?? '';
    if (field && field.value.length >= description.length) {
      field.value = cutLine(field.value, Math.max(1, field.value.length - excess));
    } else if (description.length > 1) {
      embed.description = cutLine(description, Math.max(1, description.length - excess));
    } else {
      break;
    }
    excess = embedSize(embed) - EMBED_LIMITS.total;
  }
  return embed;
}

/** Characters Discord counts towards an embed's total. */
export function embedSize(embed: APIEmbed): number {
  return (
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    (embed.author?.name.length ?? 0) +
    (embed.fields ?? []).reduce((sum, field) => sum + field.name.length + field.value.length, 0)
  );
}
