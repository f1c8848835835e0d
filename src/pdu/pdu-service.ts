import { EventEmitter } from 'node:events';
import type { RelayBoard } from '../../hardware/relay-board.js';
import type { AuditEntry, AuditLog } from '../audit/audit-log.js';
import type { PduConfig, SocketConfig } from '../config/schema.js';
import { type LoadEstimates, overloadRefusal } from '../energy/overload-guard.js';
import { BoardOfflineError, PduError, UnknownSocketError } from '../errors.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/state-store.js';
import { type Actor, describeActor, type Requester, SYSTEM } from './actor.js';
import { AuditRecorder } from './audit-recorder.js';
import { BoardRecovery } from './board-recovery.js';
import type { HookPhase, StepReport } from './hooks/phase.js';
import { InrushGate } from './inrush-gate.js';
import { type Check, canCancel } from './permissions.js';
import { RelayMirror } from './relay-mirror.js';
import {
  directionOf,
  label,
  type PduRequest,
  permitAll,
  permitSwitch,
  type RequestOptions,
  type RequestOutcome,
  refusal,
} from './request.js';
import { type LongWork, SocketLane } from './socket-lane.js';
import { runPlan, SwitchWork } from './switch-work.js';
import type {
  AllResult,
  PduEvents,
  PduStatus,
  SocketInfo,
  SocketOutcome,
  SwitchAction,
  SwitchResult,
} from './types.js';

/** The longest off-time a cycle may ask for. */
const MAX_OFF_TIME_MS = 3_600_000;

export interface PduServiceDeps {
  config: PduConfig;
  board: RelayBoard;
  store: StateStore;
  audit: AuditLog;
  logger: Logger;
  /** Each socket's recent draw, for the overload guard (the Energy part); no guard without it. */
  loads?: LoadEstimates;
}

/** How a request runs on its lane, beyond what it asked: a restore switches the relay only. */
interface RunMode {
  restore?: SocketConfig['restore'];
}

/**
 * The one service that owns the sockets (SocketArray), and the one way in:
 * every interface turns its user's words into a PduRequest and hands it to
 * `submit()`; none talks to the board, maps actions to switching, or checks
 * a switch's permission itself (docs/decisions.md #12).
 *
 * Rules:
 * - A request is decided when it acts, against the state it acts on: a
 *   toggle's direction, the requester's permission (FORBIDDEN, audited, when
 *   refused), join or BUSY, quick or long work (hooks get the pipeline timer,
 *   Cancel and progress). Explicit directions are also checked on arrival.
 * - Work on one socket runs in arrival order (its SocketLane); sockets run in
 *   parallel; switch-ons across sockets go through the InrushGate.
 * - The RelayMirror holds the board's word on the relays; BoardRecovery
 *   handles connects, resets and restores; the AuditRecorder writes
 *   everything that was asked, done or refused.
 * - A request while the board is offline fails at once with BOARD_OFFLINE.
 * - `stop()` lets the work in flight finish, fails what is still waiting
 *   with STOPPED, and switches nothing itself.
 */
export class PduService {
  /**
   * Typed events for the interfaces (status embeds, LEDs, metrics, the API
   * stream). A property, not a base class: the socket verbs are requests.
   */
  readonly events = new EventEmitter<PduEvents>();
  private current: PduConfig;
  private readonly board: RelayBoard;
  private readonly logger: Logger;
  private readonly lanes: SocketLane[];
  /** The all-sockets requests running, each with the signal that stops its sockets not started yet. */
  private readonly allRuns = new Set<AllRun>();
  private byName = new Map<string, SocketLane>();
  private readonly gate: InrushGate;
  private readonly mirror: RelayMirror;
  private readonly recovery: BoardRecovery;
  private readonly recorder: AuditRecorder;
  private readonly work: SwitchWork;
  private readonly audit: AuditLog;
  private readonly store: StateStore;
  private readonly loads: LoadEstimates | undefined;
  private running = false;
  private stopping = false;

