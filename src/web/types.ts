// The API's shapes as the page reads them (src/pdu/types.ts, src/api/dashboard.ts);
// kept apart so the browser code does not pull in the daemon's Node types.

export type Role = 'viewer' | 'operator' | 'admin';

export interface Actor {
  kind: string;
  id: string;
  name?: string;
}

export interface StepReport {
  phase: string;
  index: number;
  total: number;
  kind: string;
  label: string;
  status: 'running' | 'ok' | 'tolerated' | 'failed' | 'skipped' | 'cancelled';
  startedAt: string | null;
  durationMs: number | null;
  summary?: string;
  error?: { code: string; message: string };
}

export interface PendingWork {
  action: 'on' | 'off' | 'toggle' | 'cycle' | 'restore';
  direction?: 'on' | 'off' | 'cycle';
  actor: Actor;
  since: string;
  requests: number;
  step?: StepReport;
}

export interface SocketInfo {
  number: number;
  name: string | null;
  channel: number;
  on: boolean | null;
  assumed: boolean;
  protected: boolean;
  restore: 'on' | 'off' | 'last';
  pending: PendingWork | null;
  currentMa: number | null;
  watts: number | null;
  changedAt: string | null;
}

export interface PduStatus {
  name: string;
  mainsVoltage: number;
  board: { driver: string; online: boolean; reportsState: boolean };
  sockets: SocketInfo[];
  totalWatts: number | null;
}

/** null: allowed; a string: why not. */
export type May = string | null;

export interface SocketMay {
  number: number;
  on: May;
  off: May;
  cycle: May;
  cancel: May;
  force: May;
}

export interface DashboardView {
  status: PduStatus;
  you: { actor: string; role: Role | null };
  may: { sockets: SocketMay[]; allOn: May; allOff: May; audit: May };
  board: { offlineSince: string | null; lastReset: string | null };
}

export interface Session {
  user: string | null;
  role: Role | null;
  via: 'loopback' | 'certificate' | 'password' | null;
}

export interface AuditEntry {
  time: string;
  actor: Actor;
  action: string;
  socket?: number;
  socketName?: string;
  result: 'ok' | 'error';
  code?: string;
  message?: string;
  durationMs: number;
  details?: Record<string, unknown>;
}
