import { EventEmitter } from 'node:events';
import { setTimeout as sleep, setImmediate as yieldTurn } from 'node:timers/promises';
import PQueue from 'p-queue';
import type { BoardBootEvent, BoardConnectedEvent, RelayBoard } from '../../hardware/relay-board.js';
import type { AuditEntry, AuditLog } from '../audit/audit-log.js';
import type { HookStep, PduConfig, SocketConfig } from '../config/schema.js';
import { BoardOfflineError, PduError, UnknownSocketError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SavedState, StateStore } from '../state/state-store.js';
import { type Actor, describeActor, SYSTEM_ACTOR } from './actor.js';
import { formatMs } from './hooks/index.js';
import { type HookPhase, notRun, runPhase, type StepReport } from './hooks/phase.js';
import type { PowerReadings } from './hooks/step.js';
import type {
  AllOffOptions,
  AllResult,
  CycleOptions,
  OffOptions,
  PduEvents,
  PduStatus,
  PendingWork,
  SocketInfo,
  SocketOutcome,
  SwitchAction,
  SwitchResult,
} from './types.js';

/** The signal of quick work (no hooks): nothing ever aborts it. */
const NEVER_ABORTED = new AbortController().signal;

/** How much earlier than a switch-on's deadline the timer is set, to be exact despite timer overshoot. */
const TIMER_SLACK_MS = 12;

export interface PduServiceDeps {
  config: PduConfig;
  board: RelayBoard;
  store: StateStore;
  audit: AuditLog;
  logger: Logger;
}

/**
 * Work that takes a while on one socket: a hook pipeline or a cycle. While it
 * is queued or running, requests in its direction join it and others are
 * refused BUSY (Decisions 1).
 */
interface LongWork {
  action: SwitchAction;
  direction: 'on' | 'off' | 'cycle';
  actor: Actor;
  since: string;
  /** Cancel, the pipeline timeout, or the daemon stopping: ends the work with its reason. */
  abort: AbortController;
  /** A forced off: skips what is left of preOff. */
  skip: AbortController;
  forcedBy: Actor | null;
  step: StepReport | null;
  result: Promise<SwitchResult>;
  /** `hookTimeout`, plus a cycle's off-time: the bound on the whole work. */
  budgetMs: number;
}

/** What a plan gets to do its work: hook phases, the relay, waits; all bound to the work's abort signal. */
interface WorkContext {
  phase(phase: HookPhase): Promise<void>;
  relay(on: boolean): Promise<boolean>;
  wait(ms: number): Promise<void>;
}

/** Per-socket bookkeeping: its queue and what is waiting or running on it. */
interface SocketSlot {
  config: SocketConfig;
  queue: PQueue;
  pending: PendingWork | null;
  long: LongWork | null;
  changedAt: string | null;
  /** Jobs handed to the queue, and jobs done: they run in order, so job n is the (n - done)th in line. */
  issued: number;
  done: number;
  /** Set by stop(): jobs numbered above it were waiting behind another and are refused. */
  lastAllowed: number;
}

/**
 * The one service that owns the sockets (SocketArray). Discord, the front
 * panel and the API call these methods with an actor and get results or
 * PduErrors back; none of them talks to the board.
 *
 * Rules:
 * - Work on one socket runs in arrival order, one at a time; sockets run in
 *   parallel. Switch-ons across sockets keep `board.switchSpacingMs` apart
 *   (inrush guard); only the relay write goes through that limiter, so slow
 *   work on one socket never holds another's relay.
 * - After each SET the board's reply mask is the truth. Boards that cannot
 *   report state make every socket *assumed*.
 * - Starting, connecting and reconnecting switch nothing. Only a board reset
 *   (`! BOOT`, or a boot id that differs from state.json) applies the
 *   sockets' restore policies, through the same queues and spacing.
 * - A call while the board is offline fails at once with BOARD_OFFLINE.
 * - `stop()` lets the work in flight finish, fails what is still waiting
 *   with STOPPED, and switches nothing itself.
 */
export class PduService {
  /**
   * Typed events for the interfaces (status embeds, LEDs, metrics, the API
   * stream). A property, not a base class: `on`/`off` are the socket verbs.
   */
  readonly events = new EventEmitter<PduEvents>();
  private readonly config: PduConfig;
  private readonly board: RelayBoard;
  private readonly store: StateStore;
  private readonly audit: AuditLog;
  private readonly logger: Logger;
  private readonly slots: SocketSlot[];
  private readonly byName = new Map<string, SocketSlot>();
  /** Serializes switch-ons across sockets; `switchOnGate` keeps them apart. */
  private readonly spacing = new PQueue({ concurrency: 1 });
  private readonly spacingMs: number;
  private lastSwitchOnAt = Number.NEGATIVE_INFINITY;
  /** Channels whose SET is in flight, and why: a mask reply that changes them is that command's doing. */
  private readonly switching = new Map<number, 'command' | 'restore'>();
  /** Relay mask by channel as last reported (or, for assumed boards, last sent); null before first contact. */
  private mask: number | null = null;
  private currents: readonly number[] | null = null;
  /** Telemetry for hook steps that wait on power (every `! CURRENT`, whether or not anyone listens to `telemetry`). */
  private readonly readings = new EventEmitter<{ reading: [] }>();
  private saved: SavedState | null = null;
  private bootId: string | null = null;
  private readonly background = new Set<Promise<unknown>>();
  private running = false;
  private stopping = false;

