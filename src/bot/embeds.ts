import { type APIEmbed, type APIEmbedField, escapeMarkdown } from 'discord.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { SocketConfig } from '../config/schema.js';
import { PduError } from '../errors.js';
import { type Actor, describeActor } from '../pdu/actor.js';
import { formatMs } from '../pdu/hooks/abortable.js';
import { describeStep } from '../pdu/hooks/index.js';
import type { HookPhase } from '../pdu/hooks/phase.js';
import type { Alarm, AllResult, EnergyFigures, PduStatus, SocketInfo } from '../pdu/types.js';
import type { PlanLine } from './plan.js';
import {
  COLORS,
  type Direction,
  doing,
  formatWatts,
  ICONS,
  OFF_DRAW_WATTS,
  personName,
  phaseWords,
  phaseWordsIn,
  STEP_LOOK,
  socketLabel,
  socketSubject,
  stateIcon,
  stateWord,
  verb,
} from './style.js';

/**
 * What the bot shows, as pure functions over the Pdu service's types: plain
 * `APIEmbed` objects (discord.js accepts them wherever it takes an embed) and
 * message lines, in the visual language of style.ts. Rules every function keeps:
 *
 * - Deterministic: nothing reads the clock; times come from the input and are
 *   shown as Discord timestamps (`<t:…:R>`), which each client renders.
 * - Within Discord's limits whatever the input (EMBED_LIMITS, and 2000
 *   characters for a message): long texts are cut with `…`, long lists end
 *   with "… and N more".
 * - Text that users or configs provide (reasons, names, error messages, step
 *   labels) is markdown-escaped and cannot mention anyone.
 * - A person reads the outcome first (the title and first line), what it
 *   means for the socket second, and details last, in small text.
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

/** Discord's limit on a button's label. */
export const BUTTON_LABEL_LIMIT = 80;

export { COLORS, formatWatts } from './style.js';

// ------------------------------------------------------------------ status

export interface StatusEmbedOptions {
  /** ISO time the status was taken: the embed's timestamp. None: no timestamp. */
  time?: string;
  /** The PDU's energy, and its total power over the last 24 h (a sparkline): when the energy part runs. */
  energy?: EnergyFigures;
  history?: readonly number[];
  alarms?: readonly Alarm[];
  /** ISO time the board went offline (shown while it is). */
  offlineSince?: string | null;
  /** ISO time of the latest power reading (shown while the board is offline). */
  lastReadingAt?: string | null;
}

/** What `/socket info` shows beyond the service's word. */
export interface SocketInfoExtras {
  /** The socket's power over the last 24 h, oldest first (a sparkline). */
  history?: readonly number[];
  alarms?: readonly Alarm[];
  /** The last change someone made (from the audit log). */
  lastSwitch?: { actor: Actor; time: string; action: string } | null;
  /** The board is offline: the state shown is the last known. */
  offline?: boolean;
}

/** Longest socket name shown in full in a status row. */
export const TABLE_NAME_WIDTH = 16;
/** The widest status row, in columns (an emoji counts 2): fits a phone's code block. */
export const ROW_WIDTH = 36;

/** The status title: online and offline (the status message looks for both when it restarts). */
export function statusTitles(name: string): { online: string; offline: string } {
  return {
    online: cut(`${ICONS.power} ${safe(name, 100)}`, EMBED_LIMITS.title),
    offline: cut(`${ICONS.offline} ${safe(name, 100)} · board offline`, EMBED_LIMITS.title),
  };
}

/**
 * `/status` and the live status message, made to be read on a phone:
 *
 * - The first line says what matters now: the total power and how many
 *   sockets are on, or that the board is offline (and since when).
 * - A code block of rows of at most 36 columns: `🟢  4 nas          121 W`.
 *   Off sockets show no power (unless they draw some: a contradiction,
 *   flagged); unnamed idle off sockets collapse into one row (`⚫ 12–16 off`).
 * - Pending work gets its own field per socket (⏳ in the row).
 * - While the board is offline nothing looks live: the title says offline,
 *   the rows show the last known state (⚪ was on) without power, and the
 *   last reading is given with its time.
 * - The footer names the board; the timestamp is the last visible change.
 */
export function statusEmbed(status: PduStatus, options: StatusEmbedOptions = {}): APIEmbed {
  const online = status.board.online;
  const sockets = [...status.sockets].sort((a, b) => a.number - b.number);
  const pending = sockets.filter((socket) => socket.pending !== null);
  const drawingOff = online
    ? sockets.filter((socket) => socket.on === false && (socket.watts ?? 0) >= OFF_DRAW_WATTS)
    : [];
  const on = sockets.filter((socket) => socket.on === true).length;
  const lines: string[] = [];
  if (online) {
    const power = status.totalWatts === null ? 'no power readings' : `**${formatWatts(status.totalWatts)}**`;
    lines.push(`${power} · ${on} of ${sockets.length} on`);
  } else {
    const since = options.offlineSince ? ` since ${discordTime(options.offlineSince, 'R')}` : '';
    lines.push(`${ICONS.offline} **Board offline**${since}: nothing can be switched until it is back.`);
    const reading =
      options.lastReadingAt && status.totalWatts !== null
        ? `; last reading ${discordTime(options.lastReadingAt, 'R')}: ${formatWatts(status.totalWatts)}`
        : '';
    lines.push(`Shown: the last known states (${ICONS.wasOn} was on)${reading}.`);
  }
  if (online && options.energy) lines.push(`**Energy** ${energyText(options.energy)}`);
  if (online && options.history && options.history.length > 1) {
    lines.push(
      `**Last 24 h** \`${sparkline(options.history, 24)}\` peak ${formatWatts(Math.max(...options.history))}`,
    );
  }
  for (const alarm of options.alarms ?? []) lines.push(alarmLine(alarm));
  for (const socket of drawingOff) {
    lines.push(
      `${ICONS.warning} **${safe(socketLabel(socket), 40)}** draws ${formatWatts(socket.watts)} but is shown off: check it.`,
    );
  }
  if (!status.board.reportsState) {
    lines.push(`${ICONS.warning} This board can't report its relays: states are what PiPDU last sent.`);
  }
  lines.push(codeBlock(statusRows(sockets, online).join('\n')));
  const legend = [
    sockets.some((socket) => socket.protected) ? `${ICONS.protected} protected` : null,
    pending.length > 0 ? `${ICONS.running} busy` : null,
  ].filter((part) => part !== null);
  if (legend.length > 0) lines.push(`-# ${legend.join(' · ')}`);

  const titles = statusTitles(status.name);
  const embed: APIEmbed = {
    title: online ? titles.online : titles.offline,
    description: joinLines(lines, EMBED_LIMITS.description),
    color: !online
      ? COLORS.stale
      : drawingOff.length > 0 || (options.alarms ?? []).length > 0
        ? COLORS.warn
        : pending.length > 0
          ? COLORS.running
          : COLORS.ok,
    footer: { text: cut(boardFooter(status), EMBED_LIMITS.footer) },
  };
  if (options.time) embed.timestamp = options.time;
  const fields = pendingFields(pending, EMBED_LIMITS.total - embedSize(embed) - 50);
  if (fields.length > 0) embed.fields = fields;
  return fitTotal(embed);
}

