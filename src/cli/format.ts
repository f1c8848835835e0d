import type { AuditEntry } from '../audit/audit-log.js';
import type { Actor } from '../pdu/actor.js';
import type { AllResult, PduStatus, PendingWork, SocketInfo, SwitchResult } from '../pdu/types.js';

// Readable text for the CLI's answers. Everything here takes the API's JSON
// (already parsed) and returns lines; nothing prints.

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

function pendingText(pending: PendingWork | null): string {
  if (!pending) return '';
  const queued = pending.requests > 1 ? ` (+${pending.requests - 1} queued)` : '';
  const step = pending.step ? `, ${pending.step.phase} ${pending.step.label}: ${pending.step.status}` : '';
  return `${pending.action} by ${actorText(pending.actor)}${step}${queued}`;
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** `pipdu status`: board line, one row per socket, total power. */
export function formatStatus(status: PduStatus): string[] {
  const board = status.board;
  const identity = board.identity
    ? `, ${board.identity.protocol} firmware ${board.identity.firmware}, ${board.identity.channels} channels`
    : '';
  const lines = [`${status.name}: board ${board.driver} ${board.online ? 'online' : 'OFFLINE'}${identity}`];
  const rows = [['#', 'name', 'state', 'W', 'pending']];
  let assumed = false;
  for (const socket of status.sockets) {
    assumed ||= socket.assumed;
    const flags = `${socket.assumed ? '*' : ''}${socket.protected ? ' (protected)' : ''}`;
    rows.push([
      String(socket.number),
      socket.name ?? '',
      `${stateText(socket.on)}${flags}`,
      wattsText(socket.watts),
      pendingText(socket.pending),
    ]);
  }
  lines.push(...table(rows));
  if (assumed) lines.push('* assumed: what PiPDU last sent; this board does not report its state');
  lines.push(
    status.totalWatts === null
      ? 'total: - W (no telemetry)'
      : `total: ${status.totalWatts.toFixed(1)} W at ${status.mainsVoltage} V`,
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
  const parts = [entry.time, actorText(entry.actor), entry.action];
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
  const time = now.toISOString();
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
    case 'boardReset':
      text = `board reset (detected by ${event.detectedBy}${event.resetOnOpen ? ', on opening the port' : ''})`;
      break;
    default:
      text = `${name} ${JSON.stringify(data)}`;
  }
  return `${time}  ${text}`;
}
