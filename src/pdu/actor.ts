/** Which interface a request came through. `system` is the daemon itself (restore after a board reset). */
export type ActorKind = 'discord' | 'panel' | 'api' | 'cli' | 'pdudaemon' | 'system';

/**
 * Who asked. Every call on the Pdu service carries one, and it is what the
 * audit log records: `{ kind: 'discord', id: '1234…', name: 'alice' }`,
 * `{ kind: 'panel', id: 'button-5' }`, `{ kind: 'api', id: 'ci-runner' }`.
 */
export interface Actor {
  kind: ActorKind;
  id: string;
  name?: string;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'pipdu' };

export function describeActor(actor: Actor): string {
  return `${actor.kind}:${actor.name ?? actor.id}`;
}
