import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { PduConfig } from '../config/schema.js';
import { PduError } from '../errors.js';
import type { Logger } from '../log.js';
import { SYSTEM_ACTOR } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import type { Alarm, EnergyFigures, PduEvents, SocketInfo } from '../pdu/types.js';
import { AlarmWatch, conditionsFor } from './alarms.js';
import { type CounterState, EnergyCounters, valid } from './counters.js';
import { type HistoryAnswer, HistoryStore, SERIES, TOTAL_SERIES } from './history-store.js';
import type { LoadEstimates } from './overload-guard.js';

const SOCKETS = 16;

/** What interfaces read of the Energy part. */
export type EnergyView = Pick<
  Energy,
  'figures' | 'withEnergy' | 'activeAlarms' | 'historyOf' | 'hasHistory' | 'lastDay'
>;

/** What the Energy part needs of the service: its events, its config, its audit log. */
export type EnergySource = Pick<PduService, 'events' | 'config' | 'recordAction'>;

export interface EnergyDeps {
  service: EnergySource;
  logger: Logger;
  /** Where energy.json and history.sqlite live (the config's state.dir). */
  dir: string;
  /** The clock (tests); Date.now otherwise. */
  now?: () => number;
}

/**
 * Energy, history and alarms, fed by the service's telemetry: energy
 * counters per socket and for the PDU (energy.json), the power history
 * (history.sqlite), alarms on the readings (the service's `alarm` event,
 * audited), and each socket's recent draw for the overload guard.
 *
 * Rules:
 * - The figure counted, kept and checked is the real power estimate:
 *   A × mainsVoltage × the socket's powerFactor (with powerFactor 1, the
 *   apparent power); current limits are checked on amps.
 * - energy.json is written every `energy.saveEvery` (5 min) and at stop:
 *   a crash loses at most that much counted energy, and counts none that
 *   was not measured. History is written every `history.flushEvery`.
 * - The constructor wires; `start()` loads and subscribes, `stop()`
 *   unsubscribes, saves and closes; no timer outlives it. Nothing here
 *   switches anything.
 */
export class Energy implements LoadEstimates {
  private readonly service: EnergySource;
  private readonly logger: Logger;
  private readonly file: string;
  private readonly now: () => number;
  private counters: EnergyCounters;
  private readonly alarms: AlarmWatch;
  private history: HistoryStore | null = null;
  private saveTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private saving: Promise<void> = Promise.resolve();
  private running = false;

  constructor(deps: EnergyDeps) {
    this.service = deps.service;
    this.logger = deps.logger.child({ component: 'energy' });
    this.file = join(deps.dir, 'energy.json');
    this.now = deps.now ?? Date.now;
    this.counters = new EnergyCounters(SOCKETS, this.config.energy.maxGap);
    this.alarms = new AlarmWatch((alarm, state, at) => this.announce(alarm, state, at));
    if (this.config.history.enabled)
      this.history = new HistoryStore({ file: join(deps.dir, 'history.sqlite') });
  }

  private get config(): PduConfig {
    return this.service.config;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const saved = await this.load();
    this.counters = new EnergyCounters(SOCKETS, this.config.energy.maxGap, saved);
    if (this.history) {
      try {
        await this.history.open();
      } catch (error) {
        this.logger.error(
          { err: error instanceof Error ? error.message : String(error), file: this.history.file },
          'the power history cannot be opened: running without it',
        );
        this.history = null;
      }
    }
    const events = this.service.events;
    events.on('telemetry', this.onTelemetry);
    events.on('boardOffline', this.onOffline);
    this.saveTimer = setInterval(() => void this.save(), this.config.energy.saveEvery);
    this.saveTimer.unref();
    if (this.history) {
      this.flushTimer = setInterval(() => this.flush(), Math.max(10_000, this.config.history.flushEvery));
      this.flushTimer.unref();
    }
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const events = this.service.events;
    events.off('telemetry', this.onTelemetry);
    events.off('boardOffline', this.onOffline);
    if (this.saveTimer) clearInterval(this.saveTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.saveTimer = this.flushTimer = null;
    this.counters.interrupt();
    await this.save();
    try {
      this.history?.close(this.now());
    } catch (error) {
      this.logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        'could not write the power history',
      );
    }
  }

  // --- what interfaces read ---------------------------------------------------

  /** kWh of a socket (its number) or, with null, of the PDU. */
  figures(socket: number | null): EnergyFigures {
    return this.counters.figures(socket === null ? null : socket - 1, this.now());
  }

  /** Joules counted since counting began, of a socket (its number) or the PDU (null): the metrics' counters. */
  joules(socket: number | null): number {
    return this.counters.joules(socket === null ? null : socket - 1);
  }

  /** The socket as the service describes it, with its energy. */
  withEnergy(info: SocketInfo): SocketInfo {
    return { ...info, energy: this.figures(info.number) };
  }

