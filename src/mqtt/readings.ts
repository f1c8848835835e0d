import type { SocketInfo } from '../pdu/types.js';

/** A socket's readings as last published: VA (or W) and mA; null without telemetry. */
export interface Readings {
  va: number | null;
  currentMa: number | null;
}

/**
 * How far a reading must move from the one last published to be published
 * again: 5% of it, and at least 1 VA or 10 mA. Above the current sensors'
 * noise (±2%), so a steady load sends nothing.
 */
export const DEADBAND = { va: 1, currentMa: 10, relative: 0.05 } as const;

/** Whether a socket's readings moved beyond the deadband from `sent`; appearing or vanishing always counts. */
export function moved(sent: Readings, now: Pick<SocketInfo, 'watts' | 'currentMa'>): boolean {
  const beyond = (before: number | null, after: number | null, absolute: number): boolean => {
    if (before === null || after === null) return before !== after;
    return Math.abs(after - before) >= Math.max(absolute, Math.abs(before) * DEADBAND.relative);
  };
  return beyond(sent.va, now.watts, DEADBAND.va) || beyond(sent.currentMa, now.currentMa, DEADBAND.currentMa);
}
