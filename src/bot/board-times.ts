import type { PduService } from '../pdu/pdu-service.js';

/**
 * When the board went offline and when the latest power reading came, from
 * the service's events: what the status shows instead of live readings
 * while the board is offline. `start()` subscribes, `stop()` unsubscribes.
 */
export class BoardTimes {
  private readonly service: PduService;
  private offlineSince: string | null = null;
  private lastReadingAt: string | null = null;

  constructor(deps: { service: PduService }) {
    this.service = deps.service;
  }

  start(): void {
    if (!this.service.boardOnline) this.offlineSince = new Date().toISOString();
    this.service.events.on('boardOffline', this.onOffline);
    this.service.events.on('boardOnline', this.onOnline);
    this.service.events.on('telemetry', this.onTelemetry);
  }

  stop(): void {
    this.service.events.off('boardOffline', this.onOffline);
    this.service.events.off('boardOnline', this.onOnline);
    this.service.events.off('telemetry', this.onTelemetry);
  }

  /** Null while online. */
  now(): { offlineSince: string | null; lastReadingAt: string | null } {
    return {
      offlineSince: this.service.boardOnline ? null : this.offlineSince,
      lastReadingAt: this.lastReadingAt,
    };
  }

  private readonly onOffline = (): void => {
    this.offlineSince ??= new Date().toISOString();
  };

  private readonly onOnline = (): void => {
    this.offlineSince = null;
  };

  private readonly onTelemetry = (): void => {
    this.lastReadingAt = new Date().toISOString();
  };
}