  constructor(deps: PduServiceDeps) {
    this.config = deps.config;
    this.board = deps.board;
    this.store = deps.store;
    this.audit = deps.audit;
    this.logger = deps.logger.child({ component: 'pdu' });
    this.slots = deps.config.sockets.map((socket) => ({
      config: socket,
      queue: new PQueue({ concurrency: 1 }),
      pending: null,
      long: null,
      changedAt: null,
      issued: 0,
      done: 0,
      lastAllowed: Number.POSITIVE_INFINITY,
    }));
    for (const slot of this.slots) if (slot.config.name) this.byName.set(slot.config.name, slot);
    this.spacingMs = deps.config.board.switchSpacingMs;
  }

  async start(): Promise<void> {
    this.saved = await this.store.load();
    this.bootId = this.saved?.bootId ?? null;
    if (!this.board.reportsState && this.saved) this.mask = this.saved.mask;
    await this.audit.start();
    this.board.on('connected', this.onConnected);
    this.board.on('disconnected', this.onDisconnected);
    this.board.on('boot', this.onBoot);
    this.board.on('mask', this.onMask);
    this.board.on('current', this.onCurrent);
    this.board.on('fault', this.onFault);
    this.running = true;
    await this.board.start();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    // The job at the head of each queue finishes; those waiting behind it fail with STOPPED.
    // Hook pipelines and cycles are cancelled: stopping must never lead to a switch.
    for (const slot of this.slots) {
      slot.lastAllowed = slot.done + 1;
      slot.long?.abort.abort(new PduError('STOPPED', 'PiPDU is shutting down: pending work was cancelled'));
    }
    await Promise.all(this.slots.map((slot) => slot.queue.onIdle()));
    await Promise.allSettled([...this.background]);
    await this.spacing.onIdle();
    this.board.off('connected', this.onConnected);
    this.board.off('disconnected', this.onDisconnected);
    this.board.off('boot', this.onBoot);
    this.board.off('mask', this.onMask);
    this.board.off('current', this.onCurrent);
    this.board.off('fault', this.onFault);
    await this.board.stop();
    await this.store
      .flush()
      .catch((error: unknown) => this.logger.error({ err: error }, 'could not save state'));
    await this.audit.stop();
    this.running = false;
  }

  /**
   * Applies a re-read configuration's socket settings (names, hooks, roles,
   * protection, restore, timings) and mains voltage while running. What needs
   * the hardware re-opened (the board section, a socket's channel) needs a
   * restart, and is refused, as is any change while work is pending.
   * Resolves with a one-line summary.
   */
  reconfigure(next: PduConfig): string {
    const board = JSON.stringify(this.config.board) !== JSON.stringify(next.board);
    const moved = next.sockets.filter((socket, i) => socket.channel !== this.slots[i]?.config.channel);
    if (board || moved.length > 0) {
      throw new PduError(
        'BAD_CONFIG',
        `restart PiPDU to apply ${board ? 'the board section' : `new channels for socket(s) ${moved.map((s) => s.number).join(', ')}`}; nothing was changed`,
      );
    }
    const busy = this.slots.filter((slot) => slot.pending !== null);
    if (busy.length > 0) {
      throw new PduError(
        'BUSY',
        `socket(s) ${busy.map((slot) => slot.config.number).join(', ')} have pending work; reload when it is done`,
      );
    }
    const changed = next.sockets.filter(
      (socket, i) => JSON.stringify(socket) !== JSON.stringify(this.slots[i]?.config),
    );
    this.slots.forEach((slot, i) => {
      slot.config = next.sockets[i]!;
    });
    this.byName.clear();
    for (const slot of this.slots) if (slot.config.name) this.byName.set(slot.config.name, slot);
    Object.assign(this.config, {
      sockets: next.sockets,
      mainsVoltage: next.mainsVoltage,
      hooks: next.hooks,
      name: next.name,
    });
    this.track(this.syncPowerUpMask());
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
    return this.slotFor(id).config;
  }

  info(id: string | number): SocketInfo {
    return this.describe(this.slotFor(id));
  }

  list(): SocketInfo[] {
    return this.slots.map((slot) => this.describe(slot));
  }

