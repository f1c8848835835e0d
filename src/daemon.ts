import { join } from 'node:path';
import { createRelayBoard } from '../hardware/index.js';
import type { RelayBoard } from '../hardware/relay-board.js';
import { AuditLog } from './audit/audit-log.js';
import type { PduConfig } from './config/schema.js';
import { Energy } from './energy/energy.js';
import type { Logger } from './log.js';
import type { Requester } from './pdu/actor.js';
import { PduService } from './pdu/pdu-service.js';
import { createReloader } from './reload.js';
import { StateStore } from './state/state-store.js';

export interface Daemon {
  readonly service: PduService;
  readonly board: RelayBoard;
  /** Energy counters, power history and alarms, fed by the service's telemetry. */
  readonly energy: Energy;
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
  // The overload guard asks the Energy part for a socket's recent draw; it is built next.
  let guardLoads: Energy | null = null;
  const loads = { recentDrawMa: (socket: number) => guardLoads?.recentDrawMa(socket) ?? null };
  const service = new PduService({ config, board, store, audit, logger, loads });
  const energy = new Energy({ service, logger, dir: config.state.dir });
  guardLoads = energy;
  const reload = createReloader({ service, file, logger });

  return {
    service,
    board,
    energy,
    // Counters load before the first reading, and take the last one after the board stops.
    start: async () => {
      await energy.start();
      await service.start();
    },
    stop: async () => {
      await service.stop();
      await energy.stop();
    },
    reload,
  };
}