function boardFooter(status: PduStatus): string {
  const { board } = status;
  const parts = [`${board.driver} board`];
  if (board.identity) {
    parts.push(
      `${board.identity.protocol} ${board.identity.firmware}`,
      `${board.identity.channels} channels`,
    );
  } else {
    parts.push('not reached yet');
  }
  parts.push(`${status.mainsVoltage} V · apparent power (A × V)`);
  return parts.join(' · ');
}

/**
 * The rows: `🟢  4 nas               121 W 🔒`. Socket names are `[a-z0-9-]`
 * (config schema), so nothing in them can end the code block.
 */
export function statusRows(sockets: readonly SocketInfo[], live: boolean): string[] {
  const collapsed = sockets.filter(
    (socket) =>
      socket.name === null &&
      socket.on !== true &&
      socket.pending === null &&
      (!live || (socket.watts ?? 0) < OFF_DRAW_WATTS),
  );
  const nameWidth = Math.max(
    4,
    ...sockets
      .filter((socket) => !collapsed.includes(socket))
      .map((socket) => Math.min(TABLE_NAME_WIDTH, socket.name?.length ?? 1)),
  );
  const rows: string[] = [];
  for (const socket of sockets) {
    if (collapsed.includes(socket)) continue;
    const name = cut(socket.name ?? '-', TABLE_NAME_WIDTH).padEnd(nameWidth);
    const drawing = (socket.watts ?? 0) >= OFF_DRAW_WATTS;
    const power =
      live && (socket.on === true || drawing) && socket.watts !== null ? formatWatts(socket.watts) : '';
    const marks = [
      live && socket.on === false && drawing ? ICONS.warning : null,
      socket.pending ? ICONS.running : null,
      socket.protected ? ICONS.protected : null,
    ]
      .filter((mark) => mark !== null)
      .join('');
    const row = `${stateIcon(socket.on, live)} ${String(socket.number).padStart(2)} ${name} ${power.padStart(6)}`;
    rows.push(`${row.trimEnd()}${marks ? ` ${marks}` : ''}`.trimEnd());
  }
  if (collapsed.length > 0) {
    const unknown = collapsed.every((socket) => socket.on === null);
    const icon = unknown ? ICONS.unknown : ICONS.off;
    const word = unknown
      ? 'unknown'
      : collapsed.some((socket) => socket.on === null)
        ? 'off or unknown'
        : 'off';
    rows.push(...wrapRanges(icon, ranges(collapsed.map((socket) => socket.number)), word));
  }
  return rows;
}

/** `[3, 12, 13, 14]` → `3, 12–14`. */
export function ranges(numbers: readonly number[]): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(
      j > i + 1 ? `${sorted[i]}–${sorted[j]}` : j === i + 1 ? `${sorted[i]}, ${sorted[j]}` : `${sorted[i]}`,
    );
    i = j + 1;
  }
  return parts.join(', ');
}

/** `⚫ 3, 12–16 off`, wrapped so that no row is wider than ROW_WIDTH. */
function wrapRanges(icon: string, list: string, word: string): string[] {
  const rows: string[] = [];
  let row = `${icon} `;
  const width = ROW_WIDTH - 2;
  for (const part of list.split(', ')) {
    const add = row.endsWith(' ') ? part : `, ${part}`;
    if (row.length + add.length > width && !row.endsWith(' ')) {
      rows.push(`${row},`);
      row = `   ${part}`;
    } else {
      row += add;
    }
  }
  rows.push(`${row} ${word}`);
  return rows;
}

/** One field per pending socket, its value shortened so that all of them fit in `budget` characters. */
function pendingFields(pending: readonly SocketInfo[], budget: number): APIEmbedField[] {
  const shown = pending.slice(0, EMBED_LIMITS.fields);
  if (shown.length === 0) return [];
  const each = Math.max(40, Math.min(300, Math.floor(budget / shown.length) - 40));
  return shown.map((socket) => {
    const work = socket.pending!;
    const direction = work.direction ?? (work.action === 'restore' ? null : work.action);
    const what =
      direction === null ? 'Restoring' : direction === 'toggle' ? 'Toggling' : doing(direction as Direction);
    const lines = [`${what} · ${safe(personName(work.actor), 60)} ${discordTime(work.since, 'R')}`];
    if (work.step) {
      const step = work.step;
      lines.push(`${phaseWords(step.phase)} ${step.index}/${step.total}: ${safe(step.label, 160)}`);
    }
    if (work.requests > 1) lines.push(`+${work.requests - 1} queued`);
    return {
      name: cut(`${ICONS.running} ${socketLabel(socket)}`, EMBED_LIMITS.fieldName),
      value: joinLines(lines, each),
      inline: false,
    };
  });
}

// ------------------------------------------------------------------ one socket

/**
 * `/socket info`: the state (and who last switched it, when), power,
 * protection, who may switch it, the cycle off-time and each hook phase's
 * steps; no internal fields (channels). `info` is the live state, `socket`
 * its configuration. The bot adds On/Off/Cycle buttons.
 */
