import type { SocketInfo } from './types.js';

/** Samples kept per series: 15 minutes at the board's one telemetry report a second. */
const KEEP = 900;

/** `GET /api/v1/history`'s answer: per requested series, buckets of min/avg/max. */
export interface HistoryAnswer {
  series: Array<{ socket: number | 'total'; points: Array<{ t: number; avg: number }> }>;
}

/**
 * Power over time: the daemon's stored history of the last hours (where it
 * keeps one), then the telemetry events since the page was opened. One time
 * axis, the PDU's total and every socket's watts. Charts read it; `version`
 * grows with each change so they know to redraw.
 */
export class PowerHistory {
  readonly times: number[] = [];
  readonly total: (number | null)[] = [];
  readonly sockets = new Map<number, (number | null)[]>();
  version = 0;
  /** Whether the stored history is in (else: only since the page was opened). */
  stored = false;

  /**
   * Puts the stored history before what the page has seen: `answer` for the
   * series `total, 1, 2, … 16` in that order (buckets older than the first
   * live sample only).
   */
  seed(answer: HistoryAnswer): void {
    const first = this.times[0] ?? Number.POSITIVE_INFINITY;
    const byTime = new Map<number, (number | null)[]>();
    answer.series.forEach(({ points }, index) => {
      for (const point of points) {
        const t = point.t / 1000;
        if (t >= first) continue;
        const row = byTime.get(t) ?? new Array<number | null>(answer.series.length).fill(null);
        row[index] = point.avg;
        byTime.set(t, row);
      }
    });
    const times = [...byTime.keys()].sort((a, b) => a - b);
    const rows = times.map((t) => byTime.get(t) as (number | null)[]);
    const live = this.times.length;
    this.times.unshift(...times);
    this.total.unshift(...rows.map((row) => row[0] ?? null));
    for (let socket = 1; socket <= answer.series.length - 1; socket++) {
      const series = this.sockets.get(socket) ?? new Array<number | null>(live).fill(null);
      series.unshift(...rows.map((row) => row[socket] ?? null));
      this.sockets.set(socket, series);
    }
    for (const series of this.sockets.values()) {
      while (series.length < this.times.length) series.unshift(null);
    }
    this.seededCount += times.length;
    this.stored = true;
    this.version++;
  }

  add(at: number, sockets: readonly SocketInfo[], totalWatts: number | null): void {
    this.times.push(at / 1000);
    this.total.push(totalWatts);
    for (const socket of sockets) {
      let series = this.sockets.get(socket.number);
      if (!series) {
        series = new Array<number | null>(this.times.length - 1).fill(null);
        this.sockets.set(socket.number, series);
      }
      series.push(socket.watts);
    }
    for (const series of this.sockets.values()) {
      while (series.length < this.times.length) series.push(null);
    }
    while (this.times.length > KEEP + this.seeded()) {
      this.times.shift();
      this.total.shift();
      for (const series of this.sockets.values()) series.shift();
    }
    this.version++;
  }

  /** How many stored buckets lead the live samples (kept beside the KEEP live ones). */
  private seededCount = 0;
  private seeded(): number {
    return this.seededCount;
  }

  series(socket: number | 'total'): [number[], (number | null)[]] {
    if (socket === 'total') return [this.times, this.total];
    return [this.times, this.sockets.get(socket) ?? this.times.map(() => null)];
  }
}
