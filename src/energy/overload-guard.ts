import type { PduConfig, SocketConfig } from '../config/schema.js';
import { PduError } from '../errors.js';
import type { Requester } from '../pdu/actor.js';

/** What the guard knows of the sockets' draw: its estimate per socket. */
export interface LoadEstimates {
  /** A socket's recent average current while on (mA), or null when it has not been seen on. */
  recentDrawMa(socket: number): number | null;
}

/**
 * The overload guard (inrush, "overload avoidance"): switching a socket on
 * is refused OVERLOAD when the measured total now plus the socket's recent
 * draw would exceed `alarms.maxCurrent`, unless an admin forces it. Nothing
 * to check without a maxCurrent, without telemetry, or with the socket on.
 * Returns the refusal, or null to go ahead.
 */
export function overloadRefusal(input: {
  config: PduConfig;
  socket: SocketConfig;
  by: Requester;
  force: boolean;
  /** The latest reading per channel (mA); null without telemetry. */
  currents: readonly number[] | null;
  alreadyOn: boolean;
  loads: LoadEstimates | undefined;
}): PduError | null {
  const max = input.config.alarms.maxCurrent;
  if (!max || input.alreadyOn || !input.currents || !input.loads) return null;
  if (input.force && input.by.role === 'admin') return null;
  const draw = input.loads.recentDrawMa(input.socket.number);
  if (draw === null) return null;
  const now = input.currents.reduce((sum, ma) => sum + ma, 0);
  const after = (now + draw) / 1000;
  if (after <= max.amps) return null;
  const name = input.socket.name
    ? `${input.socket.number} (${input.socket.name})`
    : String(input.socket.number);
  return new PduError(
    'OVERLOAD',
    `switching socket ${name} on would draw about ${after.toFixed(1)} A in all (${(now / 1000).toFixed(1)} A now + ${(draw / 1000).toFixed(1)} A it drew recently), over alarms.maxCurrent ${max.amps} A; nothing was switched (an admin can force it)`,
  );
}
