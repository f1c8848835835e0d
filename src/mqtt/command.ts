import { tryParseDuration } from '../config/duration.js';
import { PduError } from '../errors.js';
import type { SwitchAction } from '../pdu/types.js';

/** Commands longer than this are refused unread. */
export const MAX_COMMAND_BYTES = 256;

export type ParsedCommand =
  | { ok: true; action: SwitchAction; offTimeMs?: number }
  | { ok: false; error: PduError };

/**
 * An MQTT command's payload as a switch action: `set` takes ON, OFF or
 * TOGGLE (any case); `cycle` takes an empty message or PRESS (Home
 * Assistant's button) for the socket's own off-time, or an off-time with its
 * unit (`10s`, `500ms`). Anything else is a BAD_REQUEST or BAD_DURATION that
 * says what was expected. Pure: whether the action is allowed is the
 * service's to decide when it acts.
 */
export function parseCommand(verb: 'set' | 'cycle', payload: Buffer): ParsedCommand {
  if (payload.length > MAX_COMMAND_BYTES) {
    return refuse('BAD_REQUEST', `a command is at most ${MAX_COMMAND_BYTES} bytes; nothing was switched`);
  }
  const text = payload.toString('utf8').trim();
  if (verb === 'set') {
    const word = text.toUpperCase();
    if (word === 'ON') return { ok: true, action: 'on' };
    if (word === 'OFF') return { ok: true, action: 'off' };
    if (word === 'TOGGLE') return { ok: true, action: 'toggle' };
    return refuse('BAD_REQUEST', 'expected ON, OFF or TOGGLE; nothing was switched');
  }
  if (text === '' || text.toUpperCase() === 'PRESS') return { ok: true, action: 'cycle' };
  const offTimeMs = tryParseDuration(text);
  if (offTimeMs === undefined) {
    return refuse(
      'BAD_DURATION',
      'expected an empty message, PRESS, or an off-time like 10s or 500ms; nothing was switched',
    );
  }
  return { ok: true, action: 'cycle', offTimeMs };
}

function refuse(code: 'BAD_REQUEST' | 'BAD_DURATION', message: string): ParsedCommand {
  return { ok: false, error: new PduError(code, message) };
}