  constructor(deps: PduServiceDeps) {
    this.current = deps.config;
    this.board = deps.board;
    this.store = deps.store;
    this.audit = deps.audit;
    this.loads = deps.loads;
    this.logger = deps.logger.child({ component: 'pdu' });
    this.lanes = deps.config.sockets.map(
      (socket) => new SocketLane({ config: socket, onPending: (lane) => this.announcePending(lane) }),
    );
    this.indexNames();
    this.gate = new InrushGate({ spacingMs: deps.config.board.switchSpacingMs });
    this.mirror = new RelayMirror({ store: deps.store, logger: this.logger });
    this.recorder = new AuditRecorder({ audit: deps.audit, events: this.events });
    this.work = new SwitchWork({
      board: deps.board,
      mirror: this.mirror,
      gate: this.gate,
      logger: this.logger,
      config: () => this.current,
      assertOnline: () => this.assertOnline(),
      announce: (event) => {
        if (event.kind === 'step') {
          this.events.emit('step', { socket: this.describe(event.lane), step: event.step });
          return;
        }
        for (const change of event.changes) {
          this.events.emit('socketChanged', {
            socket: this.describe(this.laneOf(change.socket)),
            previous: change.previous,
            cause: change.cause,
          });
        }
      },
    });
    this.recovery = new BoardRecovery({
      board: deps.board,
      boardConfig: deps.config.board,
      mirror: this.mirror,
      logger: this.logger,
      events: this.events,
      sockets: () => this.current.sockets,
      observe: (changes) => {
        for (const change of changes) {
          this.events.emit('socketChanged', {
            socket: this.describe(this.laneOf(change.socket)),
            previous: change.previous,
            cause: change.cause,
          });
        }
      },
      telemetry: () => {
        if (this.events.listenerCount('telemetry') === 0) return;
        const sockets = this.list();
        this.events.emit('telemetry', { sockets, totalWatts: this.totalWatts(sockets) ?? 0 });
      },
      restore: (socket, on, policy) =>
        this.runOnLane(this.laneOf(socket), on ? 'on' : 'off', SYSTEM, {}, { restore: policy }),
    });
  }

  async start(): Promise<void> {
    const saved = await this.mirror.load();
    // A board that cannot report its relays starts from what we last sent it.
    if (!this.board.reportsState && saved) this.mirror.mask = saved.mask;
    await this.audit.start();
    this.recovery.start();
    this.running = true;
    await this.board.start();
  }

  /** Resolves once what the latest connect started (restores after a reset, the power-up mask) is done. */
  settled(): Promise<void> {
    return this.recovery.settled();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    // The job at the head of each lane finishes; those waiting behind it fail with STOPPED.
    // Hook pipelines and cycles are cancelled: stopping must never lead to a switch.
    for (const lane of this.lanes) lane.close();
    await Promise.all(this.lanes.map((lane) => lane.drained()));
    await this.recovery.stop();
    await this.gate.idle();
    await this.board.stop();
    await this.store
      .flush()
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not save state'));
    await this.audit.stop();
    this.running = false;
  }

  /** The configuration in force (a reload replaces it): interfaces read what they need from it when they need it. */
  get config(): PduConfig {
    return this.current;
  }

  /**
   * Applies a re-read configuration while running. What needs the hardware
   * or a listener re-opened (the board section, a socket's channel, the state
   * directory) needs a restart and is refused, as is any change while work is
   * pending; a refused reload changes nothing. Resolves with a one-line summary.
   */
  reconfigure(next: PduConfig): string {
    const board = JSON.stringify(this.current.board) !== JSON.stringify(next.board);
    const moved = next.sockets.filter((socket, i) => socket.channel !== this.lanes[i]?.config.channel);
    const state = JSON.stringify(this.current.state) !== JSON.stringify(next.state);
    if (board || moved.length > 0 || state) {
      const what = board
        ? 'the board section'
        : state
          ? 'the state section'
          : `new channels for socket(s) ${moved.map((s) => s.number).join(', ')}`;
      throw new PduError('BAD_CONFIG', `restart PiPDU to apply ${what}; nothing was changed`);
    }
    const busy = this.lanes.filter((lane) => !lane.idle);
    if (busy.length > 0) {
      throw new PduError(
        'BUSY',
        `socket(s) ${busy.map((lane) => lane.config.number).join(', ')} have pending work; reload when it is done`,
      );
    }
    const changed = next.sockets.filter(
      (socket, i) => JSON.stringify(socket) !== JSON.stringify(this.lanes[i]?.config),
    );
    this.lanes.forEach((lane, i) => {
      lane.config = next.sockets[i] as SocketConfig;
    });
    this.current = next;
    this.indexNames();
    void this.recovery.syncPowerUpMask();
    return changed.length > 0
      ? `configuration reloaded: socket(s) ${changed.map((socket) => socket.number).join(', ')} changed`
      : 'configuration reloaded: no socket changed';
  }