export function socketInfoEmbed(
  info: SocketInfo,
  socket: SocketConfig,
  extras: SocketInfoExtras = {},
): APIEmbed {
  const live = !extras.offline;
  const lines = [
    live
      ? `${stateIcon(info.on)} **${stateWord(info.on)}**${info.on && info.watts !== null ? ` · ${formatWatts(info.watts)}` : ''}`
      : `${stateIcon(info.on, false)} **last known ${stateWord(info.on)}**: the board is offline`,
  ];
  if (info.assumed) lines.push("-# assumed: this board can't report its relays");
  const last = extras.lastSwitch;
  if (last) {
    lines.push(
      `Last ${switchWord(last.action)} by **${safe(personName(last.actor), 60)}** ${discordTime(last.time, 'R')}`,
    );
  } else if (info.changedAt) {
    lines.push(`Changed ${discordTime(info.changedAt, 'R')}`);
  }
  for (const alarm of extras.alarms ?? []) lines.push(alarmLine(alarm));
  if (info.pending) {
    const work = info.pending;
    lines.push(
      `${ICONS.running} ${work.action} by ${safe(personName(work.actor), 60)} ${discordTime(work.since, 'R')}`,
    );
    if (work.step) {
      lines.push(
        `-# ${phaseWords(work.step.phase)} ${work.step.index}/${work.step.total}: ${safe(work.step.label, 200)}`,
      );
    }
  }
  const fields: APIEmbedField[] = [];
  if (live) fields.push({ name: 'Power', value: powerText(info), inline: true });
  if (info.energy) fields.push({ name: 'Energy', value: energyText(info.energy), inline: true });
  if (extras.history && extras.history.length > 1) {
    fields.push({
      name: 'Last 24 h',
      value: `\`${sparkline(extras.history, 24)}\` peak ${formatWatts(Math.max(...extras.history))}`,
      inline: false,
    });
  }
  fields.push(
    { name: 'After power loss', value: restoreText(info.restore), inline: true },
    {
      name: 'Protected',
      value: info.protected ? `${ICONS.protected} yes: off and cycle need an admin` : 'no',
      inline: true,
    },
    { name: 'Who may switch it', value: whoMaySwitch(socket), inline: true },
    { name: 'Cycle off-time', value: formatMs(socket.offTime), inline: true },
  );
  const phases: HookPhase[] = ['preOff', 'postOff', 'preOn', 'postOn'];
  for (const phase of phases) {
    const steps = socket[phase];
    if (steps.length === 0) continue;
    const stepLines = steps.map((step, i) => `${i + 1}. ${safe(describeStep(step), 200)}`);
    fields.push({
      name: `Steps ${phaseWords(phase)}`,
      value: joinLines(stepLines, EMBED_LIMITS.fieldValue),
      inline: false,
    });
  }
  if (phases.some((phase) => socket[phase].length > 0)) {
    fields.push({
      name: 'If a step fails',
      value: `${socket.onFailure === 'abort' ? 'stop (the relay is not switched)' : 'go on (a warning)'} · all steps within ${formatMs(socket.hookTimeout)}`,
      inline: false,
    });
  }
  return fitTotal({
    title: cut(`Socket ${socketLabel(info)}`, EMBED_LIMITS.title),
    description: joinLines(lines, EMBED_LIMITS.description),
    color: !live ? COLORS.stale : info.pending ? COLORS.running : info.on ? COLORS.ok : COLORS.neutral,
    fields: fields.slice(0, EMBED_LIMITS.fields),
  });
}

function switchWord(action: string): string {
  return (
    { on: 'switched on', off: 'switched off', cycle: 'power-cycled', toggle: 'toggled' }[action] ??
    safe(action, 20)
  );
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

/** Values as a one-line bar chart (▁..█ from the lowest to the highest), at most `width` characters (averaged). */
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
  return `${alarm.severity === 'critical' ? ICONS.alarm : ICONS.warning} ${safe(alarm.message, 300)} (since ${discordTime(alarm.since, 'R')})`;
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
    const icon = alarm.severity === 'critical' ? ICONS.alarm : ICONS.warning;
    return cut(
      `${icon} **Alarm** ${safe(alarm.message, 1500)} (since ${discordTime(alarm.since, 'f')})${mentions ? ` ${mentions}` : ''}`,
      MESSAGE_LIMIT,
    );
  }
  return cut(
    `${ICONS.done} **Cleared** ${discordTime(at, 'f')}: ~~${safe(alarm.message, 1500)}~~ (worst ${alarm.worst} ${alarm.unit}, raised ${discordTime(alarm.since, 'f')})`,
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
  /** The socket as it is now. */
  socket: SocketInfo;
  direction: Direction;
  /** Who asked. */
  actor: Actor;
  /** Every line of the plan, in order (Plan.lines). */
  plan: readonly PlanLine[];
  state: 'running' | 'done' | 'failed' | 'cancelled';
  reason?: string;
  /** The asker confirmed it (a protected socket): when. */
  confirmedAt?: string;
  error?: { code: string; message: string };
  warnings?: readonly string[];
  /** Done: whether the relay changed (false: it already was there). */
  changed?: boolean;
  /** Who forced the off, skipping the rest of its shutdown steps. */
  forcedBy?: Actor;
  /** A cycle's off-time runs: when the power comes back. */
  backOnAt?: string | null;
  /** The board is online (false: the socket's state is not known now). */
  online?: boolean;
}

/**
 * A switch's message, the same for quick and long work; edited as it runs.
 *
 * - The title names the action while it runs ("⏳ Switching off 4 · nas"),
 *   then the truth ("✅ 4 · nas is off", "❌ Couldn't switch off 4 · nas").
 * - A failure starts with one sentence a person can act on, then says what
 *   state the socket is in and whether the relay was touched.
 * - Then every line of the plan from the start: ◻️ waiting, ⏳ running
 *   (with when a wait ends), ✅ done, ❌ failed, ➖ not run, the relay as
 *   its own line, a cycle's off-time with "back on <t:…:R>".
 * - Last, in small text: who asked (and confirmed), the reason, the error's
 *   code and full message. One duration per line.
 */
export function progressEmbed(input: ProgressInput): APIEmbed {
  const label = socketLabel(input.socket);
  const subject = safe(socketSubject(input.socket), 60);
  const lines: string[] = [];
  let title: string;
  let color: number;
  const warnings = input.warnings ?? [];
  switch (input.state) {
    case 'running':
      title = `${ICONS.running} ${doing(input.direction)} ${label}`;
      color = COLORS.running;
      if (input.backOnAt) lines.push(`Off now; back on ${discordTime(input.backOnAt, 'R')}.`);
      break;
    case 'done':
      if (input.changed === false) {
        title = `${ICONS.noChange} ${label} was already ${input.direction === 'on' ? 'on' : 'off'}`;
        lines.push('Nothing needed switching.');
      } else {
        title =
          input.direction === 'cycle'
            ? `${ICONS.done} ${label} was power-cycled`
            : `${ICONS.done} ${label} is ${stateWord(input.socket.on)}`;
      }
      color = warnings.length > 0 ? COLORS.warn : COLORS.ok;
      if (input.forcedBy) {
        lines.push(
          `${ICONS.skipped} Forced by **${safe(personName(input.forcedBy), 60)}**: the remaining shutdown steps were skipped.`,
        );
      }
      break;
    case 'failed': {
      title = `${ICONS.failed} Couldn't ${verb(input.direction)} ${label}`;
      color = COLORS.error;
      const failed = input.plan.find((line) => line.status === 'failed');
      lines.push(failureHeadline(input.error, failed));
      lines.push(stateSentence(input, subject));
      break;
    }
    case 'cancelled':
      title = `${ICONS.cancelled} Cancelled: ${doing(input.direction).toLowerCase()} ${label}`;
      color = COLORS.neutral;
      lines.push(`Nothing more was done. ${stateSentence(input, subject)}`);
      break;
  }
  if (lines.length > 0) lines.push('');
  lines.push(...input.plan.map((line) => planLine(line, input.state)));
  if (warnings.length > 0) {
    lines.push('', ...warnings.map((warning) => `${ICONS.warning} ${safe(phaseWordsIn(warning), 300)}`));
  }
  const small = [`asked by ${safe(personName(input.actor), 60)}`];
  if (input.confirmedAt) small.push(`confirmed ${discordTime(input.confirmedAt, 'R')}`);
  if (input.reason?.trim()) small.push(`reason: “${safe(input.reason, 200)}”`);
  lines.push('', `-# ${small.join(' · ')}`);
  if (input.state === 'failed' && input.error) {
    lines.push(`-# ${safe(input.error.code, 40)}: ${safe(phaseWordsIn(input.error.message), 900)}`);
  }
  return fitTotal({
    title: cut(title, EMBED_LIMITS.title),
    description: joinLines(lines, EMBED_LIMITS.description),
    color,
  });
}

