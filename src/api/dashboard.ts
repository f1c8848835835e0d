import type { Role } from '../config/schema.js';
import type { Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import { canAdminister } from '../pdu/permissions.js';
import type { PduRequest } from '../pdu/request.js';
import type { PduStatus } from '../pdu/types.js';

/** null: allowed now; a string: why not, in words (the dashboard's tooltip). */
export type May = string | null;

export interface SocketMay {
  number: number;
  on: May;
  off: May;
  cycle: May;
  cancel: May;
  /** Forcing an off (skipping its shutdown hooks). */
  force: May;
}

/** GET /api/v1/dashboard: everything the page needs to draw itself once, for the caller. */
export interface DashboardView {
  status: PduStatus;
  you: { actor: string; role: Role | null };
  may: { sockets: SocketMay[]; allOn: May; allOff: May; audit: May };
  board: {
    /** ISO time the board went offline (null: online, or offline since before the daemon watched). */
    offlineSince: string | null;
    /** ISO time of the last reset the daemon detected, if any. */
    lastReset: string | null;
  };
}

/**
 * What the board did while nobody was looking: when it went offline, when
 * it last reset. The status has the state, not the time; the dashboard
 * shows both. start() subscribes, stop() unsubscribes.
 */
export class BoardWatch {
  private offlineSince: string | null = null;
  private lastReset: string | null = null;
  private readonly onOffline = (): void => {
    this.offlineSince ??= new Date().toISOString();
  };
  private readonly onOnline = (): void => {
    this.offlineSince = null;
  };
  private readonly onReset = (): void => {
    this.lastReset = new Date().toISOString();
  };

  constructor(private readonly service: PduService) {}

  start(): void {
    this.service.events.on('boardOffline', this.onOffline);
    this.service.events.on('boardOnline', this.onOnline);
    this.service.events.on('boardReset', this.onReset);
  }

  stop(): void {
    this.service.events.off('boardOffline', this.onOffline);
    this.service.events.off('boardOnline', this.onOnline);
    this.service.events.off('boardReset', this.onReset);
  }

  get board(): DashboardView['board'] {
    return { offlineSince: this.offlineSince, lastReset: this.lastReset };
  }
}

/**
 * The dashboard's view for `by`: the status, and per socket what they may
 * do, asked of `service.preview()` (which decides nothing: each request is
 * checked again when it acts). Reads need the viewer role; the caller checks.
 */
export function dashboardView(service: PduService, by: Requester, watch: BoardWatch): DashboardView {
  const status = service.status();
  const ask = (request: Omit<PduRequest, 'by'>): May => {
    const check = service.preview({ ...request, by });
    return check.ok ? null : check.message;
  };
  const sockets = status.sockets.map(
    (socket): SocketMay => ({
      number: socket.number,
      on: ask({ socket: socket.number, action: 'on' }),
      off: ask({ socket: socket.number, action: 'off' }),
      cycle: ask({ socket: socket.number, action: 'cycle' }),
      cancel: ask({ socket: socket.number, action: 'cancel' }),
      force: ask({ socket: socket.number, action: 'off', options: { force: true } }),
    }),
  );
  const audit = canAdminister(by, 'reading the audit log');
  return {
    status,
    you: { actor: by.actor.name ?? by.actor.id, role: by.role },
    may: {
      sockets,
      allOn: ask({ socket: 'all', action: 'on' }),
      allOff: ask({ socket: 'all', action: 'off' }),
      audit: audit.ok ? null : audit.message,
    },
    board: watch.board,
  };
}