  status(): PduStatus {
    const sockets = this.list();
    return {
      name: this.config.name,
      mainsVoltage: this.config.mainsVoltage,
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

  /** Switch on: preOn steps, the relay, postOn steps. `reason` goes to the audit log. */
  async on(id: string | number, actor: Actor, options: { reason?: string } = {}): Promise<SwitchResult> {
    const slot = this.slotFor(id);
    return this.run(slot, 'on', actor, { ...options }, (work) => this.switchPlan(slot, work, true));
  }

  /** Switch off: preOff steps (skipped when forced), the relay, postOff steps. */
  async off(id: string | number, actor: Actor, options: OffOptions = {}): Promise<SwitchResult> {
    const slot = this.slotFor(id);
    return this.run(slot, 'off', actor, { ...options }, (work) => this.switchPlan(slot, work, false));
  }

  /** The opposite of the socket's state when the work runs, with that direction's steps. */
  async toggle(id: string | number, actor: Actor, options: OffOptions = {}): Promise<SwitchResult> {
    const slot = this.slotFor(id);
    return this.run(slot, 'toggle', actor, { ...options }, (work) =>
      this.switchPlan(slot, work, !this.isOn(slot)),
    );
  }

  /**
   * Decisions 5: preOff → off → postOff → off-time → preOn → on → postOn.
   * A socket that is off waits the off-time and comes on with its on steps.
   */
  async cycle(id: string | number, actor: Actor, options: CycleOptions = {}): Promise<SwitchResult> {
    const slot = this.slotFor(id);
    const offTimeMs = options.offTimeMs ?? slot.config.offTime;
    if (!Number.isFinite(offTimeMs) || offTimeMs < 0 || offTimeMs > 3_600_000) {
      throw new PduError('BAD_DURATION', 'the off-time must be between 0 and 1 hour');
    }
    return this.run(slot, 'cycle', actor, { ...options, offTimeMs }, async (work) => {
      await this.switchPlan(slot, work, false);
      await work.wait(offTimeMs);
      await this.switchPlan(slot, work, true);
      return true;
    });
  }

  /**
   * Ends the pending pipeline or cycle on a socket (Decisions 1): the step
   * running is stopped, nothing after it happens, and a relay not yet
   * switched stays as it is. Resolves with what was cancelled.
   */
  cancel(id: string | number, actor: Actor): PendingWork {
    const slot = this.slotFor(id);
    const long = slot.long;
    if (!long || !slot.pending) {
      throw new PduError('BAD_REQUEST', `socket ${label(slot.config)} has no pending work to cancel`);
    }
    const pending = slot.pending;
    long.abort.abort(
      new PduError('CANCELLED', `cancelled by ${describeActor(actor)}; nothing more was switched`),
    );
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      actor,
      action: 'cancel',
      socket: slot.config.number,
      result: 'ok',
      durationMs: 0,
      details: { cancelled: long.action, by: describeActor(long.actor), since: long.since },
    };
    if (slot.config.name) entry.socketName = slot.config.name;
    void this.audit.append(entry);
    this.events.emit('action', entry);
    return pending;
  }

  /** Every socket on, staggered by the switch spacing. Sockets already on are left as they are. */
  async allOn(actor: Actor, options: { reason?: string } = {}): Promise<AllResult> {
    return this.runAll(
      'on',
      actor,
      this.slots,
      [],
      (slot) => this.on(slot.config.number, actor, options),
      16,
      { ...options },
    );
  }

  /**
   * Every socket off, protected ones only when asked for explicitly
   * (Decisions 3); each socket's own off, `hooks.allOffConcurrency` at a time.
   */
  async allOff(actor: Actor, options: AllOffOptions = {}): Promise<AllResult> {
    const targets = this.slots.filter((slot) => options.includeProtected || !slot.config.protected);
    const skipped = this.slots.filter((slot) => !targets.includes(slot)).map((slot) => slot.config.number);
    const { includeProtected: _ignored, ...offOptions } = options;
    return this.runAll(
      'off',
      actor,
      targets,
      skipped,
      (slot) => this.off(slot.config.number, actor, offOptions),
      this.config.hooks.allOffConcurrency,
      { ...options },
    );
  }

  /**
   * Audits a request an interface refused before it reached a socket (not
   * allowed, a bad option): everything that was attempted is in the audit log.
   */
  recordRefusal(actor: Actor, action: string, socket: number | null, error: PduError): void {
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      actor,
      action,
      result: 'error',
      code: error.code,
      message: error.message,
      durationMs: 0,
    };
    if (socket !== null) {
      const slot = this.slotFor(socket);
      entry.socket = slot.config.number;
      if (slot.config.name) entry.socketName = slot.config.name;
    }
    void this.audit.append(entry);
    this.events.emit('action', entry);
  }

  /** The latest audit entries, oldest first. */
  auditLog(limit?: number): Promise<AuditEntry[]> {
    return this.audit.read(limit);
  }

  // --- work on sockets ------------------------------------------------------