/** `**lab-server is still on, 216 W**; the relay was not touched.` */
function stateSentence(input: ProgressInput, subject: string): string {
  if (input.online === false) return `${subject}'s state is not known: the board is offline.`;
  const on = input.socket.on;
  const watts = on && input.socket.watts !== null ? `, ${formatWatts(input.socket.watts)}` : '';
  const touched = input.plan.some((line) => line.kind === 'relay' && line.status === 'ok');
  if (!touched) return `**${subject} is still ${stateWord(on)}${watts}**; the relay was not touched.`;
  return `**${subject} is now ${stateWord(on)}${watts}**.`;
}

/**
 * One sentence that says what went wrong, in words: "Couldn't SSH to
 * root@nas (connection refused)." The code and the full message follow in
 * small text.
 */
export function failureHeadline(
  error: { code: string; message: string } | undefined,
  failed?: PlanLine,
): string {
  if (!error) return 'Something unexpected went wrong; the details are in PiPDU’s log.';
  const message = failed?.error?.message ?? error.message;
  const code = failed?.error?.code ?? error.code;
  const target = failed ? stepTarget(failed) : null;
  const why = reasonOf(message);
  const step = failed ? `“${safe(failed.label, 120)}”` : 'a step';
  switch (code) {
    case 'SSH_UNREACHABLE':
      return `Couldn't SSH to ${target ?? 'the host'}${why ? ` (${why})` : ''}.`;
    case 'SSH_AUTH_FAILED':
      return `${target ?? 'The host'} refused PiPDU's SSH key.`;
    case 'SSH_HOST_KEY_MISMATCH':
      return `${target ?? 'The host'}'s SSH host key has changed, so PiPDU did not connect.`;
    case 'SSH_ERROR':
      return `SSH to ${target ?? 'the host'} failed${why ? ` (${why})` : ''}.`;
    case 'COMMAND_FAILED':
      return `The step ${step} failed${why ? ` (${why})` : ''}.`;
    case 'HOST_STILL_UP':
      return `${target ?? 'The host'} was still up when the wait ran out.`;
    case 'HOST_STILL_DOWN':
      return `${target ?? 'The host'} did not come back up in time.`;
    case 'POWER_STILL_ON':
      return 'The socket still drew power when the wait ran out.';
    case 'NO_TELEMETRY':
      return 'The board gives no power readings, so the power wait could not run.';
    case 'TIMEOUT':
      return 'The steps took longer than this socket allows.';
    case 'BOARD_OFFLINE':
      return 'The relay board is offline.';
    case 'BOARD_TIMEOUT':
      return 'The relay board did not answer in time.';
    case 'BUSY':
      return 'Other work is running on this socket.';
    case 'OVERLOAD':
      return sentence(safe(message, 300));
    default:
      return `${sentence(safe(firstClause(message), 300))}.`;
  }
}

/** `root@nas:2222` from `ssh root@nas:2222: sudo poweroff`; `nas:22` from `wait for nas:22 to go down`. */
function stepTarget(line: PlanLine): string | null {
  const step = line.step;
  if (!step) {
    // Only the report's label is known (the audit log): `ssh root@nas:2222: …`, `wait for nas:22 to …`.
    const match = /^ssh (\S+?): |^wait for (\S+?):\d+ to /.exec(line.label);
    return match ? safe(match[1] ?? match[2] ?? '', 80) : null;
  }
  if (step.kind === 'ssh') return `${step.user}@${step.host}${step.port === 22 ? '' : `:${step.port}`}`;
  if (step.kind === 'waitHostDown' || step.kind === 'waitHostUp') return step.host;
  return null;
}

/** The last clause of an error message, when it is short: "connection refused". */
function reasonOf(message: string): string | null {
  const last = message.split(': ').at(-1)?.trim() ?? '';
  if (!last || last.length > 80) return null;
  return safe(last.replace(/\.$/, ''), 80);
}

function firstClause(message: string): string {
  return phaseWordsIn(message)
    .replace(/[.;]\s.*$/s, '')
    .replace(/\.$/, '');
}

/** One line of a plan: `✅ before off 1/3 · ssh pi@nas: sudo poweroff · 1.2 s · exit 0`. */
function planLine(line: PlanLine, state: ProgressInput['state']): string {
  const look = STEP_LOOK[line.status === 'waiting' && state !== 'running' ? 'notRun' : line.status];
  const parts: string[] = [];
  if (line.kind === 'step') {
    parts.push(`${look.icon} ${phaseWords(line.phase!)} ${line.index}/${line.total}`, safe(line.label, 120));
  } else if (line.kind === 'wait' && line.status === 'ok') {
    parts.push(`${look.icon} ${safe(line.label.replace(/^stay off/, 'stayed off'), 60)}`);
  } else {
    parts.push(`${look.icon} ${safe(line.label, 60)}`);
  }
  switch (line.status) {
    case 'running':
      if (line.kind === 'wait' && line.dueAt) parts.push(`back on ${discordTime(line.dueAt, 'R')}`);
      else if (line.dueAt && line.step?.kind === 'delay') parts.push(`done ${discordTime(line.dueAt, 'R')}`);
      else if (line.dueAt) parts.push(`gives up ${discordTime(line.dueAt, 'R')}`);
      else if (line.startedAt) parts.push(`started ${discordTime(line.startedAt, 'R')}`);
      break;
    case 'waiting':
      break;
    case 'notRun':
    case 'cancelled':
    case 'skipped':
      parts.push(look.word);
      break;
    case 'failed':
      parts.push(line.durationMs !== null ? `failed after ${formatMs(line.durationMs)}` : 'failed');
      break;
    default:
      if (line.kind === 'step' && line.durationMs !== null) parts.push(formatMs(line.durationMs));
      if (line.summary && line.status === 'ok') {
        const summary = line.summary.replace(/ (in|after) [\d.]+ (ms|s|min)$/, '');
        if (!/^waited /.test(summary)) parts.push(safe(summary, 80));
      }
      if (line.status === 'tolerated') parts.push(look.word);
  }
  return cutLine(parts.join(' · '), 300);
}

// ------------------------------------------------------------------ confirmations

export interface ConfirmInput {
  socket: SocketInfo;
  config: SocketConfig;
  direction: Direction;
  force?: boolean;
  reason?: string;
  offTimeMs?: number;
  /** ISO time the question expires. */
  expiresAt: string;
}

/**
 * The question before a protected socket goes off: a red "Switch off 1 ·
 * router?" that names its state and load, what switching it does, its
 * shutdown steps (or that they are skipped), and when the question expires.
 * The bot adds a button named for the action (`confirmLabel`).
 */