  get gaps(): number {
    return this.counters.gaps;
  }

  /** The alarms raised now. */
  activeAlarms(): Alarm[] {
    return this.alarms.active();
  }

  recentDrawMa(socket: number): number | null {
    return this.counters.recentDrawMa(socket - 1);
  }

  /** Whether the power history is kept (configured, and its file opened). */
  get hasHistory(): boolean {
    return this.history !== null && this.running;
  }

  /**
   * Power history of sockets (numbers; null for the PDU's total) between
   * `from` and `to` (epoch ms), at `stepMs` or the resolution that fits the range.
   */
  historyOf(sockets: readonly (number | null)[], from: number, to: number, stepMs?: number): HistoryAnswer {
    if (!this.history || !this.running) {
      throw new PduError('UNSUPPORTED', 'the power history is off (history.enabled) or could not be opened');
    }
    const series = sockets.map((socket) => (socket === null ? TOTAL_SERIES : socket - 1));
    if (series.some((s) => !Number.isInteger(s) || s < 0 || s >= SERIES)) {
      throw new PduError('BAD_REQUEST', 'sockets are numbered 1..16');
    }
    return this.history.query(series, from, to, stepMs, this.now());
  }

  /**
   * Average power of a socket (or the PDU's total, with null) over the last
   * 24 h in 48 half-hour steps, oldest first, for a sparkline; empty without
   * history. Half-hours without readings are left out.
   */
  lastDay(socket: number | null): number[] {
    if (!this.hasHistory) return [];
    const now = this.now();
    const step = 1_800_000;
    const to = Math.ceil(now / step) * step;
    return this.historyOf([socket], to - 48 * step, to, step).series[0]!.map((point) => point.avg);
  }

  /** Writes the history buffered so far now (tests, and the benchmark). */
  flush(): void {
    try {
      this.history?.flush(this.now());
    } catch (error) {
      this.logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        'could not write the power history',
      );
    }
  }

  /** Writes energy.json now (atomically: a crash leaves the old file or the new one). */
  save(): Promise<void> {
    const state = this.counters.state(this.now());
    this.saving = this.saving.then(async () => {
      try {
        await mkdir(join(this.file, '..'), { recursive: true });
        const temp = `${this.file}.tmp`;
        const handle = await open(temp, 'w');
        try {
          await handle.writeFile(`${JSON.stringify(state)}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temp, this.file);
      } catch (error) {
        this.logger.error(
          { err: error instanceof Error ? error.message : String(error), file: this.file },
          'could not save the energy counters',
        );
      }
    });
    return this.saving;
  }

  // --- what it follows -----------------------------------------------------------

  private readonly onTelemetry = ({ sockets }: PduEvents['telemetry'][0]): void => {
    const at = this.now();
    const volts = this.config.mainsVoltage;
    const watts = new Array<number>(SOCKETS).fill(0);
    for (const info of sockets) {
      const i = info.number - 1;
      if (info.currentMa === null || i < 0 || i >= SOCKETS) continue;
      watts[i] = (info.currentMa / 1000) * volts * info.powerFactor;
      if (info.on === true && !info.pending) this.counters.noteDraw(i, info.currentMa);
    }
    this.counters.ingest({ at, watts });
    this.history?.add(at, watts);
    this.alarms.evaluate(conditionsFor(this.config, sockets), at);
  };

  private readonly onOffline = (): void => {
    this.counters.interrupt();
  };

  private announce(alarm: Alarm, state: 'raised' | 'cleared', at: number): void {
    const time = new Date(at).toISOString();
    this.service.recordAction(SYSTEM_ACTOR, `alarm-${state}`, at, {
      alarm: alarm.id,
      ...(alarm.socket === null ? {} : { socket: alarm.socket }),
      severity: alarm.severity,
      value: alarm.value,
      worst: alarm.worst,
      limit: alarm.limit,
      unit: alarm.unit,
      message: alarm.message,
    });
    const log = state === 'raised' ? this.logger.warn.bind(this.logger) : this.logger.info.bind(this.logger);
    log({ alarm: alarm.id, value: alarm.value, limit: alarm.limit }, `alarm ${state}: ${alarm.message}`);
    this.service.events.emit('alarm', { alarm: { ...alarm }, state, at: time });
  }

  private async load(): Promise<CounterState | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.error(
          { err: (error as Error).message, file: this.file },
          'could not read the energy counters',
        );
      }
      return null;
    }
    try {
      const state: unknown = JSON.parse(text);
      if (valid(state, SOCKETS)) return state;
    } catch {
      // reported below
    }
    // Kept aside, not overwritten: someone may want those figures back.
    const aside = `${this.file}.invalid-${this.now()}`;
    await rename(this.file, aside).catch(() => {});
    this.logger.error(
      { file: this.file, keptAs: aside },
      'the energy counters file is not valid: counting starts again from 0',
    );
    return null;
  }
}