  /** Whether the board is connected and answering (cheaper than `status()`, for LEDs that ask often). */
  get boardOnline(): boolean {
    return this.board.online;
  }

  /** The socket for a number (1..16, as a number or digits) or a configured name. */
  resolve(id: string | number): SocketConfig {
    return this.laneFor(id).config;
  }

  info(id: string | number): SocketInfo {
    return this.describe(this.laneFor(id));
  }

  list(): SocketInfo[] {
    return this.lanes.map((lane) => this.describe(lane));
  }

  status(): PduStatus {
    const sockets = this.list();
    return {
      name: this.current.name,
      mainsVoltage: this.current.mainsVoltage,
      board: {
        driver: this.board.driver,
        online: this.board.online,
        reportsState: this.board.reportsState,
        identity: this.board.identity,
        stats: { ...this.board.stats },
      },
      sockets,
      totalWatts: this.totalWatts(sockets),
    };
  }

  /**
   * The one way in. Resolves with what the request did; rejects with a
   * PduError (UNKNOWN_SOCKET, FORBIDDEN, NEEDS_CONFIRMATION, BUSY, BAD_*,
   * BOARD_*, hook failures, CANCELLED, TIMEOUT, STOPPED). Everything but a
   * malformed request (unknown socket, bad option) is in the audit log.
   */
  async submit(request: PduRequest): Promise<RequestOutcome> {
    const options = request.options ?? {};
    if (typeof request.socket === 'string' && request.socket.trim().toLowerCase() === 'all') {
      if (request.action === 'cancel') return this.cancelAll(request.by);
      if (request.action !== 'on' && request.action !== 'off') {
        throw new PduError('BAD_REQUEST', `"all" takes on or off (or cancel), not ${request.action}`);
      }
      return { kind: 'all', result: await this.switchAll(request.action, request.by, options) };
    }
    const lane = this.laneFor(request.socket);
    if (request.action === 'cancel') return this.cancel(lane, request.by);
    const result = await this.runOnLane(lane, request.action, request.by, options, {});
    return { kind: 'switch', result };
  }

  /**
   * Whether the request would be allowed if it acted now (not audited, no
   * effect): for interfaces that shape buttons or ask for a confirmation
   * first. The request itself is checked again when it acts.
   */
  preview(request: PduRequest): Check | { ok: false; id: 'needsConfirmation'; message: string } {
    const options = request.options ?? {};
    if (typeof request.socket === 'string' && request.socket.trim().toLowerCase() === 'all') {
      if (request.action !== 'on' && request.action !== 'off') return { ok: true };
      return permitAll(request.by, request.action, options);
    }
    const lane = this.laneFor(request.socket);
    if (request.action === 'cancel') return canCancel(request.by, lane.config);
    const direction = directionOf(request.action, this.mirror.stateOf(lane.config.channel));
    return permitSwitch(request.by, lane.config, direction, options);
  }

  /**
   * Whether work in this direction may take a while on the socket: it has
   * hook steps to run, or it is a cycle (interfaces show such work live).
   */
  takesAWhile(id: string | number, action: SwitchAction): boolean {
    const lane = this.laneFor(id);
    return isLong(lane.config, directionOf(action, this.mirror.stateOf(lane.config.channel)));
  }

  /**
   * Audits a request an interface refused before it became a PduRequest (a
   * read without the viewer role, an admin command): everything that was
   * attempted is in the audit log.
   */
  recordRefusal(actor: Actor, action: string, socket: number | null, error: PduError): void {
    this.recorder.record(actor, action, socket === null ? null : this.resolve(socket), Date.now(), {}, error);
  }

  /** Audits an action on the daemon itself (a reload): who, when it started, how it ended. */
  recordAction(
    actor: Actor,
    action: string,
    started: number,
    details: Record<string, unknown>,
    failure?: PduError,
  ): void {
    this.recorder.record(actor, action, null, started, details, failure);
  }

