import type { EnergyFigures } from '../pdu/types.js';

/** One telemetry reading as the energy part uses it: when it arrived and each socket's real power estimate. */
export interface PowerReading {
  /** Epoch ms the reading arrived (its real time: the board's readings carry none). */
  at: number;
  /** Real power estimate per socket (index = number - 1), W. */
  watts: readonly number[];
}

/** What energy.json holds: joules per socket and for the PDU, by total, day and month. */
export interface CounterState {
  version: 1;
  /** Joules per socket (index = number - 1) since counting began. */
  total: number[];
  pduTotal: number;
  /** Local date (YYYY-MM-DD) `today` counts. */
  day: string;
  today: number[];
  pduToday: number;
  /** Local month (YYYY-MM) `month` counts. */
  month: string;
  monthly: number[];
  pduMonth: number;
  /** Breaks in the readings where nothing was counted, and how long they lasted in all. */
  gaps: number;
  unmeasuredMs: number;
  /** Epoch ms of the last reading counted; a restart is a gap from here. */
  lastAt: number | null;
  /** Each socket's recent average current while on, mA (the overload guard's estimate). */
  recentDrawMa: (number | null)[];
  savedAt?: string;
}

const J_PER_KWH = 3_600_000;
/** Weight of a new reading in a socket's recent average draw (≈ the last 20 readings, 10 s at 2 Hz). */
const DRAW_WEIGHT = 0.1;

export function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Energy counters, integrated from each reading over its real interval
 * (trapezoid between consecutive readings).
 *
 * Rules:
 * - Only an interval between two readings at most `maxGapMs` apart is
 *   counted. A longer interval, an offline spell or a restart (`interrupt()`)
 *   is a gap: counted in `gaps`/`unmeasuredMs`, never integrated.
 * - Counters only grow; today's and this month's restart at local midnight
 *   and on the first of the month.
 * - Pure: no clock, no I/O (the Energy part saves `state`).
 */
export class EnergyCounters {
  private s: CounterState;
  private last: PowerReading | null = null;
  /** Since when readings are missing (an interruption or a restart), if they are. */
  private gapSince: number | null = null;

  constructor(
    private readonly sockets: number,
    private readonly maxGapMs: number,
    saved?: CounterState | null,
  ) {
    this.s = saved && valid(saved, sockets) ? structuredClone(saved) : fresh(sockets, Date.now());
    // Whatever happened between the last reading saved and the next one was not measured.
    if (saved && this.s.lastAt !== null) this.gapSince = this.s.lastAt;
  }

  /** Counts a reading's interval since the previous one, or a gap. */
  ingest(reading: PowerReading): void {
    this.roll(reading.at);
    const last = this.last;
    if (last && reading.at > last.at && reading.at - last.at <= this.maxGapMs) {
      const seconds = (reading.at - last.at) / 1000;
      let pdu = 0;
      for (let i = 0; i < this.sockets; i++) {
        const joules = (((last.watts[i] ?? 0) + (reading.watts[i] ?? 0)) / 2) * seconds;
        this.s.total[i]! += joules;
        this.s.today[i]! += joules;
        this.s.monthly[i]! += joules;
        pdu += joules;
      }
      this.s.pduTotal += pdu;
      this.s.pduToday += pdu;
      this.s.pduMonth += pdu;
    } else if (last || this.gapSince !== null) {
      const since = last ? last.at : (this.gapSince as number);
      this.s.gaps++;
      this.s.unmeasuredMs += Math.max(0, reading.at - since);
    }
    this.gapSince = null;
    this.last = { at: reading.at, watts: [...reading.watts] };
    this.s.lastAt = reading.at;
  }

  /** Readings stop here (the board went offline, the daemon stops): the next one starts after a gap. */
  interrupt(): void {
    if (this.last) this.gapSince = this.last.at;
    this.last = null;
  }

  /** Notes a socket's current while its relay is on, for its recent average draw. */
  noteDraw(index: number, milliamps: number): void {
    const previous = this.s.recentDrawMa[index] ?? null;
    this.s.recentDrawMa[index] =
      previous === null ? milliamps : previous + (milliamps - previous) * DRAW_WEIGHT;
  }

  recentDrawMa(index: number): number | null {
    return this.s.recentDrawMa[index] ?? null;
  }

  /** Joules since counting began: a socket's (index = number - 1), or the PDU's with null. */
  joules(index: number | null): number {
    return index === null ? this.s.pduTotal : (this.s.total[index] ?? 0);
  }

  /** kWh today, this month and in all, at `now` (a day or month without readings yet reads 0). */
  figures(index: number | null, now: number): EnergyFigures {
    const day = localDay(now);
    const today = day === this.s.day ? (index === null ? this.s.pduToday : (this.s.today[index] ?? 0)) : 0;
    const month =
      day.slice(0, 7) === this.s.month
        ? index === null
          ? this.s.pduMonth
          : (this.s.monthly[index] ?? 0)
        : 0;
    return {
      todayKwh: kwh(today),
      monthKwh: kwh(month),
      totalKwh: kwh(this.joules(index)),
      gaps: this.s.gaps,
    };
  }

  get gaps(): number {
    return this.s.gaps;
  }

  get unmeasuredMs(): number {
    return this.s.unmeasuredMs;
  }

  /** A copy to save. */
  state(savedAt: number): CounterState {
    return { ...structuredClone(this.s), savedAt: new Date(savedAt).toISOString() };
  }

  private roll(at: number): void {
    const day = localDay(at);
    if (day === this.s.day) return;
    this.s.day = day;
    this.s.today = this.s.today.map(() => 0);
    this.s.pduToday = 0;
    const month = day.slice(0, 7);
    if (month !== this.s.month) {
      this.s.month = month;
      this.s.monthly = this.s.monthly.map(() => 0);
      this.s.pduMonth = 0;
    }
  }
}

function kwh(joules: number): number {
  return Math.round((joules / J_PER_KWH) * 1e6) / 1e6;
}

function fresh(sockets: number, now: number): CounterState {
  const zeros = () => Array.from({ length: sockets }, () => 0);
  const day = localDay(now);
  return {
    version: 1,
    total: zeros(),
    pduTotal: 0,
    day,
    today: zeros(),
    pduToday: 0,
    month: day.slice(0, 7),
    monthly: zeros(),
    pduMonth: 0,
    gaps: 0,
    unmeasuredMs: 0,
    lastAt: null,
    recentDrawMa: Array.from({ length: sockets }, () => null),
  };
}

/** A saved state this code can continue from (anything else starts afresh, and the Energy part says so). */
export function valid(state: unknown, sockets: number): state is CounterState {
  const s = state as Partial<CounterState> | null;
  const numbers = (a: unknown) =>
    Array.isArray(a) &&
    a.length === sockets &&
    a.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0);
  return (
    !!s &&
    s.version === 1 &&
    numbers(s.total) &&
    numbers(s.today) &&
    numbers(s.monthly) &&
    [s.pduTotal, s.pduToday, s.pduMonth, s.gaps, s.unmeasuredMs].every(
      (n) => typeof n === 'number' && Number.isFinite(n) && n >= 0,
    ) &&
    typeof s.day === 'string' &&
    typeof s.month === 'string' &&
    (s.lastAt === null || typeof s.lastAt === 'number') &&
    Array.isArray(s.recentDrawMa) &&
    s.recentDrawMa.length === sockets
  );
}
