import type { Role } from '../../src/config/schema.js';
import type { Actor, Requester } from '../../src/pdu/actor.js';
import type { PduService } from '../../src/pdu/pdu-service.js';
import type { RequestOptions } from '../../src/pdu/request.js';
import type { AllResult, PendingWork, SwitchResult } from '../../src/pdu/types.js';

/** A requester for tests: the actor with a role (admin unless said), no groups, no confirmation flow. */
export function requester(
  actor: Actor,
  role: Role | null = 'admin',
  groups: readonly string[] = [],
): Requester {
  return { actor, role, groups, confirms: false };
}

/**
 * The service's verbs as PduRequests, for tests that are about the work
 * rather than the permissions: each call is one `submit()` by `actor` as an
 * admin (or the role given), and resolves with the outcome's result.
 */
export function requests(service: PduService, role: Role | null = 'admin') {
  const by = (actor: Actor): Requester => requester(actor, role);
  const one = async (
    socket: string | number,
    action: 'on' | 'off' | 'toggle' | 'cycle',
    actor: Actor,
    options: RequestOptions = {},
  ): Promise<SwitchResult> => {
    const outcome = await service.submit({ socket, action, by: by(actor), options });
    if (outcome.kind !== 'switch') throw new Error(`expected a switch outcome, got ${outcome.kind}`);
    return outcome.result;
  };
  const all = async (
    action: 'on' | 'off',
    actor: Actor,
    options: RequestOptions = {},
  ): Promise<AllResult> => {
    const outcome = await service.submit({ socket: 'all', action, by: by(actor), options });
    if (outcome.kind !== 'all') throw new Error(`expected an all outcome, got ${outcome.kind}`);
    return outcome.result;
  };
  return {
    on: (socket: string | number, actor: Actor, options?: RequestOptions) =>
      one(socket, 'on', actor, options),
    off: (socket: string | number, actor: Actor, options?: RequestOptions) =>
      one(socket, 'off', actor, options),
    toggle: (socket: string | number, actor: Actor, options?: RequestOptions) =>
      one(socket, 'toggle', actor, options),
    cycle: (socket: string | number, actor: Actor, options?: RequestOptions) =>
      one(socket, 'cycle', actor, options),
    allOn: (actor: Actor, options?: RequestOptions) => all('on', actor, options),
    allOff: (actor: Actor, options?: RequestOptions) => all('off', actor, options),
    cancel: async (socket: string | number, actor: Actor): Promise<PendingWork> => {
      const outcome = await service.submit({ socket, action: 'cancel', by: by(actor) });
      if (outcome.kind !== 'cancel') throw new Error(`expected a cancel outcome, got ${outcome.kind}`);
      return outcome.cancelled;
    },
  };
}
