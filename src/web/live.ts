/** The events the page follows, as `GET /api/v1/events?telemetry=1` sends them. */
export const LIVE_EVENTS = [
  'socketChanged',
  'pending',
  'step',
  'boardOnline',
  'boardOffline',
  'boardReset',
  'telemetry',
] as const;
export type LiveEvent = (typeof LIVE_EVENTS)[number];

export interface LiveHandlers {
  /** Connected (again): the page re-reads the whole state, since events may have been missed. */
  open(): void;
  /** Disconnected: what the page shows may be stale from now on. */
  lost(): void;
  event(name: LiveEvent, data: unknown): void;
}

const RETRY_MS = [500, 1000, 2000, 5000];

/**
 * The server's event stream, reconnecting by itself: after an error the
 * EventSource is closed (so its own retry cannot hide a 401 or a daemon
 * gone) and a new one is opened after a back-off, for ever, until stop().
 */
export class LiveStream {
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly handlers: LiveHandlers,
  ) {}

  start(): void {
    if (this.source || this.timer) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
  }

  private connect(): void {
    const source = new EventSource(this.url);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.handlers.open();
    };
    source.onerror = () => {
      source.close();
      if (this.source !== source || this.stopped) return;
      this.source = null;
      this.handlers.lost();
      const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)]!;
      this.failures++;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.connect();
      }, delay);
    };
    for (const name of LIVE_EVENTS) {
      source.addEventListener(name, (message) => {
        let data: unknown;
        try {
          data = JSON.parse((message as MessageEvent<string>).data);
        } catch {
          return;
        }
        this.handlers.event(name, data);
      });
    }
  }
}
