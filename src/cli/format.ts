import type { AuditEntry } from '../audit/audit-log.js';
import type { Actor } from '../pdu/actor.js';
import type { AllResult, PduStatus, PendingWork, SocketInfo, SwitchResult } from '../pdu/types.js';

// Readable text for the CLI's answers. Everything here takes the API's JSON
// (already parsed) and returns lines; nothing prints. Times are the local
// time of the machine running the CLI, as the daemon's own log shows them.

/** ANSI colours, or none (not a terminal, NO_COLOR): each wraps a piece of text. */
export interface Paint {
  on(text: string): string;
  off(text: string): string;
  warn(text: string): string;
  bad(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const sgr =
  (code: string) =>
  (text: string): string =>
    text === '' ? text : `\u001b[${code}m${text}\u001b[0m`;
const same = (text: string): string => text;

export const NO_PAINT: Paint = { on: same, off: same, warn: same, bad: same, dim: same, bold: same };
export const ANSI_PAINT: Paint = {
  on: sgr('32'),
  off: sgr('2'),
  warn: sgr('33'),
  bad: sgr('1;31'),
  dim: sgr('2'),
  bold: sgr('1'),
};

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function paintFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Paint {
  return stream.isTTY && !env.NO_COLOR ? ANSI_PAINT : NO_PAINT;
}

/** `2026-12-04 14:01:16` in this machine's time zone. */
export function localTime(time: Date | string): string {
  const date = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(date.getTime())) return String(time);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

export function socketLabel(socket: Pick<SocketInfo, 'number' | 'name'>): string {
  return socket.name ? `socket ${socket.number} (${socket.name})` : `socket ${socket.number}`;
}

function actorText(actor: Actor | undefined): string {
  return actor ? `${actor.kind}:${actor.id}` : '?';
}

function stateText(on: boolean | null): string {
  return on === null ? '?' : on ? 'on' : 'off';
}

function wattsText(watts: number | null): string {
  return watts === null ? '-' : watts.toFixed(1);
}

function ampsText(milliamps: number | null): string {
  return milliamps === null ? '-' : (milliamps / 1000).toFixed(2);
}

function pendingText(pending: PendingWork | null): string {
  if (!pending) return '';
  const queued = pending.requests > 1 ? ` (+${pending.requests - 1} queued)` : '';
  const step = pending.step ? `, ${pending.step.phase} ${pending.step.label}: ${pending.step.status}` : '';
  return `${pending.action} by ${actorText(pending.actor)}${step}${queued}`;
}

/** A table cell: its text (widths are measured on it), how to colour it, and right-aligned (numbers). */
interface Cell {
  text: string;
  paint?: (text: string) => string;
  right?: boolean;
}

function table(rows: Cell[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.text.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, index) => {
        const width = widths[index] ?? 0;
        const last = index === row.length - 1;
        const padded = cell.right ? cell.text.padStart(width) : last ? cell.text : cell.text.padEnd(width);
        return cell.paint ? cell.paint(padded) : padded;
      })
      .join('  ')
      .trimEnd(),
  );
}

/**
 * `pipdu status`: board line, one row per socket (state, watts and amps
 * aligned, pending work), total power. While the board is offline nothing it
 * last said is shown as if current: states are `unknown`, no power.
 */
export function formatStatus(status: PduStatus, paint: Paint = NO_PAINT): string[] {
  const board = status.board;
  const online = board.online;
  const identity = board.identity
    ? `, ${board.identity.protocol} firmware ${board.identity.firmware}, ${board.identity.channels} channels`
    : '';
  const lines = [
    `${paint.bold(status.name)}: board ${board.driver} ${online ? paint.on('online') : paint.bad('OFFLINE')}${identity}`,
  ];
  const header = ['#', 'name', 'state', 'W', 'A', 'pending'].map((text, i) => ({
    text,
    paint: paint.dim,
    right: i === 0 || i === 3 || i === 4,
  }));
  const rows: Cell[][] = [header];
  let assumed = false;
  for (const socket of status.sockets) {
    const on = online ? socket.on : null;
    assumed ||= online && socket.assumed;
    const flags = `${online && socket.assumed ? '*' : ''}${socket.protected ? ' (protected)' : ''}`;
    const state = on === null ? 'unknown' : on ? 'on' : 'off';
    rows.push([
      { text: String(socket.number), right: true },
      { text: socket.name ?? '' },
      { text: `${state}${flags}`, paint: on === null ? paint.warn : on ? paint.on : paint.off },
      { text: online ? wattsText(socket.watts) : '-', right: true },
      { text: online ? ampsText(socket.currentMa) : '-', right: true },
      { text: pendingText(socket.pending), paint: paint.warn },
    ]);
  }
  lines.push(...table(rows));
  if (assumed) lines.push('* assumed: what PiPDU last sent; this board does not report its state');
  if (!online) lines.push(paint.bad('the board is offline: states unknown until it answers again'));
  else
    lines.push(
      status.totalWatts === null
        ? 'total: - W (no telemetry)'
        : `total: ${paint.bold(`${status.totalWatts.toFixed(1)} W`)} at ${status.mainsVoltage} V`,
    );
  return lines;
}

