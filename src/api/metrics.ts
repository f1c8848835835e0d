import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditEntry } from '../audit/audit-log.js';
import { conditionsFor } from '../energy/alarms.js';
import type { StepReport } from '../pdu/hooks/phase.js';
import type { PduService } from '../pdu/pdu-service.js';
import type { Alarm, SocketInfo } from '../pdu/types.js';

/** What the metrics read of the Energy part (src/energy/energy.ts). */
export interface EnergyReadout {
  /** Joules counted since counting began: a socket's (number) or the PDU's (null). */
  joules(socket: number | null): number;
  activeAlarms(): Alarm[];
}

/**
 * PiPDU's Prometheus metrics (`GET /metrics`). Socket and board values are
 * read from the service when scraped (never from the board); switch and hook
 * counters follow the service's events. Names follow Prometheus conventions:
 * `pipdu_` prefix, units in the names, `_total` counters; every series has a
 * `pdu` label (the config's `name`). Process metrics are node's defaults.
 *
 * `start()` subscribes to the service, `stop()` unsubscribes; nothing else runs.
 */
export class PduMetrics {
  readonly registry = new Registry();
  private readonly service: PduService;
  private readonly switches: Counter<'action' | 'result'>;
  private readonly steps: Counter<'kind' | 'status'>;
  private readonly stepSeconds: Histogram<'kind'>;

  /** A fixed `pdu` label (tests); without it, the name in force (a reload may change it). */
  private readonly pduName: string | null;

