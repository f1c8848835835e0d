import type { Role, SocketConfig } from '../config/schema.js';
import { PduError } from '../errors.js';

/**
 * Who may do what (docs/decisions.md #2 and #3), as small pure functions.
 * The Pdu service calls them when a request acts (request.ts's permitSwitch
 * and permitAll, for what the request actually does); interfaces call them
 * only for reads and admin commands, or to shape buttons and confirmations.
 * Each returns a Check: `ok`, or an identifier for programs and a message
 * for people that says what is needed. Nothing here knows Discord.
 *
 * The rules:
 * - No role: nothing at all.
 * - Viewers read: status, socket info.
 * - Operators switch a socket that is unprotected and lists no `roles`, or
 *   one whose `roles` holds one of their groups (case-insensitive).
 * - Protected sockets: a request that may end with the socket off (off,
 *   toggle while it is on or its state is unknown, cycle) needs an admin;
 *   switching one on follows the operator rules.
 * - Admins switch everything; all-sockets commands, forcing an off (skipping
 *   its shutdown hooks), reload and the audit log need an admin.
 * - Cancel: an admin, or an operator allowed to switch that socket (a cancel
 *   never switches anything, it only stops work; see canCancel).
 */

/**
 * The one asking. `groups` are what socket `roles` are matched against:
 * a Discord member's role names and ids, or an API client's certificate CN.
 */
export interface Caller {
  /** Null: no access at all. */
  role: Role | null;
  groups: readonly string[];
}

/** Why a check refused; stable, for programs (logs, tests, metrics). */
export type PermissionId =
  /** The caller maps to no PiPDU role. */
  | 'noRole'
  /** A viewer asked to switch. */
  | 'notOperator'
  /** An operator, on a socket whose `roles` hold none of their groups. */
  | 'socketRoles'
  /** An operator, on a protected socket whose `roles` hold none of their groups. */
  | 'protectedSocket'
  /** A non-admin, on a request that may leave a protected socket off. */
  | 'protectedOff'
  /** Admin-only: all-sockets commands, force, reload, the audit log. */
  | 'adminOnly';

export type Check = { ok: true } | { ok: false; id: PermissionId; message: string };

/** What the socket rules need of a socket; a SocketConfig is one. */
export type SocketRules = Pick<SocketConfig, 'number' | 'name' | 'protected' | 'roles'>;

export type SwitchKind = 'on' | 'off' | 'toggle' | 'cycle';

/** Role names or ids per PiPDU role, as in `discord.roles`. */
export interface RoleMapping {
  admin: readonly string[];
  operator: readonly string[];
  viewer: readonly string[];
}

const OK: Check = { ok: true };

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** The group that every member holds: listed in a mapping or a socket's `roles`, it matches anyone. */
export const EVERYONE = '@everyone';

/** Whether `role` is `needed` or above it (admin > operator > viewer); null is below everything. */
export function hasRole(role: Role | null, needed: Role): boolean {
  return role !== null && RANK[role] >= RANK[needed];
}

/**
 * The highest PiPDU role whose list holds one of `groups` (role names and
 * ids, compared case-insensitively, surrounding blanks ignored), or null.
 * `@everyone` in a list matches every caller, whatever its groups. Discord
 * passes a member's role names and ids; the API maps CNs with `api.clients`.
 */
export function roleFromGroups(groups: readonly string[], mapping: RoleMapping): Role | null {
  for (const role of ['admin', 'operator', 'viewer'] as const) {
    if (matchesAny(groups, mapping[role])) return role;
  }
  return null;
}

/** Whether one of `groups` is in `list` (case-insensitive), or `list` holds `@everyone`. */
export function matchesAny(groups: readonly string[], list: readonly string[]): boolean {
  const wanted = new Set(list.map(normalize));
  if (wanted.has(EVERYONE)) return true;
  return groups.some((group) => wanted.has(normalize(group)));
}

/** Viewers and above read: status, socket info. */
export function canRead(caller: Caller): Check {
  if (caller.role === null) return noRole();
  return OK;
}

/**
 * Whether `action` on this socket may leave it off (docs/decisions.md #3): off and
 * cycle always; toggle when the socket is on, or its state is not known yet
 * (null: it might be on). An off of a socket already off counts too: the
 * rule is about the request, not about what the board shows right now.
 */
export function mayEndOff(action: SwitchKind, isOn: boolean | null): boolean {
  if (action === 'off' || action === 'cycle') return true;
  if (action === 'toggle') return isOn !== false;
  return false;
}

/**
 * One socket on/off/toggle/cycle. Admins: always. Operators: not when it may
 * leave a protected socket off (`protectedOff`); otherwise when the socket is
 * unprotected and lists no `roles`, or its `roles` hold one of their groups.
 * Viewers: never.
 */
