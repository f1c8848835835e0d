import type { PduConfig } from '../config/schema.js';

/**
 * The topic layout of one PDU on a broker. Everything lives under the base
 * topic (`mqtt.baseTopic`, default `pipdu/<name>`), so several PDUs share a
 * broker without meeting. Sockets are addressed by number: a rename changes
 * no topic.
 *
 *   <base>/availability              online | offline (retained; the last will says offline)
 *   <base>/board                     {"online","driver","reportsState","identity"} (retained)
 *   <base>/board/availability        online | offline (retained)
 *   <base>/audit                     every audit entry, JSON (not retained)
 *   <base>/socket/<n>/state          ON | OFF | None (retained; the board's word)
 *   <base>/socket/<n>/attributes     name, protected, assumed, pending, ... JSON (retained)
 *   <base>/socket/<n>/pending        the work pending on it, JSON, or null (retained)
 *   <base>/socket/<n>/power          VA (W with a powerFactor) or None (retained)
 *   <base>/socket/<n>/current        A or None (retained)
 *   <base>/socket/<n>/energy         kWh, when the daemon meters energy (retained)
 *   <base>/socket/<n>/set            command in: ON | OFF | TOGGLE (never retained)
 *   <base>/socket/<n>/cycle          command in: empty, PRESS, or an off-time like 10s
 *   <base>/socket/<n>/result         what a command did or why it was refused, JSON (not retained)
 */
export class Topics {
  readonly base: string;
  /** Home Assistant's node id for this PDU: the base topic in the characters it allows. */
  readonly nodeId: string;

  constructor(base: string) {
    this.base = base;
    this.nodeId = base.replace(/[^A-Za-z0-9_-]/g, '_');
  }

  static for(config: PduConfig): Topics {
    return new Topics(config.mqtt?.baseTopic ?? `pipdu/${config.name}`);
  }

  get availability(): string {
    return `${this.base}/availability`;
  }
  get board(): string {
    return `${this.base}/board`;
  }
  get boardAvailability(): string {
    return `${this.base}/board/availability`;
  }
  get audit(): string {
    return `${this.base}/audit`;
  }
  /** The PDU's own alarms (maximum current and its warning): ON/OFF, and a JSON list beside it. */
  get alarm(): string {
    return `${this.base}/alarm`;
  }
  get alarmAttributes(): string {
    return `${this.base}/alarm/attributes`;
  }
  socket(number: number, leaf: SocketLeaf): string {
    return `${this.base}/socket/${number}/${leaf}`;
  }
  /** The command topics, as subscriptions. */
  get commandFilters(): string[] {
    return [`${this.base}/socket/+/set`, `${this.base}/socket/+/cycle`];
  }
  /** A command topic's socket number and verb; null for any other topic. */
  parseCommand(topic: string): { socket: string; verb: 'set' | 'cycle' } | null {
    if (!topic.startsWith(`${this.base}/socket/`)) return null;
    const match = /^([^/]+)\/(set|cycle)$/.exec(topic.slice(this.base.length + 8));
    if (!match) return null;
    return { socket: match[1] as string, verb: match[2] as 'set' | 'cycle' };
  }
}

export type SocketLeaf =
  | 'alarm'
  | 'alarm/attributes'
  | 'state'
  | 'attributes'
  | 'pending'
  | 'power'
  | 'current'
  | 'energy'
  | 'set'
  | 'cycle'
  | 'result';