export function confirmEmbed(input: ConfirmInput): APIEmbed {
  const { socket, config, direction } = input;
  const subject = safe(socketSubject(socket), 60);
  const lines: string[] = [];
  const load = socket.on && socket.watts !== null ? `, drawing **${formatWatts(socket.watts)}**` : '';
  lines.push(`${subject} is **${stateWord(socket.on)}**${load}.`);
  const protectedNote = socket.protected ? ' It is protected: whatever runs on it loses power.' : '';
  lines.push(
    direction === 'cycle'
      ? `It goes off for ${formatMs(input.offTimeMs ?? config.offTime)}, then on again.${protectedNote}`
      : `Its power is cut.${protectedNote}`,
  );
  const steps = config.preOff;
  if (steps.length > 0) {
    if (input.force) {
      lines.push(`${ICONS.skipped} Its ${steps.length} shutdown steps are **skipped** (force).`);
    } else {
      lines.push('', '**Shutdown steps first:**');
      lines.push(...steps.map((step, i) => `${i + 1}. ${safe(describeStep(step), 150)}`));
    }
  } else {
    lines.push('No shutdown steps: the power is cut at once.');
  }
  if (input.reason?.trim()) lines.push(`-# reason: “${safe(input.reason, 200)}”`);
  lines.push('', `Expires ${discordTime(input.expiresAt, 'R')}.`);
  return fitTotal({
    title: cut(`${ICONS.ask} ${sentence(verb(direction))} ${socketLabel(socket)}?`, EMBED_LIMITS.title),
    description: joinLines(lines, EMBED_LIMITS.description),
    color: COLORS.error,
  });
}

/** The confirm button's label: "Switch off router", "Power-cycle 4". */
export function confirmLabel(direction: Direction, socket: { number: number; name: string | null }): string {
  return cut(`${sentence(verb(direction))} ${socket.name ?? socket.number}`, BUTTON_LABEL_LIMIT);
}

export interface AllConfirmInput {
  action: 'on' | 'off';
  sockets: readonly SocketInfo[];
  configs: readonly SocketConfig[];
  includeProtected?: boolean;
  force?: boolean;
  reason?: string;
  expiresAt: string;
}

/**
 * The question before `/sockets on|off`: what goes on or off (by name),
 * what is left alone (protected) or already there, which sockets run their
 * shutdown steps first, and when it expires.
 */
export function allConfirmEmbed(input: AllConfirmInput): APIEmbed {
  const targets = input.sockets.filter(
    (socket) => input.action === 'on' || input.includeProtected || !socket.protected,
  );
  const leftAlone = input.sockets.filter((socket) => !targets.includes(socket));
  const going = targets.filter((socket) => socket.on !== (input.action === 'on'));
  const already = targets.filter((socket) => socket.on === (input.action === 'on'));
  const names = (list: readonly SocketInfo[]) =>
    safe(list.map((socket) => socketLabel(socket)).join(', '), 900);
  const lines: string[] = [];
  lines.push(
    going.length > 0
      ? `**${going.length} go ${input.action}:** ${names(going)}`
      : `Nothing goes ${input.action}: every socket already is.`,
  );
  if (leftAlone.length > 0) {
    lines.push(`${ICONS.protected} **Left alone (protected):** ${names(leftAlone)}`);
  }
  if (already.length > 0)
    lines.push(`${ICONS.noChange} Already ${input.action}: ${ranges(already.map((s) => s.number))}`);
  if (input.action === 'off') {
    const withSteps = going.filter(
      (socket) => (input.configs.find((c) => c.number === socket.number)?.preOff.length ?? 0) > 0,
    );
    if (withSteps.length > 0) {
      lines.push(
        input.force
          ? `${ICONS.skipped} Shutdown steps are **skipped** (force) for: ${names(withSteps)}`
          : `**Shutdown steps first:** ${withSteps
              .map((socket) => {
                const count = input.configs.find((c) => c.number === socket.number)?.preOff.length ?? 0;
                return `${safe(socketLabel(socket), 40)} (${count} ${count === 1 ? 'step' : 'steps'})`;
              })
              .join(', ')}`,
      );
    }
  } else {
    lines.push('-# switched on one after another, to spare the fuse');
  }
  if (input.reason?.trim()) lines.push(`-# reason: “${safe(input.reason, 200)}”`);
  lines.push('', `Expires ${discordTime(input.expiresAt, 'R')}.`);
  return fitTotal({
    title: `${ICONS.ask} Switch every socket ${input.action}?`,
    description: joinLines(lines, EMBED_LIMITS.description),
    color: input.action === 'off' ? COLORS.error : COLORS.warn,
  });
}

/** A confirmation once answered: the question stays, with the answer under it. */
export function answeredEmbed(
  question: APIEmbed,
  answer: 'confirmed' | 'cancelled' | 'expired',
  by: string,
  at: string,
): APIEmbed {
  const description = (question.description ?? '').replace(/\n*Expires <t:\d+:R>\.$/, '');
  const line = {
    confirmed: `${ICONS.done} Confirmed by **${safe(by, 60)}** ${discordTime(at, 'R')}.`,
    cancelled: `${ICONS.cancelled} Cancelled by **${safe(by, 60)}**; nothing was switched.`,
    expired: `${ICONS.expired} Not confirmed in time; nothing was switched.`,
  }[answer];
  return fitTotal({
    ...question,
    title: cut((question.title ?? '').replace(/^❓ /, ''), EMBED_LIMITS.title),
    description: joinLines([description, '', line], EMBED_LIMITS.description),
    color: answer === 'confirmed' ? COLORS.running : COLORS.neutral,
  });
}

// ------------------------------------------------------------------ all sockets

export interface AllProgressInput {
  action: 'on' | 'off';
  /** The sockets it switches, in order. */
  targets: readonly number[];
  names: Readonly<Record<number, string | null | undefined>>;
  /** Sockets whose own work ended: switched, already there, failed (with its error), cancelled. */
  ended: ReadonlyMap<
    number,
    { outcome: 'switched' | 'noChange' | 'failed' | 'cancelled'; code?: string; message?: string }
  >;
  /** Sockets running a step now, with the step's words. */
  running: ReadonlyMap<number, string>;
  actor: Actor;
  reason?: string;
}

/** `/sockets off` while it runs: "9/13 done · 2 running · 1 failed", the running steps, the failures. */
export function allProgressEmbed(input: AllProgressInput): APIEmbed {
  const ended = [...input.ended.values()];
  const failed = [...input.ended].filter(([, end]) => end.outcome === 'failed');
  const counts = [
    `**${ended.length}/${input.targets.length} done**`,
    input.running.size > 0 ? `${input.running.size} running` : null,
    failed.length > 0 ? `${failed.length} failed` : null,
  ].filter((part) => part !== null);
  const label = (number: number) => socketLabel({ number, name: input.names[number] ?? null });
  const lines = [counts.join(' · '), ''];
  for (const [number, words] of input.running) {
    lines.push(`${ICONS.running} ${safe(label(number), 40)} · ${safe(words, 160)}`);
  }
  for (const [number, end] of failed) {
    lines.push(
      `${ICONS.failed} ${safe(label(number), 40)} · ${failureHeadline(end.code ? { code: end.code, message: end.message ?? '' } : undefined)}`,
    );
  }
  const small = [`asked by ${safe(personName(input.actor), 60)}`];
  if (input.reason?.trim()) small.push(`reason: “${safe(input.reason, 200)}”`);
  lines.push('', `-# ${small.join(' · ')}`);
  return fitTotal({
    title: `${ICONS.running} Switching every socket ${input.action}`,
    description: joinLines(lines, EMBED_LIMITS.description),
    color: COLORS.running,
  });
}

