import type { PduConfig } from '../config/schema.js';
import type { Alarm, SocketInfo } from '../pdu/types.js';

/** One limit checked at a reading. */
export interface Condition {
  id: string;
  kind: Alarm['kind'];
  severity: Alarm['severity'];
  socket: number | null;
  socketName: string | null;
  unit: Alarm['unit'];
  /** `above`: the value crossing over `limit` is the problem; otherwise falling under it. */
  above: boolean;
  limit: number;
  /** A raised alarm clears only past this level (the hysteresis band between). */
  clearAt: number;
  forMs: number;
  /** The value now; null where the limit does not apply now (underPower with the relay off). */
  value: number | null;
}

interface Track {
  pendingSince: number | null;
  clearingSince: number | null;
  raised: Alarm | null;
}

export type AlarmListener = (alarm: Alarm, state: 'raised' | 'cleared', at: number) => void;

/**
 * Alarms from limits on readings, with hysteresis both ways.
 *
 * Rules:
 * - An alarm is raised once the value has been past its limit for `for`; a
 *   dip back into the hysteresis band (between the limit and `clearAt`) does
 *   not restart that wait, only a value past `clearAt` does.
 * - A raised alarm clears once the value has stayed past `clearAt` for the
 *   same `for`; at once when the limit stops applying (relay off for
 *   underPower) or is no longer configured. So a value hovering at a limit
 *   raises one alarm, not fifty.
 * - Pure: the caller gives the time; it switches nothing.
 */
export class AlarmWatch {
  private readonly tracks = new Map<string, Track>();

  constructor(private readonly listener: AlarmListener) {}

  /** Every alarm raised now, by id order. */
  active(): Alarm[] {
    return [...this.tracks.values()]
      .flatMap((track) => (track.raised ? [track.raised] : []))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Checks the conditions of one reading at `now`. */
  evaluate(conditions: readonly Condition[], now: number): void {
    const seen = new Set<string>();
    for (const condition of conditions) {
      seen.add(condition.id);
      this.check(condition, now);
    }
    for (const [id, track] of this.tracks) {
      if (seen.has(id)) continue;
      if (track.raised) this.clear(track, now);
      this.tracks.delete(id);
    }
  }

  private check(c: Condition, now: number): void {
    let track = this.tracks.get(c.id);
    if (!track) {
      track = { pendingSince: null, clearingSince: null, raised: null };
      this.tracks.set(c.id, track);
    }
    if (c.value === null) {
      track.pendingSince = null;
      track.clearingSince = null;
      if (track.raised) this.clear(track, now);
      return;
    }
    const past = c.above ? c.value > c.limit : c.value < c.limit;
    const clear = c.above ? c.value <= c.clearAt : c.value >= c.clearAt;
    if (!track.raised) {
      if (past) track.pendingSince ??= now;
      else if (clear) track.pendingSince = null;
      if (track.pendingSince !== null && now - track.pendingSince >= c.forMs) {
        track.pendingSince = null;
        track.clearingSince = null;
        track.raised = describe(c, now);
        this.listener(track.raised, 'raised', now);
      }
      return;
    }
    const raised = track.raised;
    raised.value = round(c.value);
    raised.worst = round(c.above ? Math.max(raised.worst, c.value) : Math.min(raised.worst, c.value));
    if (clear) track.clearingSince ??= now;
    else track.clearingSince = null;
    if (track.clearingSince !== null && now - track.clearingSince >= c.forMs) this.clear(track, now);
  }

  private clear(track: Track, now: number): void {
    const alarm = track.raised;
    track.raised = null;
    track.clearingSince = null;
    if (alarm) this.listener(alarm, 'cleared', now);
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function describe(c: Condition, now: number): Alarm {
  const where =
    c.socket === null ? 'the PDU' : `socket ${c.socket}${c.socketName ? ` (${c.socketName})` : ''}`;
  const value = round(c.value ?? 0);
  const what: Record<Alarm['kind'], string> = {
    overCurrent: `${where} draws ${value} A, over its limit of ${c.limit} A`,
    underPower: `${where} is on but uses ${value} W, under its ${c.limit} W: has it died or hung?`,
    maxCurrent: `${where} draws ${value} A in total, over alarms.maxCurrent ${c.limit} A`,
    maxCurrentWarning: `${where} draws ${value} A in total, past the early warning at ${c.limit} A`,
  };
  return {
    id: c.id,
    kind: c.kind,
    severity: c.severity,
    socket: c.socket,
    socketName: c.socketName,
    unit: c.unit,
    limit: c.limit,
    value,
    worst: value,
    since: new Date(now).toISOString(),
    message: what[c.kind],
  };
}

/** The limits the config sets, with the values of one reading. */
export function conditionsFor(config: PduConfig, sockets: readonly SocketInfo[]): Condition[] {
  const h = config.alarms.hysteresis;
  const conditions: Condition[] = [];
  let totalMa = 0;
  for (const info of sockets) {
    totalMa += info.currentMa ?? 0;
    const socket = config.sockets[info.number - 1];
    if (!socket) continue;
    const base = { socket: info.number, socketName: info.name };
    const over = socket.alarms.overCurrent;
    if (over) {
      conditions.push({
        ...base,
        id: `overCurrent:${info.number}`,
        kind: 'overCurrent',
        severity: 'critical',
        unit: 'A',
        above: true,
        limit: over.amps,
        clearAt: over.amps * (1 - h),
        forMs: over.for,
        value: info.currentMa === null ? null : info.currentMa / 1000,
      });
    }
    const under = socket.alarms.underPower;
    if (under) {
      conditions.push({
        ...base,
        id: `underPower:${info.number}`,
        kind: 'underPower',
        severity: 'warning',
        unit: 'W',
        above: false,
        limit: under.watts,
        clearAt: under.watts * (1 + h),
        forMs: under.for,
        value: info.on === true && !info.pending ? info.realWatts : null,
      });
    }
  }
  const max = config.alarms.maxCurrent;
  if (max) {
    const pdu = { socket: null, socketName: null, unit: 'A' as const, above: true, forMs: max.for };
    conditions.push({
      ...pdu,
      id: 'maxCurrent',
      kind: 'maxCurrent',
      severity: 'critical',
      limit: max.amps,
      clearAt: max.amps * (1 - h),
      value: totalMa / 1000,
    });
    const warn = Math.round(max.amps * max.warnAt * 100) / 100;
    if (max.warnAt < 1) {
      conditions.push({
        ...pdu,
        id: 'maxCurrentWarning',
        kind: 'maxCurrentWarning',
        severity: 'warning',
        limit: warn,
        clearAt: warn * (1 - h),
        value: totalMa / 1000,
      });
    }
  }
  return conditions;
}
