import type { SocketInfo } from './types.js';

/** Samples kept per series: 15 minutes at the board's one telemetry report a second. */
const KEEP = 900;

/**
 * Power since the page was opened, from the telemetry events: one time axis,
 * the PDU's total and every socket's watts. Charts read it; `version` grows
 * with each sample so they know to redraw.
 */
export class PowerHistory {
  readonly times: number[] = [];
  readonly total: (number | null)[] = [];
  readonly sockets = new Map<number, (number | null)[]>();
  version = 0;

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
    if (this.times.length > KEEP) {
      this.times.shift();
      this.total.shift();
      for (const series of this.sockets.values()) series.shift();
    }
    this.version++;
  }

  series(socket: number | 'total'): [number[], (number | null)[]] {
    if (socket === 'total') return [this.times, this.total];
    return [this.times, this.sockets.get(socket) ?? this.times.map(() => null)];
  }
}