export interface AllResultOptions {
  /** Socket names by number, for the sockets whose outcome carries none (failures, skipped). */
  names?: Readonly<Record<number, string | null | undefined>>;
  actor?: Actor;
  reason?: string;
  confirmedAt?: string;
}

/**
 * `/sockets on|off` when it ended, with a title that tells the truth ("✅
 * Every socket off", "⚠️ 12 of 13 off · 1 failed"): a line per socket that
 * switched or failed (the failure in one sentence), the protected ones left
 * alone, and one line for those already there.
 */
export function allResultEmbed(result: AllResult, options: AllResultOptions = {}): APIEmbed {
  const label = (number: number, fromResult?: string | null): string =>
    socketLabel({ number, name: fromResult ?? options.names?.[number] ?? null });
  const rows: { number: number; line: string }[] = [];
  const already: number[] = [];
  let there = 0;
  let failed = 0;
  let cancelled = 0;
  for (const outcome of result.outcomes) {
    if (outcome.ok) {
      const { result: one } = outcome;
      there++;
      if (!one.changed) {
        already.push(outcome.socket);
        continue;
      }
      const extras: string[] = [];
      if (one.forcedBy) extras.push(`${ICONS.skipped} forced`);
      if (one.warnings.length > 0) extras.push(`${ICONS.warning} ${plural(one.warnings.length, 'warning')}`);
      rows.push({
        number: outcome.socket,
        line: [`${ICONS.done} ${safe(label(outcome.socket, one.socket.name), 60)}`, ...extras].join(' · '),
      });
    } else if (outcome.error.code === 'CANCELLED') {
      cancelled++;
      rows.push({
        number: outcome.socket,
        line: `${ICONS.cancelled} ${safe(label(outcome.socket), 60)} · cancelled`,
      });
    } else {
      failed++;
      rows.push({
        number: outcome.socket,
        line: `${ICONS.failed} ${safe(label(outcome.socket), 60)} · ${failureHeadline(outcome.error)}`,
      });
    }
  }
  for (const number of result.skipped) {
    rows.push({ number, line: `${ICONS.protected} ${safe(label(number), 60)} · left alone: protected` });
  }
  rows.sort((a, b) => a.number - b.number);
  const lines = rows.map((row) => row.line);
  if (already.length > 0) lines.push(`${ICONS.noChange} already ${result.action}: ${ranges(already)}`);
  const total = result.outcomes.length;
  let title: string;
  if (failed === 0 && cancelled === 0) {
    title =
      result.skipped.length === 0
        ? `${ICONS.done} Every socket ${result.action}`
        : `${ICONS.done} ${there} sockets ${result.action} · ${result.skipped.length} protected left alone`;
  } else {
    const icon = there === 0 ? ICONS.failed : ICONS.warning;
    const parts = [`${there} of ${total} ${result.action}`];
    if (failed > 0) parts.push(`${failed} failed`);
    if (cancelled > 0) parts.push(`${cancelled} cancelled`);
    title = `${icon} ${parts.join(' · ')}`;
  }
  const small: string[] = [];
  if (options.actor) small.push(`asked by ${safe(personName(options.actor), 60)}`);
  if (options.confirmedAt) small.push(`confirmed ${discordTime(options.confirmedAt, 'R')}`);
  if (options.reason?.trim()) small.push(`reason: “${safe(options.reason, 200)}”`);
  small.push(`took ${formatMs(result.durationMs)}`);
  lines.push('', `-# ${small.join(' · ')}`);
  const color = failed === 0 && cancelled === 0 ? COLORS.ok : there === 0 ? COLORS.error : COLORS.warn;
  return fitTotal({
    title: cut(title, EMBED_LIMITS.title),
    description: joinLines(lines, EMBED_LIMITS.description),
    color,
  });
}

// ------------------------------------------------------------------ audit and errors

export interface AuditLinesOptions {
  /** Now (ms), to show today's times as a clock time and older ones with their date. */
  now?: number;
  /** Lead each line with its time (the log command); the audit channel's messages carry theirs. */
  times?: boolean;
}

/**
 * The audit log as people read it, one line per action:
 *
 * - A forced off is one line ("… switched off 5 · nas · forced by alice"),
 *   not the off and the force apart.
 * - An all-sockets request is one line with its counts, not a line per socket.
 * - Runs of "no change" lines collapse into one with a count.
 * - People are named one way (style.ts personName).
 */
export function auditLines(entries: readonly AuditEntry[], options: AuditLinesOptions = {}): string[] {
  const skip = new Set<AuditEntry>();
  // A force that joined someone's off: its line is the off's "forced by".
  for (const entry of entries) {
    if (entry.details?.force !== true || entry.socket === undefined) continue;
    const forced = entries.find(
      (other) =>
        other !== entry &&
        other.socket === entry.socket &&
        other.details?.forcedBy === describeActor(entry.actor),
    );
    if (forced) skip.add(entry);
  }
  // The sockets of an all-sockets request belong to its one line.
  const parts = new Map<AuditEntry, AuditEntry[]>();
  for (const summary of entries) {
    if (summary.action !== 'all-on' && summary.action !== 'all-off') continue;
    const sockets = Array.isArray(summary.details?.sockets) ? (summary.details.sockets as number[]) : [];
    const start = Date.parse(summary.time);
    const end = start + summary.durationMs + 1000;
    const mine = entries.filter(
      (entry) =>
        entry.socket !== undefined &&
        entry.action === summary.action.slice(4) &&
        entry.actor.kind === summary.actor.kind &&
        entry.actor.id === summary.actor.id &&
        sockets.includes(entry.socket) &&
        Date.parse(entry.time) >= start - 1000 &&
        Date.parse(entry.time) <= end,
    );
    for (const entry of mine) skip.add(entry);
    parts.set(summary, mine);
  }
  const lines: string[] = [];
  let unchanged: AuditEntry[] = [];
  const flush = () => {
    if (unchanged.length === 0) return;
    if (unchanged.length === 1) {
      lines.push(auditLine(unchanged[0]!, options));
    } else {
      const first = unchanged[0]!;
      const list = ranges(unchanged.map((entry) => entry.socket ?? 0));
      lines.push(
        `${timePrefix(first, options)}${ICONS.noChange} ${unchanged.length} × no change: ${safe(first.action, 20)} ${list} (already so)`,
      );
    }
    unchanged = [];
  };
  for (const entry of entries) {
    if (skip.has(entry)) continue;
    if (entry.result === 'ok' && entry.details?.changed === false && entry.socket !== undefined) {
      const last = unchanged[0];
      if (last && (last.action !== entry.action || last.actor.id !== entry.actor.id)) flush();
      unchanged.push(entry);
      continue;
    }
    flush();
    const grouped = parts.get(entry);
    lines.push(grouped ? allLine(entry, grouped, options) : auditLine(entry, options));
  }
  flush();
  return lines;
}