  /** The latest audit entries, oldest first. */
  auditLog(limit?: number): Promise<AuditEntry[]> {
    return this.recorder.read(limit);
  }

  // --- requests on one socket --------------------------------------------------

  private laneFor(id: string | number): SocketLane {
    if (typeof id === 'number' || /^\d+$/.test(id.trim())) {
      const lane = this.lanes[Number(id) - 1];
      if (lane) return lane;
    } else {
      const lane = this.byName.get(id.trim().toLowerCase());
      if (lane) return lane;
    }
    throw new UnknownSocketError(id);
  }

  private laneOf(socket: SocketConfig): SocketLane {
    return this.lanes[socket.number - 1] as SocketLane;
  }

  private indexNames(): void {
    this.byName = new Map();
    for (const lane of this.lanes) if (lane.config.name) this.byName.set(lane.config.name, lane);
  }

  private assertAccepting(): void {
    if (!this.running || this.stopping)
      throw new PduError('STOPPED', 'PiPDU is shutting down; nothing was switched');
  }

  private assertOnline(): void {
    if (!this.board.online) throw new BoardOfflineError('the relay board is offline; nothing was switched');
  }

  /**
   * One request on its socket's lane. Checked on arrival for what does not
   * depend on the state (an explicit direction, the requester's role on the
   * socket), then when it acts: a toggle takes its direction from the state
   * it finds, and the permission for that direction is checked then. Work
   * that takes a while (hooks, a cycle) is *long*: while it is pending, a
   * request in the same direction joins it (a forced off skips what is left
   * of its preOff) and one in another direction is refused BUSY.
   */
  private runOnLane(
    lane: SocketLane,
    action: SwitchAction,
    by: Requester,
    options: RequestOptions,
    mode: RunMode,
  ): Promise<SwitchResult> {
    const arrived = Date.now();
    const details: Record<string, unknown> = auditOptions(options, mode);
    const fail = (error: PduError): Promise<never> => {
      this.recorder.record(by.actor, action, lane.config, arrived, details, error);
      return Promise.reject(error);
    };
    if (action === 'cycle' && options.offTimeMs !== undefined) {
      const ms = options.offTimeMs;
      if (!Number.isFinite(ms) || ms < 0 || ms > MAX_OFF_TIME_MS) {
        return Promise.reject(new PduError('BAD_DURATION', 'the off-time must be between 0 and 1 hour'));
      }
    }
    try {
      this.assertAccepting();
      this.assertOnline();
    } catch (error) {
      return fail(asPduError(error));
    }
    // On arrival: a toggle is at least an on, whichever way it goes.
    const arrival = permitSwitch(by, lane.config, action === 'toggle' ? 'on' : action, options);
    if (!arrival.ok) return fail(refusal(arrival));

    const pendingLong = lane.long;
    if (pendingLong) {
      const direction = directionOf(action, this.mirror.stateOf(lane.config.channel));
      const check = permitSwitch(by, lane.config, direction, options);
      if (!check.ok) return fail(this.refuseAt(lane, action, check));
      return this.joinOrRefuse(lane, pendingLong, action, direction, by, options, arrived, details);
    }

    // An explicit direction with hooks is long from now: requests after it join or are refused.
    let long: LongWork | null = null;
    const budget = (config: SocketConfig): number =>
      config.hookTimeout + (action === 'cycle' ? (options.offTimeMs ?? config.offTime) : 0);
    if (action !== 'toggle' && !mode.restore && isLong(lane.config, action)) {
      long = lane.beginLong(action, action, by.actor, budget(lane.config));
      if (options.force) lane.force(long, by.actor);
    }
    const job = lane.enqueue(action, by.actor, async (resolved) => {
      const started = Date.now();
      const steps: StepReport[] = [];
      const warnings: string[] = [];
      let timer: NodeJS.Timeout | null = null;
      try {
        if (options.signal?.aborted) {
          throw new PduError(
            'CANCELLED',
            'the caller went away before the request started; nothing was switched',
          );
        }
        this.assertOnline();
        const config = lane.config;
        // The moment it acts: its direction from the state it finds, checked for what it does.
        const direction = directionOf(action, this.mirror.stateOf(config.channel));
        resolved(direction);
        const check = permitSwitch(by, config, direction, options);
        if (!check.ok) throw this.refuseAt(lane, action, check);
        if (direction === 'on' && !mode.restore) {
          const overload = overloadRefusal({
            config: this.current,
            socket: config,
            by,
            force: options.force === true,
            currents: this.mirror.currents,
            alreadyOn: this.mirror.isOn(config.channel),
            loads: this.loads,
          });
          if (overload) throw overload;
        }
        if (!long && !mode.restore && isLong(config, direction)) {
          long = lane.beginLong(action, direction, by.actor, budget(config));
          long.result = job;
          if (options.force) lane.force(long, by.actor);
        }
        if (long) timer = lane.startBudget(long);
        const work = this.work.context(lane, by.actor, long, steps, warnings);
        const changed = mode.restore
          ? await work.relay(direction === 'on')
          : await runPlan(work, direction, options.offTimeMs ?? config.offTime);
        const result: SwitchResult = {
          socket: this.describe(lane),
          action,
          changed,
          durationMs: Date.now() - arrived,
          warnings,
          steps,
        };
        if (long?.forcedBy) result.forcedBy = long.forcedBy;
        this.recorder.record(by.actor, action, lane.config, started, {
          ...details,
          ...(action === 'toggle' ? { direction } : {}),
          changed,
          ...stepDetails(steps, warnings, long),
        });
        return result;
      } catch (error) {
        const failure = asPduError(error);
        this.recorder.record(
          by.actor,
          action,
          lane.config,
          started,
          { ...details, ...stepDetails(steps, warnings, long) },
          failure,
        );
        throw failure;
      } finally {
        if (timer) clearTimeout(timer);
        lane.endLong(long);
      }
    });
    if (long) long.result = job;
    return job;
  }