  private slotFor(id: string | number): SocketSlot {
    if (typeof id === 'number' || /^\d+$/.test(id)) {
      const slot = this.slots[Number(id) - 1];
      if (slot) return slot;
    } else {
      const slot = this.byName.get(id.trim().toLowerCase());
      if (slot) return slot;
    }
    throw new UnknownSocketError(id);
  }

  private assertAccepting(): void {
    if (!this.running || this.stopping)
      throw new PduError('STOPPED', 'PiPDU is shutting down; nothing was switched');
  }

  private assertOnline(): void {
    if (!this.board.online) {
      throw new BoardOfflineError('the relay board is offline; nothing was switched');
    }
  }

  /**
   * Queues work on the socket, keeps its pending record, audits the outcome.
   * Work that takes a while (hook steps to run, or a cycle) is *long*: while
   * it is queued or running, a request in the same direction joins it (and a
   * forced off skips what is left of its preOff steps), and one in another
   * direction is refused BUSY, naming what is pending and since when.
   * `plan` resolves whether the relay changed.
   */
  private run(
    slot: SocketSlot,
    action: SwitchAction,
    actor: Actor,
    options: OffOptions & { offTimeMs?: number; restore?: string },
    plan: (work: WorkContext) => Promise<boolean>,
  ): Promise<SwitchResult> {
    try {
      this.assertAccepting();
      this.assertOnline();
    } catch (error) {
      // Refused before queueing (offline, stopping): audited all the same.
      this.record(actor, action, slot, Date.now(), { ...options }, asPduError(error));
      return Promise.reject(error);
    }
    const direction = action === 'toggle' ? (this.isOn(slot) ? 'off' : 'on') : action;
    if (slot.long) return this.joinOrRefuse(slot, slot.long, action, direction, actor, options);

    const arrived = Date.now();
    const ticket = ++slot.issued;
    const details: Record<string, unknown> = { ...options };
    const long = this.isLong(slot.config, direction)
      ? this.newLongWork(action, direction, actor, slot.config.hookTimeout + (options.offTimeMs ?? 0))
      : null;
    if (long && options.force) {
      long.forcedBy = actor;
      long.skip.abort();
    }
    // Set before queueing: a job that fails at once runs its `finally` inside `add()`.
    if (long) slot.long = long;
    this.addPending(slot, action, actor);
    const job = slot.queue.add(async (): Promise<SwitchResult> => {
      const started = Date.now();
      const steps: StepReport[] = [];
      const warnings: string[] = [];
      const timeout = long ? this.startPipelineTimer(slot, long) : null;
      try {
        if (ticket > slot.lastAllowed) {
          throw new PduError(
            'STOPPED',
            'PiPDU is shutting down; this request was still waiting and nothing was switched',
          );
        }
        this.assertOnline();
        const signal = long?.abort.signal ?? NEVER_ABORTED;
        const work: WorkContext = {
          phase: async (phase) => {
            const list = slot.config[phase];
            if (list.length === 0) return;
            await this.runHookPhase(slot, phase, list, signal, long, warnings, steps);
          },
          relay: (on) => {
            if (signal.aborted) throw signal.reason;
            return this.switchRelay(slot, on, actor);
          },
          wait: async (ms) => {
            // A timer can fire a fraction of a millisecond early: the off-time is a minimum.
            const due = performance.now() + ms;
            for (let left = ms; left > 0; left = due - performance.now()) {
              await sleep(Math.ceil(left), undefined, { signal }).catch(() => {
                throw signal.reason;
              });
            }
            this.assertOnline();
          },
        };
        const changed = await plan(work);
        const result: SwitchResult = {
          socket: this.describe(slot),
          action,
          changed,
          durationMs: Date.now() - arrived,
          warnings,
          steps,
        };
        if (long?.forcedBy) result.forcedBy = long.forcedBy;
        this.record(actor, action, slot, started, {
          ...details,
          changed,
          ...this.stepDetails(steps, warnings, long),
        });
        return result;
      } catch (error) {
        const failure = asPduError(error);
        this.record(
          actor,
          action,
          slot,
          started,
          { ...details, ...this.stepDetails(steps, warnings, long) },
          failure,
        );
        throw failure;
      } finally {
        if (timeout) clearTimeout(timeout);
        if (slot.long === long) slot.long = null;
        slot.done++;
        this.removePending(slot);
      }
    });
    if (long) long.result = job;
    return job;
  }

  /**
   * Whether work in this direction may take a while: it has hook steps to
   * run, or it is a cycle. Such work joins or refuses (Decisions 1), and
   * interfaces show it live.
   */
  takesAWhile(id: string | number, direction: 'on' | 'off' | 'cycle'): boolean {
    return this.isLong(this.slotFor(id).config, direction);
  }

