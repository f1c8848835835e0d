import type { EventEmitter } from 'node:events';
import type {
  BoardBootEvent,
  BoardConnectedEvent,
  BoardIdentity,
  RelayBoard,
} from '../../hardware/relay-board.js';
import type { BoardConfig, SocketConfig } from '../config/schema.js';
import type { PduError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BoardRecord } from '../state/state-store.js';
import type { RelayChange, RelayMirror } from './relay-mirror.js';
import { label } from './request.js';
import type { PduEvents } from './types.js';

/** At most one STATE re-read for telemetry that contradicts the mirror this often. */
const CONTRADICTION_REREAD_MS = 5000;

export interface BoardRecoveryDeps {
  board: RelayBoard;
  boardConfig: Pick<BoardConfig, 'driver' | 'port'>;
  mirror: RelayMirror;
  logger: Logger;
  events: EventEmitter<PduEvents>;
  /** The sockets as configured now (a reload may change restore policies). */
  sockets: () => readonly SocketConfig[];
  /** Relays that changed in a mask the mirror took: the service announces them. */
  observe: (changes: RelayChange[]) => void;
  /** A telemetry line was taken: the service announces it. */
  telemetry: () => void;
  /** Brings one socket's relay to `on` through its lane, as the system (the relay only, no hooks). */
  restore: (socket: SocketConfig, on: boolean, policy: SocketConfig['restore']) => Promise<unknown>;
}

/**
 * What happens when the board connects, resets or goes away
 * (docs/decisions.md #6, #7, #13, #14).
 *
 * Rules:
 * - A state file describes one board: its driver, port and serial. Another
 *   driver, port or serial (or no state file) is *first contact*: the board's
 *   relays are adopted and nothing is switched. A board without a serial is
 *   known by driver and port.
 * - Only the same board with a new boot id (or a `! BOOT`) has lost its
 *   state: its mask is adopted, then each socket's restore policy is applied
 *   (`last` from the state file), through the sockets' lanes and the inrush gate.
 * - The board's power-up mask is kept equal to the `restore: on` sockets; a
 *   rewrite is a warning saying from what to what.
 * - Current on a socket shown off (on a board that reports state) triggers a
 *   STATE read: the relay may have switched without us hearing the reply.
 * - `settled()` resolves once the work a connect started (restores, the
 *   power-up mask) is done.
 */
export class BoardRecovery {
  private readonly deps: BoardRecoveryDeps;
  private readonly logger: Logger;
  private readonly background = new Set<Promise<unknown>>();
  private recovering: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private lastReread = Number.NEGATIVE_INFINITY;

  constructor(deps: BoardRecoveryDeps) {
    this.deps = deps;
    this.logger = deps.logger;
  }

  start(): void {
    const { board } = this.deps;
    board.on('connected', this.onConnected);
    board.on('disconnected', this.onDisconnected);
    board.on('boot', this.onBoot);
    board.on('mask', this.onMask);
    board.on('current', this.onCurrent);
    board.on('fault', this.onFault);
  }

  /** Waits for the work started in the background, then stops listening. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.background]);
    const { board } = this.deps;
    board.off('connected', this.onConnected);
    board.off('disconnected', this.onDisconnected);
    board.off('boot', this.onBoot);
    board.off('mask', this.onMask);
    board.off('current', this.onCurrent);
    board.off('fault', this.onFault);
  }

  /** Resolves once the latest connect's or reset's restores and power-up mask check are done. */
  async settled(): Promise<void> {
    await this.recovering;
  }

  /** Keeps the board's power-up mask equal to the `restore: on` sockets (docs/decisions.md #6). */
  syncPowerUpMask(): Promise<void> {
    return this.track(this.checkPowerUpMask());
  }