  /** A refusal at the moment a request acts, saying what it found when it was a toggle. */
  private refuseAt(
    lane: SocketLane,
    action: SwitchAction,
    check: { ok: false; id: string; message: string },
  ): PduError {
    const error = refusal(check);
    if (action !== 'toggle') return error;
    const state = this.mirror.isOn(lane.config.channel) ? 'on' : 'off';
    return new PduError(
      error.code,
      `the toggle found socket ${label(lane.config)} ${state}, so it would switch it ${state === 'on' ? 'off' : 'on'}: ${error.message}`,
    );
  }

  /** The same direction joins the pending long work (a forced off forces it); another is refused BUSY. */
  private joinOrRefuse(
    lane: SocketLane,
    long: LongWork,
    action: SwitchAction,
    direction: 'on' | 'off' | 'cycle',
    by: Requester,
    options: RequestOptions,
    arrived: number,
    details: Record<string, unknown>,
  ): Promise<SwitchResult> {
    if (direction !== long.direction) {
      const busy = lane.busy(long);
      this.recorder.record(by.actor, action, lane.config, arrived, details, busy);
      return Promise.reject(busy);
    }
    if (options.force && lane.force(long, by.actor)) {
      this.logger.warn(
        { socket: lane.config.number, by: describeActor(by.actor) },
        'pending off forced: skipping the rest of preOff',
      );
    }
    const joined = { ...details, joined: `${long.action} by ${describeActor(long.actor)}` };
    // The joined request is audited too, with the outcome it shares.
    long.result.then(
      () => this.recorder.record(by.actor, action, lane.config, arrived, joined),
      (error: unknown) =>
        this.recorder.record(by.actor, action, lane.config, arrived, joined, asPduError(error)),
    );
    return long.result;
  }

  // --- requests on every socket, and cancel -----------------------------------

