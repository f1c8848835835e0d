import { setTimeout as sleep } from 'node:timers/promises';
import type { Role, SocketConfig } from '../config/schema.js';
import type { Actor } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import { canSwitch, forbiddenError } from '../pdu/permissions.js';

/** pdudaemon's default reboot delay (its listener.py), in seconds. */
const DEFAULT_REBOOT_DELAY_S = 5;
/** A delay longer than this is refused (pdudaemon would hold the request that long). */
export const MAX_DELAY_S = 3600;

/**
 * One pdudaemon command, from either protocol (HTTP's query or a TCP line),
 * as the client sent it: the texts are checked here, in one place.
 */
export interface PdudaemonCommand {
  service: PduService;
  /** Who asks, for the audit log. */
  actor: Actor;
  /** The listener's role for this caller (null: nothing). */
  role: Role | null;
  /** What socket `roles` are matched against (the source address, or a CN). */
  groups: readonly string[];
  /** This PDU's name: the only `hostname` served. */
  pduName: string;
  /** The PDU the client named. */
  hostname: string | null;
  /** `on`, `off` or `reboot`; anything else is refused. */
  command: string;
  /** The 1-based socket, as decimal digits. */
  port: string | null;
  /** Seconds, as decimal digits: before an on/off, or the off-time of a reboot. */
  delay: string | null;
  /** Aborted when the client goes away: what has not started by then never starts. */
  signal: AbortSignal;
}

/**
 * What became of a command. `invalid`: refused before anything happened
 * (bad text, unknown socket, not allowed); `failed`: the service refused or
 * failed it; `gone`: the client left first and nothing was switched.
 */
export type PdudaemonOutcome =
  | { ok: true }
  | { ok: false; kind: 'invalid' | 'failed' | 'gone'; reason: string };

const DIGITS = /^\d+$/;

/**
 * Runs one pdudaemon command: every pdudaemon request, HTTP or TCP, goes
 * through here, and this is the only place that checks permissions and
 * calls the Pdu service for them.
 *
 * The rules, as pdudaemon's listener.py with PiPDU's permissions on top:
 * - `hostname` must be this PDU's name; `port` and `delay` plain decimal
 *   digits (`0x1`, `1e3`, `+5` or an empty value are refused), `delay` at
 *   most MAX_DELAY_S.
 * - `on`/`off` wait `delay` seconds first (default 0), then switch.
 *   `reboot` is a cycle with `delay` seconds off (default 5).
 * - The caller's role decides as everywhere else (canSwitch: a reboot may
 *   leave the socket off); a refusal is audited.
 * - Resolves once the switch happened (or failed), never earlier.
 * - A client that left before its switch started gets nothing switched:
 *   an on/off whose delay it did not wait out, a reboot whose off had not
 *   started. A reboot whose off has started completes, on included, even if
 *   its client leaves during the off-time: a relay left off by a client that
 *   went away is worse than one that comes back on.
 */
export async function runPdudaemonCommand(request: PdudaemonCommand): Promise<PdudaemonOutcome> {
  const { service, signal } = request;
  const invalid = (reason: string): PdudaemonOutcome => ({ ok: false, kind: 'invalid', reason });
  const gone: PdudaemonOutcome = {
    ok: false,
    kind: 'gone',
    reason: 'the client went away before its switch started: nothing switched',
  };
  const { command, port, delay } = request;
  if (command !== 'on' && command !== 'off' && command !== 'reboot') {
    return invalid(`"${command}" is not a pdudaemon command (on, off, reboot)`);
  }
  if (request.hostname !== request.pduName) return invalid(`the PDU here is "${request.pduName}"`);
  if (port === null || !DIGITS.test(port)) return invalid('the port is not a socket number');
  if (delay !== null && (!DIGITS.test(delay) || Number(delay) > MAX_DELAY_S)) {
    return invalid(`the delay is not a whole number of seconds from 0 to ${MAX_DELAY_S}`);
  }
  let socket: SocketConfig;
  try {
    socket = service.resolve(Number(port));
  } catch {
    return invalid(`there is no socket ${port}`);
  }
  const kind = command === 'reboot' ? 'cycle' : command;
  const check = canSwitch(
    { role: request.role, groups: request.groups },
    socket,
    kind,
    service.info(socket.number).on,
  );
  if (!check.ok) {
    service.recordRefusal(request.actor, kind, socket.number, forbiddenError(check));
    return invalid(check.message);
  }
  if (command !== 'reboot' && delay !== null && Number(delay) > 0) {
    try {
      await sleep(Number(delay) * 1000, undefined, { signal });
    } catch {
      return gone;
    }
  }
  if (signal.aborted) return gone;
  try {
    if (command === 'reboot') {
      // No signal from here on: once started, the cycle completes (see above).
      const offTimeMs = (delay === null ? DEFAULT_REBOOT_DELAY_S : Number(delay)) * 1000;
      await service.cycle(socket.number, request.actor, { offTimeMs, reason: 'pdudaemon reboot' });
    } else if (command === 'on') {
      await service.on(socket.number, request.actor);
    } else {
      await service.off(socket.number, request.actor, { reason: 'pdudaemon off' });
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, kind: 'failed', reason: error instanceof Error ? error.message : String(error) };
  }
}