  private isLong(socket: SocketConfig, direction: 'on' | 'off' | 'cycle'): boolean {
    const phases: Record<typeof direction, HookPhase[]> = {
      on: ['preOn', 'postOn'],
      off: ['preOff', 'postOff'],
      cycle: ['preOff', 'postOff', 'preOn', 'postOn'],
    };
    return direction === 'cycle' || phases[direction].some((phase) => socket[phase].length > 0);
  }

  private newLongWork(
    action: SwitchAction,
    direction: LongWork['direction'],
    actor: Actor,
    budgetMs: number,
  ): LongWork {
    return {
      action,
      direction,
      actor,
      budgetMs,
      since: new Date().toISOString(),
      abort: new AbortController(),
      skip: new AbortController(),
      forcedBy: null,
      step: null,
      result: Promise.resolve() as unknown as Promise<SwitchResult>,
    };
  }

  /** Decisions 1: the same direction joins (a forced off forces it), another is refused BUSY. */
  private joinOrRefuse(
    slot: SocketSlot,
    long: LongWork,
    action: SwitchAction,
    direction: 'on' | 'off' | 'cycle',
    actor: Actor,
    options: OffOptions,
  ): Promise<SwitchResult> {
    const started = Date.now();
    const details = { ...options, joined: `${long.action} by ${describeActor(long.actor)}` };
    if (direction !== long.direction) {
      const step = long.step
        ? `, at ${long.step.phase} step ${long.step.index} of ${long.step.total} (${long.step.label})`
        : '';
      const busy = new PduError(
        'BUSY',
        `socket ${label(slot.config)} is busy: ${long.action} by ${describeActor(long.actor)} pending since ${long.since}${step}; cancel it first`,
      );
      this.record(actor, action, slot, started, { ...options }, busy);
      return Promise.reject(busy);
    }
    if (options.force && long.direction === 'off' && !long.skip.signal.aborted) {
      long.forcedBy = actor;
      long.skip.abort();
      this.logger.warn(
        { socket: slot.config.number, by: describeActor(actor) },
        'pending off forced: skipping the rest of preOff',
      );
    }
    // The joined request is audited too, with the outcome it shares.
    long.result.then(
      () => this.record(actor, action, slot, started, details),
      (error: unknown) => this.record(actor, action, slot, started, details, asPduError(error)),
    );
    return long.result;
  }

  /** The whole pipeline's bound (`hookTimeout`, plus a cycle's off-time): past it, the work ends with TIMEOUT. */
  private startPipelineTimer(slot: SocketSlot, long: LongWork): NodeJS.Timeout {
    return setTimeout(() => {
      long.abort.abort(
        new PduError(
          'TIMEOUT',
          `socket ${label(slot.config)}: its hooks took longer than hookTimeout (${formatMs(slot.config.hookTimeout)})`,
        ),
      );
    }, long.budgetMs);
  }

  private async runHookPhase(
    slot: SocketSlot,
    phase: HookPhase,
    steps: readonly HookStep[],
    signal: AbortSignal,
    long: LongWork | null,
    warnings: string[],
    reports: StepReport[],
  ): Promise<void> {
    if (phase === 'preOff' && long?.skip.signal.aborted) {
      reports.push(...notRun(phase, steps, 'skipped: forced'));
      return;
    }
    return runPhase(phase, steps, {
      reports,
      signal,
      skipSignal: phase === 'preOff' ? long?.skip.signal : undefined,
      onFailure: slot.config.onFailure,
      warnings,
      context: {
        socket: { number: slot.config.number, name: slot.config.name ?? null },
        logger: this.logger.child({ socket: slot.config.number, phase }),
        power: this.powerReadings(slot),
        env: process.env,
      },
      progress: (report) => {
        if (long) long.step = report.status === 'running' ? report : long.step;
        if (slot.pending) slot.pending = { ...slot.pending, step: report };
        this.events.emit('step', { socket: this.describe(slot), step: report });
        if (report.status === 'running')
          this.events.emit('pending', { socket: this.describe(slot), pending: slot.pending });
      },
    });
  }

