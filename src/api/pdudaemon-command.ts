import { setTimeout as sleep } from 'node:timers/promises';
import type { SocketConfig } from '../config/schema.js';
import type { Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import type { PduRequest } from '../pdu/request.js';

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
  /** Who asks: the actor for the audit log, the listener's role, and the groups socket `roles` match (address or CN). */
  by: Requester;
  /** The PDU the client named: it must be this PDU's name (the one in force). */
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
 * - The service decides whether the caller may, as for every interface
 *   (a reboot may leave the socket off); a refusal is audited there.
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
  const pduName = service.config.name;
  if (request.hostname !== pduName) return invalid(`the PDU here is "${pduName}"`);
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
  const offTimeMs = (delay === null ? DEFAULT_REBOOT_DELAY_S : Number(delay)) * 1000;
  const switchRequest: PduRequest =
    command === 'reboot'
      ? {
          socket: socket.number,
          action: 'cycle',
          by: request.by,
          options: { offTimeMs, reason: 'pdudaemon reboot' },
        }
      : {
          socket: socket.number,
          action: command,
          by: request.by,
          options: command === 'off' ? { reason: 'pdudaemon off' } : {},
        };
  // Refused now rather than after the delay: the service says why and audits it.
  const preview = service.preview(switchRequest);
  if (!preview.ok) {
    try {
      await service.submit(switchRequest);
    } catch (error) {
      return invalid(error instanceof Error ? error.message : String(error));
    }
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
    // The signal goes with the request: queued behind other work, it never starts once the client
    // has gone; once started (a reboot's off), it completes (see above).
    await service.submit({ ...switchRequest, options: { ...switchRequest.options, signal } });
    return { ok: true };
  } catch (error) {
    if (signal.aborted) return gone;
    return { ok: false, kind: 'failed', reason: error instanceof Error ? error.message : String(error) };
  }
}