  /**
   * Every socket on (staggered by the inrush gate; those already on are left
   * as they are) or off (protected ones only when asked for explicitly, each
   * socket's own off, `hooks.allOffConcurrency` at a time through a
   * Bottleneck limiter). Each socket's request is checked as its own.
   */
  private async switchAll(action: 'on' | 'off', by: Requester, options: RequestOptions): Promise<AllResult> {
    const started = Date.now();
    const details: Record<string, unknown> = auditOptions(options, {});
    const fail = (error: PduError): never => {
      this.recorder.record(by.actor, `all-${action}`, null, started, details, error);
      throw error;
    };
    const check = permitAll(by, action, options);
    if (!check.ok) fail(refusal(check));
    try {
      this.assertAccepting();
      this.assertOnline();
    } catch (error) {
      fail(asPduError(error));
    }
    // A board with fewer relays than sockets (an 8-channel module) has no relay for the rest:
    // "all" means the sockets it has, not failures for the ones it lacks.
    const channels = this.board.identity?.channels ?? Number.POSITIVE_INFINITY;
    const wired = this.lanes.filter((lane) => lane.config.channel < channels);
    const targets =
      action === 'on' ? wired : wired.filter((lane) => options.includeProtected || !lane.config.protected);
    const skipped = wired.filter((lane) => !targets.includes(lane)).map((lane) => lane.config.number);
    // The all-sockets request was checked and confirmed as a whole; each socket's is its part of it.
    // Its sockets not started yet stay as they are when the caller goes away or someone cancels it.
    const run: AllRun = { action, stop: new AbortController() };
    const callerGone = (): void => run.stop.abort();
    options.signal?.addEventListener('abort', callerGone, { once: true });
    if (options.signal?.aborted) run.stop.abort();
    this.allRuns.add(run);
    const { includeProtected: _all, ...each } = options;
    const one = (lane: SocketLane): Promise<SocketOutcome> =>
      this.runOnLane(lane, action, by, { ...each, confirmed: true, signal: run.stop.signal }, {}).then(
        (result): SocketOutcome => ({ socket: lane.config.number, ok: true, result }),
        (error: unknown): SocketOutcome => ({
          socket: lane.config.number,
          ok: false,
          error: asPduError(error),
        }),
      );
    let outcomes: SocketOutcome[];
    try {
      if (action === 'on') {
        outcomes = await Promise.all(targets.map(one));
      } else {
        // Loaded when first needed: bottleneck (its light build) costs memory, and most daemons never run an all-off.
        const { default: Bottleneck } = await import('bottleneck/light.js');
        const limiter = new Bottleneck({ maxConcurrent: this.current.hooks.allOffConcurrency });
        outcomes = await Promise.all(targets.map((lane) => limiter.schedule(() => one(lane))));
        await limiter.stop({ dropWaitingJobs: false });
      }
    } finally {
      this.allRuns.delete(run);
      options.signal?.removeEventListener('abort', callerGone);
    }
    const failed = outcomes.filter((outcome) => !outcome.ok);
    const entry: AuditEntry = {
      time: new Date(started).toISOString(),
      actor: by.actor,
      action: `all-${action}`,
      result: failed.length === 0 ? 'ok' : 'error',
      durationMs: Date.now() - started,
      details: {
        ...details,
        sockets: targets.map((lane) => lane.config.number),
        skipped,
        failed: failed.length,
      },
    };
    if (failed.length > 0) {
      entry.code = 'PARTIAL';
      entry.message = `${failed.length} of ${targets.length} sockets failed`;
    }
    this.recorder.write(entry);
    return { action, outcomes, skipped, durationMs: Date.now() - started };
  }

  /**
   * Cancel on every socket: stops the all-sockets requests running (their
   * sockets not started yet stay as they are) and cancels the pending work
   * on each socket (each cancel checked and audited as its own). Whoever may
   * run an all-sockets request that way may stop it; anyone else is refused
   * (FORBIDDEN, audited) and nothing is stopped.
   */
  private cancelAll(by: Requester): RequestOutcome {
    const started = Date.now();
    const runs = [...this.allRuns];
    for (const run of runs) {
      const check = permitAll(by, run.action, { confirmed: true });
      if (!check.ok) {
        const error = refusal(check);
        this.recorder.record(by.actor, 'all-cancel', null, started, { stops: `all-${run.action}` }, error);
        throw error;
      }
    }
    for (const run of runs) run.stop.abort();
    const cancelled: SocketInfo[] = [];
    for (const lane of this.lanes) {
      if (!lane.long || !lane.pending) continue;
      try {
        const outcome = this.cancel(lane, by);
        if (outcome.kind === 'cancel') cancelled.push(outcome.socket);
      } catch {
        // Refused or already over: cancel() audited it; the others go on.
      }
    }
    this.recorder.record(by.actor, 'all-cancel', null, started, {
      stopped: runs.map((run) => `all-${run.action}`),
      cancelled: cancelled.map((socket) => socket.number),
    });
    return { kind: 'cancelAll', stopped: runs.length, cancelled };
  }