  private readonly onConnected = (event: BoardConnectedEvent): void => {
    const { identity } = event;
    const { mirror, board } = this.deps;
    const saved = mirror.saved;
    const record = this.recordOf(identity);
    const other = this.otherBoard(record);
    const bootIdChanged =
      other === null && saved?.bootId != null && identity.bootId !== null && saved.bootId !== identity.bootId;
    this.logger.info(
      {
        firmware: identity.firmware,
        serial: identity.serial,
        bootId: identity.bootId,
        features: identity.features,
        reconnect: event.reconnect,
      },
      `relay board online (${identity.protocol}, ${identity.channels} channels)`,
    );
    if (!board.reportsState) {
      this.logger.warn('this board cannot report relay state: every socket is shown as assumed');
    }
    if (!identity.features.includes('current')) this.warnNoTelemetry();
    // What was on before, for `restore: last`: only this board's own record counts.
    const lastKnown = other === null ? (saved?.sockets ?? null) : null;
    const recordChanged = JSON.stringify(mirror.board) !== JSON.stringify(record);
    mirror.board = record;
    mirror.bootId = identity.bootId;
    const work: Promise<unknown>[] = [];
    if (event.bootDuringConnect || bootIdChanged) {
      work.push(
        ...this.handleReset(
          event.mask,
          lastKnown,
          event.bootDuringConnect ? 'boot-event' : 'boot-id',
          event.bootDuringConnect,
        ),
      );
    } else {
      if (other !== null)
        this.logger.info(
          { why: other },
          'first contact with this board: adopting its relays as they are, switching nothing',
        );
      this.deps.observe(mirror.take(event.mask, 'board', this.deps.sockets()));
    }
    if (recordChanged || saved?.bootId !== identity.bootId) mirror.persist(this.deps.sockets());
    // Online once the power-up mask is right, so nothing else queues behind that check.
    const sync = this.syncPowerUpMask().finally(() => {
      if (board.online) this.deps.events.emit('boardOnline', { identity, reconnect: event.reconnect });
    });
    work.push(sync);
    this.recovering = Promise.allSettled(work);
  };

  /** Null when `record` is the board state.json describes; else why it is not (first contact). */
  private otherBoard(record: BoardRecord): string | null {
    const saved = this.deps.mirror.saved;
    if (!saved) return 'there is no state.json yet';
    const known = saved.board;
    if (!known) return 'state.json does not say which board it describes (written by an older PiPDU)';
    if (known.driver !== record.driver)
      return `state.json describes a ${known.driver} board, not ${record.driver}`;
    if (known.port !== record.port) return `state.json describes the board on ${known.port ?? 'no port'}`;
    if (known.serial !== null && record.serial !== null && known.serial !== record.serial) {
      return `state.json describes the board with serial ${known.serial}; this one is ${record.serial}`;
    }
    return null;
  }

  private recordOf(identity: BoardIdentity): BoardRecord {
    const { driver, port } = this.deps.boardConfig;
    const serial = identity.serial ?? this.deps.mirror.board?.serial ?? null;
    return { driver, port: driver === 'simulator' ? null : (port ?? null), serial };
  }

  /** At connect: a board without current telemetry cannot serve waitPowerBelow steps; say which sockets have them. */
  private warnNoTelemetry(): void {
    const phases = ['preOn', 'postOn', 'preOff', 'postOff'] as const;
    const waiting = this.deps
      .sockets()
      .filter((socket) =>
        phases.some((phase) => socket[phase].some((step) => step.kind === 'waitPowerBelow')),
      );
    this.logger.warn(
      waiting.length > 0
        ? `this board reports no current: watts are not shown, and the waitPowerBelow steps of socket(s) ${waiting.map(label).join(', ')} will fail with NO_TELEMETRY`
        : 'this board reports no current: watts are not shown',
    );
  }

  private readonly onDisconnected = (reason: PduError): void => {
    this.logger.warn({ reason: reason.message }, 'relay board offline');
    this.deps.events.emit('boardOffline', { reason });
  };

  private readonly onBoot = (event: BoardBootEvent): void => {
    const { mirror, board } = this.deps;
    const lastKnown = mirror.saved?.sockets ?? null;
    mirror.bootId = board.identity?.bootId ?? mirror.bootId;
    const work = this.handleReset(event.mask, lastKnown, 'boot-event', event);
    work.push(this.syncPowerUpMask());
    this.recovering = Promise.allSettled(work);
  };

