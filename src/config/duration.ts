import { PduError } from '../errors.js';

/**
 * Durations are written with a unit (`500ms`, `30s`, `1.5s`, `2m`, `1h`) so a
 * bare `30` can never be misread as seconds when it means milliseconds.
 */
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** setTimeout fires at once (with a warning) past 2^31-1 ms, so nothing longer is accepted. */
export const MAX_DURATION_MS = 2_147_483_647;

/** Milliseconds (rounded to a whole number) for a duration string, or undefined if it is not one. */
export function tryParseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const unit = match[2] as keyof typeof DURATION_UNIT_MS;
  return Math.round(Number(match[1]) * DURATION_UNIT_MS[unit]);
}

/** Like tryParseDuration, but throws `BAD_DURATION` (for user input such as a slash command's `off_time`). */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) {
    throw new PduError(
      'BAD_DURATION',
      `"${text}" is not a duration: write a number and a unit, like 500ms, 30s, 2m or 1h`,
    );
  }
  if (ms > MAX_DURATION_MS) throw new PduError('BAD_DURATION', `"${text}" is too long: at most 596h`);
  return ms;
}

/** Byte sizes use binary multiples: 1KB = 1024 bytes (KiB, MiB, GiB are accepted as the same). */
const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/i;
const BYTE_UNIT = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as const;

/** Bytes for `10MB`, `512KB`, `1GB`, `300B` or a plain whole number (bytes), or undefined if it is none. */
export function tryParseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const match = BYTE_SIZE.exec(value.trim());
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase().replace('i', '') as keyof typeof BYTE_UNIT;
  return Math.round(Number(match[1]) * BYTE_UNIT[unit]);
}
