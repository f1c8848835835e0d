import type { SocketInfo } from './types.js';

export function socketLabel(socket: Pick<SocketInfo, 'number' | 'name'>): string {
  return socket.name ? `${socket.name} (socket ${socket.number})` : `Socket ${socket.number}`;
}

export function clock(iso: string | number | null): string {
  if (iso === null) return '?';
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function stamp(iso: string): string {
  const date = new Date(iso);
  return `${date.toLocaleDateString()} ${clock(iso)}`;
}

export function watts(value: number | null): string {
  return value === null ? '— W' : `${value.toFixed(value < 10 ? 1 : 0)} W`;
}

export function amps(milliamps: number | null): string {
  return milliamps === null ? '— A' : `${(milliamps / 1000).toFixed(2)} A`;
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