const DONE: Record<SwitchResult['action'], string> = {
  on: 'switched on',
  off: 'switched off',
  toggle: 'toggled',
  cycle: 'power-cycled',
};

/** `pipdu on|off|toggle|cycle`: the outcome line (stdout) and warnings (stderr). */
export function formatSwitch(result: SwitchResult): { line: string; warnings: string[] } {
  const label = socketLabel(result.socket);
  const seconds = `${(result.durationMs / 1000).toFixed(1)} s`;
  let line: string;
  if (!result.changed && result.action !== 'cycle') {
    line = `${label} was already ${stateText(result.socket.on)}`;
  } else {
    line = `${label} ${DONE[result.action]}, now ${stateText(result.socket.on)} (${seconds})`;
  }
  if (result.forcedBy) line += `, forced by ${actorText(result.forcedBy)}`;
  if (result.warnings.length > 0) line += `, ${result.warnings.length} warning(s)`;
  return { line, warnings: result.warnings.map((warning) => `warning: ${warning}`) };
}

/** `pipdu on|off all`: one line per socket it concerned. */
export function formatAll(result: AllResult): string[] {
  const lines = result.outcomes.map((outcome) =>
    outcome.ok
      ? formatSwitch(outcome.result).line
      : `socket ${outcome.socket}: ${outcome.error.code}: ${outcome.error.message}`,
  );
  if (result.skipped.length > 0) lines.push(`skipped (protected): ${result.skipped.join(', ')}`);
  return lines;
}

/** `pipdu log`: one line per audit entry. */
export function formatAuditEntry(entry: AuditEntry): string {
  const parts = [localTime(entry.time), actorText(entry.actor), entry.action];
  if (entry.socket !== undefined) {
    parts.push(socketLabel({ number: entry.socket, name: entry.socketName ?? null }));
  }
  parts.push(
    entry.result === 'ok' ? 'ok' : `error ${entry.code ?? ''}${entry.message ? `: ${entry.message}` : ''}`,
  );
  parts.push(`${entry.durationMs} ms`);
  const reason = entry.details?.reason;
  if (typeof reason === 'string') parts.push(`reason: ${reason}`);
  if (entry.details?.force === true) parts.push('forced');
  return parts.join('  ');
}

/** `pipdu watch`: one line per event. */
export function formatEvent(name: string, data: unknown, now = new Date()): string {
  const time = localTime(now);
  // biome-ignore lint/suspicious/noExplicitAny: event payloads from the API, read field by field
  const event = data as any;
  let text: string;
  switch (name) {
    case 'socketChanged':
      text = `${socketLabel(event.socket)} ${stateText(event.socket.on)} (was ${stateText(event.previous)}; ${event.cause})`;
      break;
    case 'pending':
      text = event.pending
        ? `${socketLabel(event.socket)} busy: ${pendingText(event.pending)}`
        : `${socketLabel(event.socket)} idle`;
      break;
    case 'step': {
      const step = event.step;
      const error = step.error ? ` (${step.error.code}: ${step.error.message})` : '';
      text = `${socketLabel(event.socket)} ${step.phase} step ${step.index}/${step.total} ${step.label}: ${step.status}${error}`;
      break;
    }
    case 'boardOnline':
      text = `board online${event.reconnect ? ' again' : ''} (${event.identity?.protocol ?? '?'} firmware ${event.identity?.firmware ?? '?'})`;
      break;
    case 'boardOffline':
      text = `board OFFLINE: ${event.reason?.code ?? '?'}: ${event.reason?.message ?? ''}`;
      break;
    case 'alarm':
      text = `alarm ${event.state}: ${event.alarm?.message ?? JSON.stringify(event.alarm)}`;
      break;
    case 'boardReset':
      text = `board reset (detected by ${event.detectedBy}${event.resetOnOpen ? ', on opening the port' : ''})`;
      break;
    default:
      text = `${name} ${JSON.stringify(data)}`;
  }
  return `${time}  ${text}`;
}
