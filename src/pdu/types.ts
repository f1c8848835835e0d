import type { BoardDriverName, BoardIdentity, RelayBoardStats } from '../../hardware/relay-board.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { PduConfig } from '../config/schema.js';
import type { PduError } from '../errors.js';
import type { Actor } from './actor.js';
import type { StepReport } from './hooks/phase.js';

export type SwitchAction = 'on' | 'off' | 'toggle' | 'cycle';

/** Work queued or running on a socket, shown while it lasts (Discord, LEDs, API). */
export interface PendingWork {
  /** What was asked (a toggle stays a toggle here). */
  action: SwitchAction | 'restore';
  /** What it does, once it acts: a toggle's direction depends on the state it finds. */
  direction?: 'on' | 'off' | 'cycle';
  actor: Actor;
  /** ISO time the oldest waiting or running request on this socket arrived. */
  since: string;
  /** Requests waiting or running on this socket, this one included. */
  requests: number;
  /** The hook step running now, or the last one that ran. */
  step?: StepReport;
}

/** A socket as every interface shows it. */
export interface SocketInfo {
  number: number;
  name: string | null;
  channel: number;
  /** true on, false off, null not known yet (the board has not been reached since start). */
  on: boolean | null;
  /** The state is what the daemon last sent, not what the board reported (legacy firmware). */
  assumed: boolean;
  protected: boolean;
  restore: 'on' | 'off' | 'last';
  pending: PendingWork | null;
  /** RMS current from the latest telemetry; null without telemetry. */
  currentMa: number | null;
  /**
   * Apparent power (VA = A × mainsVoltage), under its historic name: every
   * interface reads it, and it is what the board measures. `apparentVa` is
   * the same figure named honestly; `realWatts` the estimate of real power.
   */
  watts: number | null;
  /** Apparent power, VA (A × mainsVoltage); null without telemetry. */
  apparentVa: number | null;
  /** The socket's configured power factor (1 unless set). */
  powerFactor: number;
  /** Real power estimate, W (apparentVa × powerFactor); null without telemetry. */
  realWatts: number | null;
  /** Energy counted (the Energy part adds it where it runs: the API, Discord); kWh. */
  energy?: EnergyFigures;
  /** ISO time of the last observed change. */
  changedAt: string | null;
}

/** Energy counted for a socket or the PDU, from the real power estimate. */
export interface EnergyFigures {
  /** Since local midnight. */
  todayKwh: number;
  /** Since the first of the month (local time). */
  monthKwh: number;
  /** Since counting began; only grows. */
  totalKwh: number;
  /** Breaks in the readings (missed readings, offline board, restarts) where nothing was counted. */
  gaps: number;
}

/** A raised alarm: a warning to people; no alarm switches anything. */
export interface Alarm {
  /** Stable per condition: `overCurrent:5`, `underPower:5`, `maxCurrent`, `maxCurrentWarning`. */
  id: string;
  kind: 'overCurrent' | 'underPower' | 'maxCurrent' | 'maxCurrentWarning';
  severity: 'warning' | 'critical';
  /** The socket's number; null for the PDU. */
  socket: number | null;
  socketName: string | null;
  /** The limit and the value that crossed it (A or W, see `unit`), and the worst value while raised. */
  unit: 'A' | 'W';
  limit: number;
  value: number;
  worst: number;
  /** ISO time it was raised. */
  since: string;
  message: string;
}

export interface SwitchResult {
  socket: SocketInfo;
  action: SwitchAction;
  /** false when the socket already was in the requested state. */
  changed: boolean;
  durationMs: number;
  /** Every hook step that ran (or was skipped), in order. */
  steps: StepReport[];
  /** Failures that did not stop the work: post-steps, and pre-steps of an `onFailure: continue` socket. */
  warnings: string[];
  /** Who forced the off, skipping the rest of its preOff steps. */
  forcedBy?: Actor;
}

export type SocketOutcome =
  | { socket: number; ok: true; result: SwitchResult }
  | { socket: number; ok: false; error: PduError };

/** All-on / all-off: one outcome per socket it concerned. */
export interface AllResult {
  action: 'on' | 'off';
  outcomes: SocketOutcome[];
  /** Sockets left alone (protected, without the caller asking for them). */
  skipped: number[];
  durationMs: number;
}

export interface BoardStatus {
  driver: BoardDriverName;
  online: boolean;
  reportsState: boolean;
  identity: BoardIdentity | null;
  stats: RelayBoardStats;
}

export interface PduStatus {
  name: string;
  mainsVoltage: number;
  board: BoardStatus;
  sockets: SocketInfo[];
  /** Sum over all sockets; null without telemetry. */
  totalWatts: number | null;
}

export interface OffOptions {
  /** Skip the socket's preOff hooks (audited as forced). */
  force?: boolean;
  reason?: string;
}

export interface CycleOptions extends OffOptions {
  /** Off-time in milliseconds; the socket's `offTime` when absent. */
  offTimeMs?: number;
}

export interface AllOffOptions extends OffOptions {
  /** Also switch off protected sockets (an admin asking explicitly, docs/decisions.md #3). */
  includeProtected?: boolean;
}

/** Typed events of the Pdu service: what status embeds, LEDs, metrics and the API event stream follow. */
export interface PduEvents {
  /** A socket's on/off state changed, whoever caused it. */
  socketChanged: [
    event: { socket: SocketInfo; previous: boolean | null; cause: 'command' | 'board' | 'restore' },
  ];
  /** A hook step started or finished (the live progress Discord and the panel show). */
  step: [event: { socket: SocketInfo; step: StepReport }];
  /** Work on a socket started, queued more, moved to its next step, or finished (pending null). */
  pending: [event: { socket: SocketInfo; pending: PendingWork | null }];
  boardOnline: [event: { identity: BoardIdentity; reconnect: boolean }];
  boardOffline: [event: { reason: PduError }];
  /**
   * The board lost its state (power loss, watchdog, DTR reset); restore policies follow.
   * `resetOnOpen`: it came within 2 s of opening the port (DTR auto-reset on a real board).
   */
  boardReset: [event: { mask: number; detectedBy: 'boot-event' | 'boot-id'; resetOnOpen: boolean }];
  /** A reading: `totalWatts` is apparent power (VA), the sum of the sockets' `watts`. */
  telemetry: [event: { sockets: SocketInfo[]; totalWatts: number }];
  /** An alarm was raised or cleared (the Energy part's alarms; nothing is switched). */
  alarm: [event: { alarm: Alarm; state: 'raised' | 'cleared'; at: string }];
  /** The configuration was reloaded: interfaces take what they need from it. */
  reloaded: [event: { config: PduConfig; summary: string }];
  /** Every finished action, as written to the audit log. */
  action: [entry: AuditEntry];
}