  constructor(deps: { service: PduService; pduName?: string; energy?: EnergyReadout }) {
    this.service = deps.service;
    const energy = deps.energy ?? null;
    this.pduName = deps.pduName ?? null;
    const registry = this.registry;
    registry.setDefaultLabels({ pdu: this.pduName ?? deps.service.config.name });
    collectDefaultMetrics({ register: registry });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool flags them).
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      registry.removeSingleMetric(name);
    }
    const sockets = (): SocketInfo[] => this.service.list();
    const perSocket = (name: string, help: string, value: (socket: SocketInfo) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['socket', 'name'] as const,
        registers: [registry],
        collect() {
          this.reset();
          for (const socket of sockets()) {
            const v = value(socket);
            if (v !== null) this.set({ socket: String(socket.number), name: socket.name ?? '' }, v);
          }
        },
      });
    perSocket('pipdu_socket_on', 'Whether the socket is on (1) or off (0); absent while unknown.', (s) =>
      s.on === null ? null : Number(s.on),
    );
    perSocket(
      'pipdu_socket_assumed',
      'Whether the state is assumed (legacy board) rather than reported.',
      (s) => Number(s.assumed),
    );
    perSocket('pipdu_socket_pending', 'Whether work (hooks, a cycle) is pending on the socket.', (s) =>
      Number(s.pending !== null),
    );
    perSocket('pipdu_socket_current_amperes', 'RMS current of the socket from the latest telemetry.', (s) =>
      s.currentMa === null ? null : s.currentMa / 1000,
    );
    perSocket(
      'pipdu_socket_power_watts',
      'Apparent power of the socket (VA, current times mainsVoltage), under its historic name.',
      (s) => s.watts,
    );
    perSocket(
      'pipdu_socket_apparent_power_voltamperes',
      'Apparent power of the socket: current times mainsVoltage.',
      (s) => s.apparentVa,
    );
    perSocket(
      'pipdu_socket_real_power_watts',
      "Real power estimate of the socket: apparent power times the socket's powerFactor.",
      (s) => s.realWatts,
    );
    if (energy) {
      // Counters set from the Energy part's totals at scrape time (they only grow; a restart restores them).
      const seen = new Map<string, number>();
      new Counter({
        name: 'pipdu_socket_energy_joules_total',
        help: 'Energy the socket used (real power estimate: apparent power times its powerFactor), measured intervals only.',
        labelNames: ['socket', 'name'] as const,
        registers: [registry],
        collect() {
          for (const socket of sockets()) {
            const labels = { socket: String(socket.number), name: socket.name ?? '' };
            const key = `${labels.socket}/${labels.name}`;
            const now = energy.joules(socket.number);
            const before = seen.get(key);
            if (before === undefined) this.inc(labels, now);
            else if (now > before) this.inc(labels, now - before);
            seen.set(key, Math.max(now, before ?? 0));
          }
        },
      });
      let pduBefore: number | null = null;
      new Counter({
        name: 'pipdu_energy_joules_total',
        help: 'Energy the whole PDU used (sum of the sockets), measured intervals only.',
        registers: [registry],
        collect() {
          const now = energy.joules(null);
          if (pduBefore === null) this.inc(now);
          else if (now > pduBefore) this.inc(now - pduBefore);
          pduBefore = Math.max(now, pduBefore ?? 0);
        },
      });
      const service = this.service;
      new Gauge({
        name: 'pipdu_alarm_active',
        help: 'Whether a configured alarm is raised (1) or not (0); socket is empty for the PDU.',
        labelNames: ['alarm', 'kind', 'severity', 'socket'] as const,
        registers: [registry],
        collect() {
          this.reset();
          const active = new Set(energy.activeAlarms().map((alarm) => alarm.id));
          for (const c of conditionsFor(service.config, service.list())) {
            this.set(
              {
                alarm: c.id,
                kind: c.kind,
                severity: c.severity,
                socket: c.socket === null ? '' : String(c.socket),
              },
              active.has(c.id) ? 1 : 0,
            );
          }
        },
      });
    }

    const board = () => this.service.status().board;
    const boardGauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(value());
        },
      });
    boardGauge('pipdu_board_online', 'Whether the relay board is connected and answering.', () =>
      Number(board().online),
    );
    // The driver keeps these counts; a gauge-typed read of a counter would lie about resets, so
    // they are exposed as counters set from the driver's totals at scrape time.
    const boardCounter = (name: string, help: string, value: () => number) => {
      let last = 0;
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const now = value();
          if (now > last) this.inc(now - last);
          last = now;
        },
      });
    };
    boardCounter(
      'pipdu_board_reconnects_total',
      'Times the board link was re-established.',
      () => board().stats.reconnects,
    );
    boardCounter('pipdu_board_requests_total', 'Requests sent to the board.', () => board().stats.requests);
    boardCounter(
      'pipdu_board_timeouts_total',
      'Board replies that did not come in time.',
      () => board().stats.timeouts,
    );
    boardCounter(
      'pipdu_board_garbage_lines_total',
      'Lines from the board that were neither replies nor events (ignored).',
      () => board().stats.garbageLines,
    );

    this.switches = new Counter({
      name: 'pipdu_switch_requests_total',
      help: 'Socket requests (on, off, toggle, cycle, all-on, all-off, cancel) by result.',
      labelNames: ['action', 'result'] as const,
      registers: [registry],
    });
    this.steps = new Counter({
      name: 'pipdu_hook_steps_total',
      help: 'Hook steps finished, by kind and outcome (ok, tolerated, failed, skipped, cancelled).',
      labelNames: ['kind', 'status'] as const,
      registers: [registry],
    });
    this.stepSeconds = new Histogram({
      name: 'pipdu_hook_step_duration_seconds',
      help: 'How long hook steps ran, by kind.',
      labelNames: ['kind'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    });
  }

  start(): void {
    this.service.events.on('action', this.onAction);
    this.service.events.on('step', this.onStep);
  }

  stop(): void {
    this.service.events.off('action', this.onAction);
    this.service.events.off('step', this.onStep);
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.registry.setDefaultLabels({ pdu: this.pduName ?? this.service.config.name });
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private readonly onAction = (entry: AuditEntry): void => {
    // Alarms are in the audit log too, but are not requests: pipdu_alarm_active shows them.
    if (entry.action.startsWith('alarm-')) return;
    this.switches.inc({
      action: entry.action,
      result: entry.result === 'ok' ? 'ok' : (entry.code ?? 'error'),
    });
  };

  private readonly onStep = ({ step }: { step: StepReport }): void => {
    if (step.status === 'running') return;
    this.steps.inc({ kind: step.kind, status: step.status });
    if (step.durationMs !== null) this.stepSeconds.observe({ kind: step.kind }, step.durationMs / 1000);
  };
}