  private readonly onMask = (mask: number): void => {
    this.deps.observe(this.deps.mirror.take(mask, 'board', this.deps.sockets()));
  };

  private readonly onCurrent = (milliamps: readonly number[]): void => {
    const { mirror, board } = this.deps;
    const contradicted = mirror.ingest(milliamps, this.deps.sockets(), board.reportsState);
    this.deps.telemetry();
    if (contradicted.length === 0 || !board.online || this.stopping) return;
    if (performance.now() - this.lastReread < CONTRADICTION_REREAD_MS) return;
    this.lastReread = performance.now();
    const names = this.deps
      .sockets()
      .filter((socket) => contradicted.includes(socket.channel))
      .map(label);
    this.logger.warn(
      { sockets: names },
      `current flows on socket(s) ${names.join(', ')} shown off: re-reading the board's relay state`,
    );
    // The reply's mask reaches the mirror as a `mask` event.
    this.track(
      board
        .state()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not re-read the relay state')),
    );
  };

  private readonly onFault = (text: string): void => {
    this.logger.error({ fault: text }, 'the relay board reported a fault');
  };

  /**
   * The board lost its state: adopt the mask it powered up with, then bring
   * each socket to its restore policy (on, off, or what it was before).
   * Returns the restores started.
   */
  private handleReset(
    bootMask: number,
    lastKnown: Record<string, boolean> | null,
    detectedBy: 'boot-event' | 'boot-id',
    boot: BoardBootEvent | null,
  ): Promise<unknown>[] {
    const { mirror, board } = this.deps;
    // The driver warns about DTR auto-reset itself: it knows whether its link has a DTR line.
    const resetOnOpen = boot !== null && boot.msSinceOpen < 2000;
    const fields = { detectedBy, mask: hex(bootMask), resetOnOpen };
    if (board.driver === 'simulator') this.logger.info(fields, 'applying restore policies');
    else
      this.logger.warn(
        fields,
        'the relay board lost its state (reset or power loss): applying restore policies',
      );
    const sockets = this.deps.sockets();
    this.deps.observe(mirror.take(bootMask, 'board', sockets));
    this.deps.events.emit('boardReset', { mask: bootMask, detectedBy, resetOnOpen });
    const restores: Promise<unknown>[] = [];
    for (const socket of sockets) {
      const policy = socket.restore;
      const wanted =
        policy === 'on' ? true : policy === 'off' ? false : (lastKnown?.[socket.number] ?? false);
      if (mirror.isOn(socket.channel) === wanted) continue;
      restores.push(
        this.track(
          this.deps
            .restore(socket, wanted, policy)
            .catch((error: unknown) =>
              this.logger.error(
                { err: error, socket: socket.number },
                'could not restore socket after board reset',
              ),
            ),
        ),
      );
    }
    return restores;
  }

  private async checkPowerUpMask(): Promise<void> {
    const { board } = this.deps;
    if (!board.identity?.features.includes('persist')) return;
    const restoreOn = this.deps.sockets().filter((socket) => socket.restore === 'on');
    const wanted = restoreOn.reduce((mask, socket) => mask | (1 << socket.channel), 0);
    try {
      const stored = await board.powerUpMask();
      if (stored === wanted) return;
      await board.setPowerUpMask(wanted);
      this.logger.warn(
        { from: hex(stored), to: hex(wanted) },
        `rewrote the board's power-up mask from ${hex(stored)} to ${hex(wanted)}: it powers up with exactly the restore: on sockets (${restoreOn.length > 0 ? restoreOn.map(label).join(', ') : 'none'}) on, before PiPDU runs`,
      );
    } catch (error) {
      if (this.stopping) return;
      this.logger.warn({ err: error }, 'could not check the board power-up mask');
    }
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.background.add(promise);
    void promise.finally(() => this.background.delete(promise)).catch(() => {});
    return promise;
  }
}

export function hex(mask: number): string {
  return mask.toString(16).toUpperCase().padStart(4, '0');
}
