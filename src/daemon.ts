import { join } from 'node:path';
import { createRelayBoard } from '../hardware/index.js';
import type { RelayBoard } from '../hardware/relay-board.js';
import { AuditLog } from './audit/audit-log.js';
import type { PduConfig } from './config/schema.js';
import type { Logger } from './log.js';
import type { Requester } from './pdu/actor.js';
import { PduService } from './pdu/pdu-service.js';
import { createReloader } from './reload.js';
import { StateStore } from './state/state-store.js';

export interface Daemon {
  readonly service: PduService;
  readonly board: RelayBoard;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Re-reads the configuration file and applies it (admins): SIGHUP, `/pdu
   * reload`, `pipdu reload` and `POST /api/v1/reload` all call this. A file
   * that fails validation, or a change that needs a restart, changes nothing
   * and rejects with why (BAD_CONFIG, every problem with its location).
   * Every reload is audited; interfaces follow the `reloaded` event.
   */
  reload(by: Requester): Promise<string>;
}

/**
 * Wires the daemon's parts for a validated config. Nothing is opened until
 * `start()`; `stop()` finishes the work in flight, closes the port and
 * switches nothing. `file` is where the config came from (null: built-in
 * defaults, which cannot be reloaded).
 */
export async function createDaemon(
  config: PduConfig,
  deps: { logger: Logger; file?: string | null },
): Promise<Daemon> {
  const { logger } = deps;
  const file = deps.file ?? null;
  const store = new StateStore({ dir: config.state.dir, logger });
  // Boards that cannot report their relays start from what we last sent them — if it was them.
  const saved = await store.load();
  const sameBoard =
    saved?.board?.driver === config.board.driver && saved.board.port === (config.board.port ?? null);
  const board = createRelayBoard(config.board, {
    logger,
    assumedMask: sameBoard ? saved.mask : 0,
    // The built-in simulator is a board that stays powered: its relays outlive the daemon.
    simulatorStateFile: join(config.state.dir, 'simulator.json'),
  });
  const audit = new AuditLog({ dir: config.state.dir, maxBytes: config.state.auditMaxBytes, logger });
  const service = new PduService({ config, board, store, audit, logger });
  const reload = createReloader({ service, file, logger });

  return {
    service,
    board,
    start: () => service.start(),
    stop: () => service.stop(),
    reload,
  };
}