/** An all-sockets request as one line: who, what, how many switched, were already so, failed, left alone. */
function allLine(summary: AuditEntry, sockets: readonly AuditEntry[], options: AuditLinesOptions): string {
  const action = summary.action.slice(4);
  const failed = sockets.filter((entry) => entry.result === 'error');
  const same = sockets.filter((entry) => entry.result === 'ok' && entry.details?.changed === false);
  const switched = sockets.length - failed.length - same.length;
  const skipped = Array.isArray(summary.details?.skipped) ? (summary.details.skipped as number[]) : [];
  const icon =
    summary.result === 'ok' ? ICONS.done : summary.code === 'FORBIDDEN' ? ICONS.refused : ICONS.failed;
  const parts = [`${icon} **${safe(personName(summary.actor), 60)}** every socket ${action}`];
  if (summary.result === 'error' && summary.code !== 'PARTIAL') {
    parts.push(`${safe(summary.code ?? 'ERROR', 40)}: ${safe(phaseWordsIn(summary.message ?? ''), 300)}`);
  } else {
    parts.push(`${switched} switched`);
    if (same.length > 0) parts.push(`${same.length} already ${action}`);
    if (failed.length > 0) {
      parts.push(
        `${failed.length} failed (${safe(failed.map((entry) => socketLabel({ number: entry.socket ?? 0, name: entry.socketName })).join(', '), 200)})`,
      );
    }
    if (skipped.length > 0) parts.push(`${ICONS.protected} ${ranges(skipped)} left alone`);
  }
  if (summary.durationMs >= 1000) parts.push(formatMs(summary.durationMs));
  parts.push(...auditDetails(summary.details ?? {}));
  return cutLine(`${timePrefix(summary, options)}${parts.join(' · ')}`, MESSAGE_LIMIT);
}

function timePrefix(entry: AuditEntry, options: AuditLinesOptions): string {
  if (!options.times) return '';
  const ms = Date.parse(entry.time);
  if (Number.isNaN(ms)) return '';
  const recent = options.now !== undefined && Math.abs(options.now - ms) < 20 * 3_600_000;
  return recent
    ? `${discordTime(entry.time, 't')} `
    : `${discordTime(entry.time, 'd')} ${discordTime(entry.time, 't')} `;
}

/**
 * One action as a line:
 * `✅ **alice** switched off 5 · nas · forced by bob · reason: “maintenance”`.
 * Who, what, which socket, how it ended (a failure as its code and message,
 * a refusal with ⛔, a cancel with ✖️), and the details worth reading.
 */
export function auditLine(entry: AuditEntry, options: AuditLinesOptions = {}): string {
  const icon =
    entry.result === 'ok'
      ? entry.action === 'cancel'
        ? ICONS.cancelled
        : entry.details?.changed === false
          ? ICONS.noChange
          : ICONS.done
      : entry.code === 'FORBIDDEN' || entry.code === 'NEEDS_CONFIRMATION'
        ? ICONS.refused
        : entry.code === 'CANCELLED'
          ? ICONS.cancelled
          : ICONS.failed;
  const who = `**${safe(personName(entry.actor), 60)}**`;
  const where =
    entry.socket === undefined
      ? ''
      : ` ${safe(socketLabel({ number: entry.socket, name: entry.socketName }), 60)}`;
  const what = entry.result === 'ok' ? okWords(entry) : safe(entry.action, 40);
  const parts = [`${icon} ${who} ${what}${where}`];
  if (entry.result === 'error') {
    if (entry.code === 'FORBIDDEN' || entry.code === 'NEEDS_CONFIRMATION') {
      parts.push(`refused: ${safe(entry.message ?? '', 300)}`);
    } else if (entry.code === 'CANCELLED') {
      parts.push('cancelled');
    } else {
      parts.push(`${safe(entry.code ?? 'ERROR', 40)}: ${safe(phaseWordsIn(entry.message ?? ''), 400)}`);
    }
  } else if (entry.details?.changed === false) {
    parts.push('no change');
  }
  if (entry.durationMs >= 1000) parts.push(formatMs(entry.durationMs));
  parts.push(...auditDetails(entry.details ?? {}));
  return cutLine(`${timePrefix(entry, options)}${parts.join(' · ')}`, MESSAGE_LIMIT);
}

function okWords(entry: AuditEntry): string {
  if (entry.action === 'toggle') {
    const direction = entry.details?.direction;
    return direction === 'on' || direction === 'off' ? `toggled (${direction})` : 'toggled';
  }
  if (entry.action === 'cancel') return 'cancelled the work on';
  return (
    { on: 'switched on', off: 'switched off', cycle: 'power-cycled', reload: 'reloaded the config' }[
      entry.action
    ] ?? safe(entry.action, 40)
  );
}

function auditDetails(details: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof details.forcedBy === 'string') {
    out.push(`${ICONS.skipped} forced by ${safe(details.forcedBy.replace(/^discord:/, ''), 80)}`);
  } else if (details.force === true) {
    out.push(`${ICONS.skipped} forced`);
  }
  if (typeof details.cancelled === 'string') {
    const by =
      typeof details.by === 'string' ? ` started by ${safe(details.by.replace(/^discord:/, ''), 80)}` : '';
    out.push(`the ${safe(details.cancelled, 20)}${by}`);
  }
  if (Array.isArray(details.warnings) && details.warnings.length > 0) {
    out.push(`${ICONS.warning} ${plural(details.warnings.length, 'warning')}`);
  }
  if (typeof details.offTimeMs === 'number') out.push(`off ${formatMs(details.offTimeMs)}`);
  if (typeof details.restore === 'string') out.push('restore after a board reset');
  if (typeof details.reason === 'string' && details.reason.trim()) {
    out.push(`reason: “${safe(details.reason, 300)}”`);
  }
  return out;
}

/**
 * `/pdu log`: the lines of `entries` (auditLines, with times), the newest
 * that fit in one message; when some are left out it says "showing the
 * latest N of M". `requested` is how many entries were asked for.
 */
