import type { Role } from '../config/schema.js';

/**
 * Which interface a request came through. `system` is the daemon itself
 * (restore after a board reset); `web` is a password account's session.
 */
export type ActorKind = 'discord' | 'panel' | 'api' | 'cli' | 'pdudaemon' | 'web' | 'mqtt' | 'system';

/**
 * Who asked, as the audit log records it: `{ kind: 'discord', id: '1234…',
 * name: 'alice' }`, `{ kind: 'panel', id: 'button-5' }`, `{ kind: 'api', id: 'ci-runner' }`.
 */
export interface Actor {
  kind: ActorKind;
  id: string;
  name?: string;
}

/**
 * Who asked and what they may do: every request to the Pdu service carries
 * one, and the service alone decides with it (docs/decisions.md #2, #12).
 */
export interface Requester {
  actor: Actor;
  /** The PiPDU role the interface mapped this caller to; null: no access at all. */
  role: Role | null;
  /** What sockets' `roles` are matched against: Discord role names and ids, a certificate CN. */
  groups: readonly string[];
  /**
   * The interface asks its user to confirm before a protected socket goes off
   * (Discord's confirmation, the panel's double hold): its requests that end
   * a protected socket off must say `confirmed`, or they are refused
   * NEEDS_CONFIRMATION at the moment they act.
   */
  confirms: boolean;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'pipdu' };

/** The daemon itself: restores after a board reset. */
export const SYSTEM: Requester = { actor: SYSTEM_ACTOR, role: 'admin', groups: [], confirms: false };

export function describeActor(actor: Actor): string {
  return `${actor.kind}:${actor.name ?? actor.id}`;
}