  private stepDetails(
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

  /** One direction's work: its pre-steps, the relay, its post-steps; nothing when it already is there. */
  private async switchPlan(slot: SocketSlot, work: WorkContext, on: boolean): Promise<boolean> {
    // Already there: no hooks (no shutting down a machine that has no power). An
    // assumed state (legacy board) is re-sent anyway, as it may be wrong.
    const already = this.mask !== null && this.isOn(slot) === on;
    if (already && this.board.reportsState) return false;
    if (!already) await work.phase(on ? 'preOn' : 'preOff');
    const changed = await work.relay(on);
    if (!already) await work.phase(on ? 'postOn' : 'postOff');
    return changed;
  }

  /** The socket's power from telemetry, for `waitPowerBelow`. */
  private powerReadings(slot: SocketSlot): PowerReadings {
    const watts = (): number | null => {
      const milliamps = this.currents?.[slot.config.channel];
      return milliamps === undefined ? null : (milliamps / 1000) * this.config.mainsVoltage;
    };
    return {
      available: this.board.identity?.features.includes('current') ?? false,
      latest: watts,
      subscribe: (listener) => {
        const onReading = (): void => {
          const value = watts();
          if (value !== null) listener(value);
        };
        this.readings.on('reading', onReading);
        return () => this.readings.off('reading', onReading);
      },
    };
  }

  private async runAll(
    action: 'on' | 'off',
    actor: Actor,
    targets: SocketSlot[],
    skipped: number[],
    switchOne: (slot: SocketSlot) => Promise<SwitchResult>,
    concurrency: number,
    details: Record<string, unknown> = {},
  ): Promise<AllResult> {
    this.assertAccepting();
    this.assertOnline();
    const started = Date.now();
    const one = (slot: SocketSlot): Promise<SocketOutcome> =>
      switchOne(slot).then(
        (result): SocketOutcome => ({ socket: slot.config.number, ok: true, result }),
        (error: unknown): SocketOutcome => ({
          socket: slot.config.number,
          ok: false,
          error: asPduError(error),
        }),
      );
    const limiter = new PQueue({ concurrency });
    const outcomes = await Promise.all(targets.map((slot) => limiter.add(() => one(slot))));
    const failed = outcomes.filter((outcome) => !outcome.ok);
    const entry: AuditEntry = {
      time: new Date(started).toISOString(),
      actor,
      action: `all-${action}`,
      result: failed.length === 0 ? 'ok' : 'error',
      durationMs: Date.now() - started,
      details: {
        ...details,
        sockets: targets.map((slot) => slot.config.number),
        skipped,
        failed: failed.length,
      },
    };
    if (failed.length > 0) {
      entry.code = 'PARTIAL';
      entry.message = `${failed.length} of ${targets.length} sockets failed`;
    }
    void this.audit.append(entry);
    this.events.emit('action', entry);
    return { action, outcomes, skipped, durationMs: Date.now() - started };
  }

  /** Drives one relay; switch-ons go through the spacing limiter. Resolves whether it changed. */
  private async switchRelay(slot: SocketSlot, on: boolean, actor: Actor): Promise<boolean> {
    const before = this.isOn(slot);
    // An observed state that already matches needs no write; an assumed one is re-sent to be sure.
    if (this.board.reportsState && this.mask !== null && before === on) return false;
    const channel = slot.config.channel;
    const cause = actor.kind === 'system' ? 'restore' : 'command';
    this.switching.set(channel, cause);
    try {
      // Switch-ons take turns through the spacing queue; with no spacing there is nothing to wait for.
      const mask = !on
        ? await this.board.set(channel, false)
        : this.spacingMs > 0
          ? await this.spacing.add(() =>
              this.switchOnGate((onSent) => this.board.set(channel, true, { onSent })),
            )
          : await this.board.set(channel, true);
      this.logger.info(
        { socket: slot.config.number, name: slot.config.name, on, actor: describeActor(actor) },
        `socket ${label(slot.config)} ${on ? 'on' : 'off'}`,
      );
      this.applyMask(mask, cause);
    } finally {
      this.switching.delete(channel);
    }
    return before !== on;
  }

  /**
   * Sends a switch-on no sooner than `switchSpacingMs` after the previous one
   * went out (inrush guard). "Went out" is when the driver's write of that SET
   * completed (`onSent`), which is when the board drives the relay, give or
   * take the line's transmission time; a stall before that write (a busy
   * event loop, the driver waiting on another reply) therefore never shortens
   * a gap, and a reply's latency never lengthens one. A monotonic clock:
   * Bottleneck's `minTime` was tried, but its millisecond clock starts jobs
   * early and each start costs ~3 ms.
   */
  private async switchOnGate<T>(send: (onSent: (at: number) => void) => Promise<T>): Promise<T> {
    const due = this.lastSwitchOnAt + this.spacingMs;
    // Timers overshoot by a few ms on a busy Pi: sleep to just short of the
    // deadline, then yield turn by turn (I/O still runs) until it passes.
    const wait = due - performance.now() - TIMER_SLACK_MS;
    if (wait > 0) await sleep(wait);
    while (performance.now() < due) await yieldTurn();
    this.lastSwitchOnAt = performance.now();
    return send((at) => {
      this.lastSwitchOnAt = at;
    });
  }

  private isOn(slot: SocketSlot): boolean {
    return this.mask !== null && (this.mask & (1 << slot.config.channel)) !== 0;
  }

  private addPending(slot: SocketSlot, action: PendingWork['action'], actor: Actor): void {
    slot.pending = slot.pending
      ? { ...slot.pending, requests: slot.pending.requests + 1 }
      : { action, actor, since: new Date().toISOString(), requests: 1 };
    this.events.emit('pending', { socket: this.describe(slot), pending: slot.pending });
  }

  private removePending(slot: SocketSlot): void {
    if (!slot.pending) return;
    slot.pending =
      slot.pending.requests > 1 ? { ...slot.pending, requests: slot.pending.requests - 1 } : null;
    this.events.emit('pending', { socket: this.describe(slot), pending: slot.pending });
  }

  private record(
    actor: Actor,
    action: string,
    slot: SocketSlot,
    started: number,
    details: Record<string, unknown>,
    failure?: PduError,
  ): void {
    const entry: AuditEntry = {
      time: new Date(started).toISOString(),
      actor,
      action,
      socket: slot.config.number,
      result: failure ? 'error' : 'ok',
      durationMs: Date.now() - started,
    };
    if (slot.config.name) entry.socketName = slot.config.name;
    if (failure) {
      entry.code = failure.code;
      entry.message = failure.message;
    }
    const kept = Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
    if (Object.keys(kept).length > 0) entry.details = kept;
    void this.audit.append(entry);
    this.events.emit('action', entry);
  }

  // --- what the board tells us --------------------------------------------

  /**
   * Takes a mask from the board as the truth: emits changes and saves them.
   * A changed channel whose SET is in flight is that command's doing; any
   * other change is `fallbackCause`.
   */
  private applyMask(mask: number, fallbackCause: 'command' | 'board' | 'restore'): void {
    const previous = this.mask;
    this.mask = mask;
    if (previous === mask) return;
    const now = new Date().toISOString();
    const unexpected: string[] = [];
    for (const slot of this.slots) {
      const bit = 1 << slot.config.channel;
      const was = previous === null ? null : (previous & bit) !== 0;
      const is = (mask & bit) !== 0;
      if (was === is) continue;
      slot.changedAt = now;
      const cause = this.switching.get(slot.config.channel) ?? fallbackCause;
      if (cause === 'board' && was !== null) unexpected.push(`${label(slot.config)} ${is ? 'on' : 'off'}`);
      this.events.emit('socketChanged', { socket: this.describe(slot), previous: was, cause });
    }
    if (unexpected.length > 0) this.logger.info(`the board reports: ${unexpected.join(', ')}`);
    this.persist();
  }

  private persist(): void {
    if (this.mask === null) return;
    const mask = this.mask;
    const sockets: Record<string, boolean> = {};
    for (const slot of this.slots) sockets[slot.config.number] = (mask & (1 << slot.config.channel)) !== 0;
    this.saved = { version: 1, bootId: this.bootId, mask, sockets, savedAt: new Date().toISOString() };
    this.store
      .save({ bootId: this.bootId, mask, sockets })
      .catch((error: unknown) =>
        this.logger.error({ err: error, file: this.store.file }, 'could not save state'),
      );
  }

  private readonly onConnected = (event: BoardConnectedEvent): void => {
    const { identity } = event;
    const previous = this.saved;
    const bootIdChanged =
      previous !== null &&
      previous.bootId !== null &&
      identity.bootId !== null &&
      previous.bootId !== identity.bootId;
    this.bootId = identity.bootId;
    this.logger.info(
      {
        firmware: identity.firmware,
        bootId: identity.bootId,
        features: identity.features,
        reconnect: event.reconnect,
      },
      `relay board online (${identity.protocol}, ${identity.channels} channels)`,
    );
    if (!this.board.reportsState) {
      this.logger.warn('this board cannot report relay state: every socket is shown as assumed');
    }
    if (!identity.features.includes('current')) this.warnNoTelemetry();
    if (event.bootDuringConnect || bootIdChanged) {
      const lastKnown = previous?.sockets ?? null;
      this.handleReset(
        event.mask,
        lastKnown,
        event.bootDuringConnect ? 'boot-event' : 'boot-id',
        event.bootDuringConnect,
      );
    } else {
      if (previous === null)
        this.logger.info('first contact with this board: adopting its state, switching nothing');
      this.applyMask(event.mask, 'board');
      if (previous !== null && previous.bootId !== this.bootId) this.persist();
    }
    // Online once the power-up mask is right, so nothing else queues behind that check.
    this.track(
      this.syncPowerUpMask().finally(() => {
        if (this.board.online) this.events.emit('boardOnline', { identity, reconnect: event.reconnect });
      }),
    );
  };

  /** At connect: a board without current telemetry cannot serve waitPowerBelow steps; say which sockets have them. */
  private warnNoTelemetry(): void {
    const phases = ['preOn', 'postOn', 'preOff', 'postOff'] as const;
    const waiting = this.slots.filter((slot) =>
      phases.some((phase) => slot.config[phase].some((step) => step.kind === 'waitPowerBelow')),
    );
    this.logger.warn(
      waiting.length > 0
        ? `this board reports no current: watts are not shown, and the waitPowerBelow steps of socket(s) ${waiting.map((slot) => label(slot.config)).join(', ')} will fail with NO_TELEMETRY`
        : 'this board reports no current: watts are not shown',
    );
  }

  private readonly onDisconnected = (reason: PduError): void => {
    this.logger.warn({ reason: reason.message }, 'relay board offline');
    this.events.emit('boardOffline', { reason });
  };

  private readonly onBoot = (event: BoardBootEvent): void => {
    const lastKnown = this.saved?.sockets ?? null;
    this.bootId = this.board.identity?.bootId ?? this.bootId;
    this.handleReset(event.mask, lastKnown, 'boot-event', event);
    this.track(this.syncPowerUpMask());
  };

  private readonly onMask = (mask: number): void => {
    this.applyMask(mask, 'board');
  };

  private readonly onCurrent = (milliamps: readonly number[]): void => {
    this.currents = milliamps;
    this.readings.emit('reading');
    if (this.events.listenerCount('telemetry') === 0) return;
    const sockets = this.list();
    this.events.emit('telemetry', { sockets, totalWatts: this.totalWatts(sockets) ?? 0 });
  };

  private readonly onFault = (text: string): void => {
    this.logger.error({ fault: text }, 'the relay board reported a fault');
  };

  /**
   * The board lost its state: adopt the mask it powered up with, then bring
   * each socket to its restore policy (on, off, or what it was before).
   */
  private handleReset(
    bootMask: number,
    lastKnown: Record<string, boolean> | null,
    detectedBy: 'boot-event' | 'boot-id',
    boot: BoardBootEvent | null,
  ): void {
    // The driver warns about DTR auto-reset itself: it knows whether its link has a DTR line.
    const resetOnOpen = boot !== null && boot.msSinceOpen < 2000;
    const fields = { detectedBy, mask: hex(bootMask), resetOnOpen };
    if (this.board.driver === 'simulator') this.logger.info(fields, 'applying restore policies');
    else
      this.logger.warn(
        fields,
        'the relay board lost its state (reset or power loss): applying restore policies',
      );
    this.applyMask(bootMask, 'board');
    this.events.emit('boardReset', { mask: bootMask, detectedBy, resetOnOpen });
    for (const slot of this.slots) {
      const policy = slot.config.restore;
      const wanted =
        policy === 'on' ? true : policy === 'off' ? false : (lastKnown?.[slot.config.number] ?? false);
      if (this.isOn(slot) === wanted) continue;
      // The relay only: a restore puts back what the power loss took, it is not a request to run hooks.
      const restore = this.run(slot, wanted ? 'on' : 'off', SYSTEM_ACTOR, { restore: policy }, (work) =>
        work.relay(wanted),
      ).catch((error: unknown) =>
        this.logger.error(
          { err: error, socket: slot.config.number },
          'could not restore socket after board reset',
        ),
      );
      this.track(restore);
    }
  }

  /** Keeps the board's power-up mask equal to the `restore: on` sockets (Decisions 6). */
  private async syncPowerUpMask(): Promise<void> {
    if (!this.board.identity?.features.includes('persist')) return;
    const wanted = this.slots
      .filter((slot) => slot.config.restore === 'on')
      .reduce((mask, slot) => mask | (1 << slot.config.channel), 0);
    try {
      const stored = await this.board.powerUpMask();
      if (stored === wanted) return;
      await this.board.setPowerUpMask(wanted);
      this.logger.info(
        { from: hex(stored), to: hex(wanted) },
        'updated the board power-up mask to the restore: on sockets',
      );
    } catch (error) {
      if (this.stopping) return;
      this.logger.warn({ err: error }, 'could not check the board power-up mask');
    }
  }

  private track(promise: Promise<unknown>): void {
    this.background.add(promise);
    void promise.finally(() => this.background.delete(promise));
  }

  // --- presentation ---------------------------------------------------------

  private describe(slot: SocketSlot): SocketInfo {
    const { config } = slot;
    const currentMa = this.currents?.[config.channel] ?? null;
    return {
      number: config.number,
      name: config.name ?? null,
      channel: config.channel,
      on: this.mask === null ? null : this.isOn(slot),
      assumed: !this.board.reportsState,
      protected: config.protected,
      restore: config.restore,
      pending: slot.pending,
      currentMa,
      watts: currentMa === null ? null : Math.round((currentMa / 1000) * this.config.mainsVoltage * 10) / 10,
      changedAt: slot.changedAt,
    };
  }

  private totalWatts(sockets: SocketInfo[]): number | null {
    if (this.currents === null) return null;
    return Math.round(sockets.reduce((sum, socket) => sum + (socket.watts ?? 0), 0) * 10) / 10;
  }
}

function asPduError(error: unknown): PduError {
  if (error instanceof PduError) return error;
  return new PduError('BOARD_ERROR', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

function label(socket: SocketConfig): string {
  return socket.name ? `${socket.number} (${socket.name})` : String(socket.number);
}

function hex(mask: number): string {
  return mask.toString(16).toUpperCase().padStart(4, '0');
}