export function logMessage(entries: readonly AuditEntry[], requested: number, now: number): string {
  if (entries.length === 0) return 'The audit log is empty.';
  const lines = auditLines(entries, { now, times: true });
  const head = (shown: number) =>
    `-# ${entries.length < requested ? `all ${entries.length} entries` : `the latest ${entries.length} entries`}${
      shown < lines.length ? ` · showing the latest ${shown} of ${lines.length} lines` : ''
    }${lines.length < entries.length ? ` (merged into ${lines.length} lines)` : ''}`;
  let kept = lines.slice();
  while (kept.length > 1 && [head(kept.length), ...kept].join('\n').length > MESSAGE_LIMIT)
    kept = kept.slice(1);
  return cutLine([head(kept.length), ...kept].join('\n'), MESSAGE_LIMIT);
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
        ? ICONS.refused
        : error.code === 'BUSY'
          ? ICONS.running
          : error.code === 'CANCELLED'
            ? ICONS.cancelled
            : ICONS.failed;
    return cutLine(`${icon} ${sentence(safe(phaseWordsIn(error.message), 1500))}${incident}`, MESSAGE_LIMIT);
  }
  return incidentId
    ? `${ICONS.failed} Something unexpected went wrong. It is in PiPDU's log as incident \`${incidentId.replace(/`/g, '')}\`.`
    : `${ICONS.failed} Something unexpected went wrong; the details are in PiPDU's log.`;
}

// ------------------------------------------------------------------ alerts

/** What the alert channel posts about (besides alarms). */
export type AlertNews =
  | { kind: 'offline'; since: string; sockets: readonly SocketInfo[] }
  | { kind: 'online'; since: string; sockets: readonly SocketInfo[] }
  | { kind: 'drawingOff'; socket: SocketInfo }
  | { kind: 'reset'; at: string; restored: readonly AuditEntry[] }
  | { kind: 'failed'; entry: AuditEntry; socket: SocketInfo | null };

/**
 * One alert as a message: what happened (bold, first), the state things are
 * in now, a link to the status, and the roles to ping last.
 */
export function alertMessage(
  news: AlertNews,
  options: { roleIds: readonly string[]; link: string | null },
): string {
  const lines: string[] = [];
  switch (news.kind) {
    case 'offline':
      lines.push(
        `${ICONS.offline} **Relay board offline** ${discordTime(news.since, 'R')}: nothing can be switched until it is back.`,
        `Last known: ${onSummary(news.sockets)}.`,
      );
      break;
    case 'online':
      lines.push(
        `${ICONS.online} **Relay board back online**; it was offline from ${discordTime(news.since, 't')}.`,
        `Now: ${onSummary(news.sockets)}.`,
      );
      break;
    case 'drawingOff':
      lines.push(
        `${ICONS.warning} **${safe(socketLabel(news.socket), 60)} draws ${formatWatts(news.socket.watts)} but is shown off.**`,
        'The relay may be stuck, or the socket was switched outside PiPDU: check it.',
      );
      break;
    case 'reset': {
      lines.push(
        `${ICONS.warning} **Relay board reset** ${discordTime(news.at, 'R')} (power loss, watchdog or reset): every relay went off.`,
      );
      const ok = news.restored.filter((entry) => entry.result === 'ok');
      const failed = news.restored.filter((entry) => entry.result === 'error');
      const label = (entry: AuditEntry) =>
        `${socketLabel({ number: entry.socket ?? 0, name: entry.socketName })} ${entry.action}`;
      lines.push(
        ok.length > 0
          ? `Restored: ${safe(ok.map(label).join(', '), 800)}.`
          : 'Nothing was switched back on: every socket is as its restore policy says.',
      );
      if (failed.length > 0) {
        lines.push(`${ICONS.failed} Not restored: ${safe(failed.map(label).join(', '), 400)}.`);
      }
      break;
    }
    case 'failed': {
      const { entry, socket } = news;
      const label = socketLabel({ number: entry.socket ?? 0, name: entry.socketName });
      const direction = entry.details?.direction ?? entry.action;
      const words =
        direction === 'on' || direction === 'off' || direction === 'cycle'
          ? verb(direction)
          : safe(entry.action, 20);
      const steps = Array.isArray(entry.details?.steps) ? (entry.details.steps as PlanLine[]) : [];
      const failed = steps.find((step) => step.status === 'failed');
      lines.push(
        `${ICONS.failed} **Couldn't ${words} ${safe(label, 60)}** (asked by ${safe(personName(entry.actor), 60)} ${discordTime(entry.time, 'R')})`,
        failureHeadline({ code: entry.code ?? 'ERROR', message: entry.message ?? '' }, failed),
      );
      if (socket) {
        const subject = safe(socketSubject(socket), 60);
        const watts = socket.on && socket.watts !== null ? `, ${formatWatts(socket.watts)}` : '';
        const untouched =
          failed && (failed.phase === 'preOff' || failed.phase === 'preOn')
            ? '; the relay was not touched'
            : '';
        lines.push(`**${subject} is ${stateWord(socket.on)}${watts}**${untouched}.`);
      }
      break;
    }
  }
  if (options.link) lines.push(`[Status](<${options.link}>)`);
  if (options.roleIds.length > 0) lines.push(options.roleIds.map((id) => `<@&${id}>`).join(' '));
  return cutLine(lines.join('\n'), MESSAGE_LIMIT);
}

/** `5 of 16 on (router, nas, 7, …), 356 W`. */
function onSummary(sockets: readonly SocketInfo[]): string {
  if (sockets.length === 0) return 'no reading yet';
  const on = sockets.filter((socket) => socket.on === true);
  const names = on.map((socket) => socket.name ?? String(socket.number));
  const list =
    names.length > 0 ? ` (${safe(names.slice(0, 8).join(', '), 200)}${names.length > 8 ? ', …' : ''})` : '';
  const watts = sockets.some((socket) => socket.watts !== null)
    ? `, ${formatWatts(sockets.reduce((sum, socket) => sum + (socket.watts ?? 0), 0))}`
    : '';
  return `${on.length} of ${sockets.length} on${list}${watts}`;
}

// ------------------------------------------------------------------ helpers

/** `<t:1704067200:R>`; the ISO text itself if it does not parse. */
export function discordTime(iso: string, style: 'R' | 'T' | 't' | 'd' | 'f'): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? safe(iso, 40) : `<t:${Math.floor(ms / 1000)}:${style}>`;
}

function codeBlock(text: string): string {
  return `\`\`\`\n${text.replace(/```/g, 'ˋˋˋ')}\n\`\`\``;
}

/**
 * User or config text made safe for one line of markdown: whitespace runs
 * (newlines too) become one space, it is cut to `max` characters, markdown
 * (masked links included) is escaped, and nothing in it can mention anyone
 * or look like a Discord tag: `@everyone`, `@here` and `<@…>`, `<#…>`,
 * `<t:…>` get an invisible break. A plain `root@host` stays as it is, so it
 * can be copied.
 */
export function safe(text: string, max: number): string {
  const flat = cut(text.replace(/\s+/g, ' ').trim(), max);
  return escapeMarkdown(flat, { maskedLink: true })
    .replace(/@(everyone|here)\b/gi, '@\u200b$1')
    .replace(/<([@#:/]|t:|a:)/g, '<\u200b$1');
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