export function canSwitch(
  caller: Caller,
  socket: SocketRules,
  action: SwitchKind,
  isOn: boolean | null,
): Check {
  if (caller.role === null) return noRole();
  if (caller.role === 'admin') return OK;
  if (caller.role === 'viewer') {
    return refuse(
      'notOperator',
      `switching socket ${label(socket)} needs the operator role; you are a viewer`,
    );
  }
  if (socket.protected && mayEndOff(action, isOn)) {
    return refuse(
      'protectedOff',
      `socket ${label(socket)} is protected: ${offPhrase(action)} needs the admin role`,
    );
  }
  return operatorAccess(caller, socket);
}

/**
 * All sockets on or off (`/sockets on|off`, `POST /api/v1/sockets/all/...`):
 * admins only, with or without the protected sockets.
 */
export function canSwitchAll(caller: Caller, action: 'on' | 'off', includeProtected: boolean): Check {
  const what = `switching every socket ${action}${includeProtected && action === 'off' ? ', protected ones included,' : ''}`;
  return adminOnly(caller, what);
}

/**
 * Forcing an off (skipping the rest of its preOff hooks, a shutdown among
 * them): admins only, as the bot's Force button is. The switch itself is
 * still checked by canSwitch.
 */
export function canForce(caller: Caller, socket?: SocketRules): Check {
  const what = socket
    ? `forcing socket ${label(socket)} off (skipping its shutdown hooks)`
    : 'forcing an off (skipping its shutdown hooks)';
  return adminOnly(caller, what);
}

/**
 * Admin commands: `/pdu reload`, `/pdu log` and `GET /api/v1/audit`.
 * `what` names the command in the message ("reloading the config").
 */
export function canAdminister(caller: Caller, what = 'this command'): Check {
  return adminOnly(caller, what);
}

/**
 * Cancelling the pending work on a socket: admins, and operators allowed to
 * switch that socket (its protection aside: cancel never switches anything,
 * a relay not yet switched stays as it is, so stopping work is no more than
 * the caller could undo with a switch of their own). That is who sees the
 * Cancel button on a progress message; `/pdu cancel` follows the same rule.
 */
export function canCancel(caller: Caller, socket: SocketRules): Check {
  if (caller.role === null) return noRole();
  if (caller.role === 'admin') return OK;
  if (caller.role === 'viewer') {
    return refuse(
      'notOperator',
      `cancelling work on socket ${label(socket)} needs the operator role; you are a viewer`,
    );
  }
  return operatorAccess(caller, socket);
}

/**
 * Whether an interface that confirms (Discord, the panel's double hold) must
 * have its user confirm (docs/decisions.md #3): a request that may leave a
 * protected socket off, and every all-sockets command (`'all'`). The service
 * applies it to what a request does when it acts (request.ts).
 */
export function needsConfirmation(
  socket: SocketRules | 'all',
  action: SwitchKind,
  isOn: boolean | null = null,
): boolean {
  if (socket === 'all') return true;
  return socket.protected && mayEndOff(action, isOn);
}

/** A refusal as the error the Pdu service's callers throw (FORBIDDEN, HTTP 403). */
export function forbiddenError(check: Check & { ok: false }): PduError {
  return new PduError('FORBIDDEN', check.message);
}

// ------------------------------------------------------------------ helpers

/** An operator on a socket: open sockets, or a group the socket's `roles` lists. */
function operatorAccess(caller: Caller, socket: SocketRules): Check {
  if (socket.roles.length === 0) {
    if (!socket.protected) return OK;
    return refuse(
      'protectedSocket',
      `socket ${label(socket)} is protected: switching it needs the admin role`,
    );
  }
  if (matchesAny(caller.groups, socket.roles)) return OK;
  const roles = listRoles(socket.roles);
  if (socket.protected) {
    return refuse(
      'protectedSocket',
      `socket ${label(socket)} is protected: switching it needs the admin role or one of its roles (${roles})`,
    );
  }
  return refuse(
    'socketRoles',
    `socket ${label(socket)} can be switched by operators with one of its roles (${roles}) or by an admin`,
  );
}

function adminOnly(caller: Caller, what: string): Check {
  if (caller.role === 'admin') return OK;
  if (caller.role === null) return noRole();
  return refuse('adminOnly', `${what} needs the admin role; you are ${article(caller.role)}`);
}

function noRole(): Check {
  return refuse(
    'noRole',
    'you have no PiPDU role: reading needs the viewer role, switching the operator role; ask an admin',
  );
}

function refuse(id: PermissionId, message: string): Check {
  return { ok: false, id, message };
}

function offPhrase(action: SwitchKind): string {
  switch (action) {
    case 'toggle':
      return 'toggling it while it is on (or its state is unknown) switches it off, which';
    case 'cycle':
      return 'cycling it switches it off, which';
    default:
      return 'switching it off';
  }
}

/** At most five roles, for messages that must stay short. */
function listRoles(roles: readonly string[]): string {
  const shown = roles.slice(0, 5).join(', ');
  return roles.length > 5 ? `${shown}, …` : shown;
}

function label(socket: SocketRules): string {
  return socket.name ? `${socket.number} (${socket.name})` : String(socket.number);
}

function normalize(group: string): string {
  return group.trim().toLowerCase();
}

function article(role: Role): string {
  return role === 'operator' ? 'an operator' : 'a viewer';
}
