import type { SocketConfig } from '../config/schema.js';
import { PduError } from '../errors.js';
import type { Requester } from './actor.js';
import {
  type Check,
  canForce,
  canSwitch,
  canSwitchAll,
  forbiddenError,
  needsConfirmation,
} from './permissions.js';
import type { AllResult, PendingWork, SocketInfo, SwitchAction, SwitchResult } from './types.js';

/**
 * One request to the Pdu service: what an interface turned its user's words
 * into. The service alone resolves a toggle's direction, checks the
 * requester's permission, joins or refuses, runs and audits it — at the
 * moment the request acts, against the state it acts on (docs/decisions.md #12).
 */
export interface PduRequest {
  /** A socket number (1..16, as a number or digits), a configured name, or `all` (on/off only). */
  socket: string | number;
  action: SwitchAction | 'cancel';
  by: Requester;
  options?: RequestOptions;
}

export interface RequestOptions {
  /** Skip the preOff hooks of an off (admins; audited as forced). */
  force?: boolean;
  /** Kept in the audit log. */
  reason?: string;
  /** A cycle's off-time in milliseconds; the socket's `offTime` when absent. */
  offTimeMs?: number;
  /** The user confirmed this request (see Requester.confirms): what was confirmed is what is requested. */
  confirmed?: boolean;
  /** All-off: protected sockets too (docs/decisions.md #3). */
  includeProtected?: boolean;
  /**
   * The caller went away (a pdudaemon client hanging up): aborted before the
   * request acts, it never acts (CANCELLED, nothing switched). Work already
   * started is not stopped by it.
   */
  signal?: AbortSignal;
}

/** What a request did, by kind; interfaces render it. */
export type RequestOutcome =
  | { kind: 'switch'; result: SwitchResult }
  | { kind: 'all'; result: AllResult }
  | { kind: 'cancel'; cancelled: PendingWork; socket: SocketInfo }
  /** `all` + `cancel`: the all-sockets requests stopped (their sockets not started stay as they are) and the work cancelled. */
  | { kind: 'cancelAll'; stopped: number; cancelled: SocketInfo[] };

/** The direction a switch action takes on a socket that is `isOn` now (null: unknown, taken as off). */
export function directionOf(action: SwitchAction, isOn: boolean | null): 'on' | 'off' | 'cycle' {
  if (action === 'toggle') return isOn ? 'off' : 'on';
  return action;
}

/**
 * Whether `by` may do `effect` to `socket` now: the role rules of
 * permissions.ts for what the request actually does (a toggle already
 * resolved to on or off), forcing (admins), and the confirmation rule of
 * Requester.confirms. Pure; the service calls it when the request acts.
 */
export function permitSwitch(
  by: Requester,
  socket: SocketConfig,
  effect: 'on' | 'off' | 'cycle',
  options: RequestOptions,
): Check | { ok: false; id: 'needsConfirmation'; message: string } {
  const check = canSwitch(by, socket, effect, null);
  if (!check.ok) return check;
  if (options.force && effect !== 'on') {
    const force = canForce(by, socket);
    if (!force.ok) return force;
  }
  if (by.confirms && !options.confirmed && needsConfirmation(socket, effect)) {
    return {
      ok: false,
      id: 'needsConfirmation',
      message: `socket ${label(socket)} is protected and would switch off: that needs a confirmation; nothing was switched`,
    };
  }
  return check;
}

/** Whether `by` may switch every socket `action` (admins; confirmed where the interface confirms). */
export function permitAll(
  by: Requester,
  action: 'on' | 'off',
  options: RequestOptions,
): Check | { ok: false; id: 'needsConfirmation'; message: string } {
  const check = canSwitchAll(by, action, options.includeProtected ?? false);
  if (!check.ok) return check;
  if (options.force && action === 'off') {
    const force = canForce(by);
    if (!force.ok) return force;
  }
  if (by.confirms && !options.confirmed && needsConfirmation('all', action)) {
    return {
      ok: false,
      id: 'needsConfirmation',
      message: `switching every socket ${action} needs a confirmation; nothing was switched`,
    };
  }
  return check;
}

/** A refused check as the error the request fails with: FORBIDDEN, or NEEDS_CONFIRMATION. */
export function refusal(check: { ok: false; id: string; message: string }): PduError {
  if (check.id === 'needsConfirmation') return new PduError('NEEDS_CONFIRMATION', check.message);
  return forbiddenError(check as Parameters<typeof forbiddenError>[0]);
}

export function label(socket: Pick<SocketConfig, 'number' | 'name'>): string {
  return socket.name ? `${socket.number} (${socket.name})` : String(socket.number);
}