  /**
   * Ends the pending pipeline or cycle on a socket (docs/decisions.md #1):
   * the step running is stopped, nothing after it happens, and a relay not
   * yet switched stays as it is.
   */
  private cancel(lane: SocketLane, by: Requester): RequestOutcome {
    const started = Date.now();
    const check = canCancel(by, lane.config);
    if (!check.ok) {
      const error = refusal(check);
      this.recorder.record(by.actor, 'cancel', lane.config, started, {}, error);
      throw error;
    }
    const pending = lane.pending;
    const long = lane.long;
    if (!long || !pending) {
      throw new PduError('BAD_REQUEST', `socket ${label(lane.config)} has no pending work to cancel`);
    }
    lane.cancel(
      new PduError('CANCELLED', `cancelled by ${describeActor(by.actor)}; nothing more was switched`),
    );
    this.recorder.record(by.actor, 'cancel', lane.config, started, {
      cancelled: long.action,
      by: describeActor(long.actor),
      since: long.since,
    });
    return { kind: 'cancel', cancelled: pending, socket: this.describe(lane) };
  }

  // --- presentation ------------------------------------------------------------

  private announcePending(lane: SocketLane): void {
    this.events.emit('pending', { socket: this.describe(lane), pending: lane.pending });
  }

  private describe(lane: SocketLane): SocketInfo {
    const { config } = lane;
    const currentMa = this.mirror.currentOf(config.channel);
    const apparent =
      currentMa === null ? null : Math.round((currentMa / 1000) * this.current.mainsVoltage * 10) / 10;
    return {
      number: config.number,
      name: config.name ?? null,
      channel: config.channel,
      on: this.mirror.stateOf(config.channel),
      assumed: !this.board.reportsState,
      protected: config.protected,
      restore: config.restore,
      pending: lane.pending,
      currentMa,
      watts: apparent,
      apparentVa: apparent,
      powerFactor: config.powerFactor,
      realWatts: apparent === null ? null : Math.round(apparent * config.powerFactor * 10) / 10,
      changedAt: this.mirror.changedAtOf(config.channel),
    };
  }

  private totalWatts(sockets: SocketInfo[]): number | null {
    if (this.mirror.currents === null) return null;
    return Math.round(sockets.reduce((sum, socket) => sum + (socket.watts ?? 0), 0) * 10) / 10;
  }
}

/**
 * Whether work in this direction may take a while: it has hook steps to run,
 * or it is a cycle. Such work joins or refuses, and interfaces show it live.
 */
function isLong(socket: SocketConfig, direction: 'on' | 'off' | 'cycle'): boolean {
  const phases: Record<typeof direction, HookPhase[]> = {
    on: ['preOn', 'postOn'],
    off: ['preOff', 'postOff'],
    cycle: ['preOff', 'postOff', 'preOn', 'postOn'],
  };
  return direction === 'cycle' || phases[direction].some((phase) => socket[phase].length > 0);
}

/** What of a request's options the audit log keeps (never `confirmed` alone: it is implied by success). */
function auditOptions(options: RequestOptions, mode: RunMode): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  if (options.force) details.force = true;
  if (options.reason !== undefined) details.reason = options.reason;
  if (options.offTimeMs !== undefined) details.offTimeMs = options.offTimeMs;
  if (options.includeProtected) details.includeProtected = true;
  if (mode.restore) details.restore = mode.restore;
  return details;
}

function stepDetails(
  steps: StepReport[],
  warnings: string[],
  long: LongWork | null,
): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  if (steps.length > 0) details.steps = steps;
  if (warnings.length > 0) details.warnings = warnings;
  if (long?.forcedBy) details.forcedBy = describeActor(long.forcedBy);
  return details;
}

function asPduError(error: unknown): PduError {
  if (error instanceof PduError) return error;
  return new PduError('BOARD_ERROR', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

/** An all-sockets request while it runs. */
interface AllRun {
  action: 'on' | 'off';
  stop: AbortController;
}
