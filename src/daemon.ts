import { createRelayBoard } from '../hardware/index.js';
import type { RelayBoard } from '../hardware/relay-board.js';
import { AuditLog } from './audit/audit-log.js';
import type { PduConfig } from './config/schema.js';
import type { Logger } from './log.js';
import { PduService } from './pdu/pdu-service.js';
import { StateStore } from './state/state-store.js';

export interface Daemon {
  readonly service: PduService;
  readonly board: RelayBoard;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wires the daemon's parts for a validated config. Nothing is opened until
 * `start()`; `stop()` finishes the work in flight, closes the port and
 * switches nothing.
 */
export async function createDaemon(config: PduConfig, deps: { logger: Logger }): Promise<Daemon> {
  const { logger } = deps;
  const store = new StateStore({ dir: config.state.dir, logger });
  // Boards that cannot report their relays start from what we last sent them.
  const saved = await store.load();
  const board = createRelayBoard(config.board, { logger, assumedMask: saved?.mask ?? 0 });
  const audit = new AuditLog({ dir: config.state.dir, maxBytes: config.state.auditMaxBytes, logger });
  const service = new PduService({ config, board, store, audit, logger });
  return {
    service,
    board,
    start: () => service.start(),
    stop: () => service.stop(),
  };
}
