import type { EventEmitter } from 'node:events';
import type { AuditEntry, AuditLog } from '../audit/audit-log.js';
import type { SocketConfig } from '../config/schema.js';
import type { PduError } from '../errors.js';
import type { Actor } from './actor.js';
import type { PduEvents } from './types.js';

/**
 * Writes every action to the audit log and emits it as the `action` event
 * (the audit channel, the API stream and the CLI follow that). Never throws:
 * the log's own errors are logged by it; a switch that happened stays done.
 */
export class AuditRecorder {
  private readonly audit: AuditLog;
  private readonly events: EventEmitter<PduEvents>;

  constructor(deps: { audit: AuditLog; events: EventEmitter<PduEvents> }) {
    this.audit = deps.audit;
    this.events = deps.events;
  }

  /** One action: who, what, on which socket (if one), since `started`, how it ended. */
  record(
    actor: Actor,
    action: string,
    socket: SocketConfig | null,
    started: number,
    details: Record<string, unknown>,
    failure?: PduError,
  ): AuditEntry {
    const entry: AuditEntry = {
      time: new Date(started).toISOString(),
      actor,
      action,
      result: failure ? 'error' : 'ok',
      durationMs: Date.now() - started,
    };
    if (socket) {
      entry.socket = socket.number;
      if (socket.name) entry.socketName = socket.name;
    }
    if (failure) {
      entry.code = failure.code;
      entry.message = failure.message;
    }
    const kept = Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
    if (Object.keys(kept).length > 0) entry.details = kept;
    this.write(entry);
    return entry;
  }

  /** An entry built elsewhere (all-sockets summaries). */
  write(entry: AuditEntry): void {
    void this.audit.append(entry);
    this.events.emit('action', entry);
  }

  read(limit?: number): Promise<AuditEntry[]> {
    return this.audit.read(limit);
  }
}
