import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelayBoard } from '../../hardware/index.js';
import { LegacyBoard } from '../../hardware/legacy-board.js';
import { LegacySimulatedBoard } from '../../hardware/legacy-simulated-board.js';
import { MemoryTransport } from '../../hardware/memory-transport.js';
import { Prp1Board } from '../../hardware/prp1-board.js';
import type { RelayBoard } from '../../hardware/relay-board.js';
import { SimulatedBoard, type SimulatedBoardOptions } from '../../hardware/simulated-board.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { parseConfig } from '../../src/config/load.js';
import type { PduConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { Actor } from '../../src/pdu/actor.js';
import { PduService } from '../../src/pdu/pdu-service.js';
import type { PduEvents } from '../../src/pdu/types.js';
import { StateStore } from '../../src/state/state-store.js';

export const ALICE: Actor = { kind: 'api', id: 'alice-laptop' };

/** A config from the YAML of its `sockets` and `board` extras, with state under `dir`. */
export function makeConfig(dir: string, extra = '', driver = 'simulator'): PduConfig {
  const text = `version: 1\nboard:\n  driver: ${driver}\n  port: /dev/null\n  switchSpacingMs: 30\nstate:\n  dir: ${dir}\n${extra}`;
  return parseConfig(text, 'test.yaml');
}

/** One timestamped line the simulated board received. */
export interface ReceivedLine {
  at: number;
  line: string;
}

/**
 * A Pdu service on the in-process PRP/1 simulator, with everything a test
 * wants to look at. The simulated board outlives `restart()` (a daemon
 * restart does not power-cycle the board); `dispose()` removes the state dir.
 */
export class PduFixture {
  readonly sim: SimulatedBoard | LegacySimulatedBoard;
  readonly received: ReceivedLine[] = [];
  transport!: MemoryTransport;
  board!: RelayBoard;
  store!: StateStore;
  audit!: AuditLog;
  service!: PduService;

  private constructor(
    readonly dir: string,
    readonly config: PduConfig,
    readonly legacy: boolean,
    simOptions: SimulatedBoardOptions = {},
  ) {
    this.sim = legacy
      ? new LegacySimulatedBoard({ telemetryIntervalMs: 50 })
      : new SimulatedBoard({ telemetryIntervalMs: 50, ...simOptions });
    this.sim.on('request', (line: string) => this.received.push({ at: performance.now(), line }));
  }

  static async create(
    extra = '',
    options: { legacy?: boolean; sim?: SimulatedBoardOptions } = {},
  ): Promise<PduFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'pipdu-pdu-'));
    const config = makeConfig(dir, extra, options.legacy ? 'legacy' : 'simulator');
    const fixture = new PduFixture(dir, config, !!options.legacy, options.sim);
    fixture.sim.start();
    return fixture;
  }

  /** Builds and starts a fresh daemon (service, store, audit, driver) on the same board and state dir. */
  async startDaemon(): Promise<PduService> {
    const logger = silentLogger();
    this.transport = new MemoryTransport({ device: this.sim, description: 'test link' });
    this.store = new StateStore({ dir: this.dir, logger });
    const saved = await this.store.load();
    this.board = this.legacy
      ? new LegacyBoard({
          transport: this.transport,
          logger,
          assumedMask: saved?.mask ?? 0,
          backoff: { initialMs: 10, maxMs: 50 },
        })
      : new Prp1Board({
          transport: this.transport,
          logger,
          driver: 'simulator',
          replyTimeoutMs: 500,
          backoff: { initialMs: 10, maxMs: 50 },
          warnResetOnOpen: false,
        });
    this.audit = new AuditLog({ dir: this.dir, maxBytes: 1_000_000, logger });
    this.service = new PduService({
      config: this.config,
      board: this.board,
      store: this.store,
      audit: this.audit,
      logger,
    });
    const online = this.legacy ? Promise.resolve() : once(this.service, 'boardOnline');
    await this.service.start();
    await online;
    return this.service;
  }

  /** Lines received since `from` (an index into `received`). */
  linesSince(from: number): string[] {
    return this.received.slice(from).map((entry) => entry.line);
  }

  /** Lines that change relays: PRP/1 SET/MASK, or the legacy firmware's letters. */
  switchingLines(from = 0): string[] {
    return this.linesSince(from).filter((line) => / (SET|MASK) /.test(line) || /^[A-Za-z]$/.test(line));
  }

  async dispose(): Promise<void> {
    await this.service?.stop();
    this.sim.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Resolves with the next event of that name (and its first argument). */
export function once<K extends keyof PduEvents>(
  service: PduService,
  event: K,
  predicate: (...args: PduEvents[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<PduEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      service.events.off(event, listener as never);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${String(event)}`));
    }, timeoutMs);
    const listener = (...args: PduEvents[K]): void => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      service.events.off(event, listener as never);
      resolve(args[0]);
    };
    service.events.on(event, listener as never);
  });
}

/** Waits until `check()` is true, re-checking on each event of the given name. */
export async function until<K extends keyof PduEvents>(
  service: PduService,
  event: K,
  check: () => boolean,
  timeoutMs = 5000,
): Promise<void> {
  if (check()) return;
  await once(service, event, () => check(), timeoutMs);
}

/**
 * A Pdu service on the prp1 driver over a real serial port (a simulator
 * process's pty), with state in a temp dir (or in `stateDir`, kept, so a
 * restart reads it again); `cleanups` gets its teardown. Resolves once the
 * board is online.
 */
export async function serialDaemon(
  port: string,
  sockets: string,
  cleanups: Array<() => Promise<unknown>>,
  board: { switchSpacingMs?: number; stateDir?: string } = {},
): Promise<PduService> {
  const dir = board.stateDir ?? (await mkdtemp(join(tmpdir(), 'pipdu-serial-')));
  const config = makeConfig(dir, sockets, 'prp1');
  config.board.port = port;
  config.board.switchSpacingMs = board.switchSpacingMs ?? 0;
  const logger = silentLogger();
  const service = new PduService({
    config,
    board: createRelayBoard(config.board, { logger, backoff: { initialMs: 20, maxMs: 100 } }),
    store: new StateStore({ dir, logger }),
    audit: new AuditLog({ dir, maxBytes: 1_000_000, logger }),
    logger,
  });
  if (board.stateDir === undefined) cleanups.push(() => rm(dir, { recursive: true, force: true }));
  cleanups.push(() => service.stop());
  const online = once(service, 'boardOnline');
  await service.start();
  await online;
  return service;
}
