import { PduError } from '../errors.js';

/** A history request, as `GET /api/v1/history` and the bot ask for it. */
export interface HistoryRequest {
  /** Socket numbers, or null for the PDU's total. */
  sockets: (number | null)[];
  from: number;
  to: number;
  stepMs?: number;
}

const SPAN = /^(\d+(?:\.\d+)?)(s|m|h|d|w|y)$/;
const SPAN_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_557_600_000 };

/** `30s`, `5m`, `24h`, `30d`, `1y` in ms, or undefined. */
function span(text: string): number | undefined {
  const match = SPAN.exec(text.trim());
  return match ? Number(match[1]) * SPAN_MS[match[2] as keyof typeof SPAN_MS] : undefined;
}

/** A time: ISO 8601, epoch milliseconds, or a span ago (`24h` = 24 hours before now). */
function time(name: string, text: string, now: number): number {
  const ago = span(text);
  if (ago !== undefined) return now - ago;
  if (/^\d+$/.test(text)) return Number(text);
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) {
    throw new PduError(
      'BAD_REQUEST',
      `${name}: expected an ISO time, epoch milliseconds or a span ago like 24h, got "${text}"`,
    );
  }
  return parsed;
}

/**
 * Reads `socket` (1..16, several comma-separated, or `total`; default
 * total), `from` (default 24h ago), `to` (default now) and `step` (≥ 10s;
 * default: the resolution that fits). Every bad value is a BAD_REQUEST
 * saying which.
 */
export function parseHistoryQuery(params: URLSearchParams, now: number): HistoryRequest {
  for (const key of params.keys()) {
    if (!['socket', 'from', 'to', 'step'].includes(key)) {
      throw new PduError('BAD_REQUEST', `unknown parameter "${key}": expected socket, from, to or step`);
    }
  }
  const sockets = (params.get('socket') ?? 'total').split(',').map((part) => {
    const text = part.trim().toLowerCase();
    if (text === 'total' || text === 'pdu') return null;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < 1 || n > 16) {
      throw new PduError('BAD_REQUEST', `socket: expected 1..16 or total, got "${part}"`);
    }
    return n;
  });
  if (sockets.length > 17) throw new PduError('BAD_REQUEST', 'socket: at most 17 series at once');
  const from = time('from', params.get('from') ?? '24h', now);
  const to = time('to', params.get('to') ?? String(now), now);
  if (!(from < to)) throw new PduError('BAD_REQUEST', 'from must be before to');
  const stepText = params.get('step');
  const request: HistoryRequest = { sockets, from, to };
  if (stepText !== null) {
    const step = span(stepText);
    if (step === undefined || step < 10_000) {
      throw new PduError(
        'BAD_REQUEST',
        `step: expected a span of at least 10s, like 10s, 1m or 1h, got "${stepText}"`,
      );
    }
    if ((to - from) / step > 100_000)
      throw new PduError('BAD_REQUEST', 'step: too fine for the range (at most 100000 points)');
    request.stepMs = step;
  }
  return request;
}
