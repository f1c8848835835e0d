import { EventEmitter } from 'node:events';

/**
 * The ORIGINAL PiPDU firmware (2022/2023, before PRP/1), in memory, no I/O:
 * see "The original PiPDU firmware" in docs/relay-board-protocol.md.
 *
 * - 16 channels. Single-byte commands, never answered: `'A'+i` turns channel
 *   i on, `'a'+i` off, `'q'` all off, `'r'` all on. Every other byte
 *   (including `\r` and `\n`) is ignored.
 * - Every 500 ms one telemetry line: the RMS current of each channel in amps
 *   with 2 decimals, `0.12,0.00,...` (format `comma`, the first builds) or
 *   `0.12 0.00 ... ` with a trailing space (format `space`, later builds).
 * - At power-up it energizes EVERY relay (that is how the original behaved,
 *   and why PRP/1 has a power-up mask). It sends nothing at boot.
 *
 * Same shape as SimulatedBoard: `output` carries complete lines, nothing is
 * emitted before start() or after stop().
 */

export type LegacyTelemetryFormat = 'comma' | 'space';

export interface LegacySimulatedBoardOptions {
  /** Default `comma`. */
  format?: LegacyTelemetryFormat;
  /** Default 500; 0 = none. */
  telemetryIntervalMs?: number;
  /** RMS load per channel in mA while its relay is on; default varied plausible values. */
  loadsMa?: number[];
  /** Noise source (±2% on readings); default Math.random. */
  random?: () => number;
  /** End lines with `\r\n` (Arduino's println) instead of `\n`; default false. */
  crlf?: boolean;
}

export interface LegacySimulatedBoardEvents {
  output: [text: string];
  /** Every byte received other than `\r` and `\n`, commands and unknown bytes alike. */
  request: [line: string];
  relays: [mask: number];
  /** Powered up: with every relay on; the legacy board has no boot id (''). */
  boot: [mask: number, bootId: string];
}

export const LEGACY_CHANNELS = 16;
const ALL_ON = 0xffff;
const DEFAULT_LOADS_MA = [120, 350, 45, 800, 2500, 60, 1500, 230, 90, 410, 1800, 75, 640, 40, 1100, 300];
const NOISE = 0.02;

export class LegacySimulatedBoard extends EventEmitter<LegacySimulatedBoardEvents> {
  readonly channels = LEGACY_CHANNELS;
  readonly format: LegacyTelemetryFormat;
  /** A hung board: bytes are reported but not obeyed, no telemetry. */
  faults: { muted: boolean } = { muted: false };

  private readonly telemetryIntervalMs: number;
  private readonly random: () => number;
  private readonly loads: number[];
  private readonly lineEnd: string;
  private relayMask = 0;
  private running = false;
  private telemetryTimer: NodeJS.Timeout | null = null;
  private readonly immediates = new Set<NodeJS.Immediate>();

  constructor(options: LegacySimulatedBoardOptions = {}) {
    super();
    this.format = options.format ?? 'comma';
    if (this.format !== 'comma' && this.format !== 'space') throw new RangeError(`bad format ${this.format}`);
    this.telemetryIntervalMs = options.telemetryIntervalMs ?? 500;
    this.random = options.random ?? Math.random;
    this.lineEnd = options.crlf ? '\r\n' : '\n';
    const loads = options.loadsMa ?? [];
    this.loads = Array.from({ length: LEGACY_CHANNELS }, (_, i) => loads[i] ?? DEFAULT_LOADS_MA[i]!);
    for (const load of this.loads) {
      if (!Number.isFinite(load) || load < 0)
        throw new RangeError(`loads must be milliamps >= 0, got ${load}`);
    }
  }

  get relays(): number {
    return this.relayMask;
  }

  /** The legacy firmware has no boot id. */
  get bootId(): string {
    return '';
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Power on: every relay on, telemetry starts. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const previous = this.relayMask;
    this.relayMask = ALL_ON;
    this.emit('boot', ALL_ON, '');
    if (previous !== ALL_ON) this.emit('relays', ALL_ON);
    if (this.telemetryIntervalMs > 0) {
      this.telemetryTimer = setInterval(() => {
        if (!this.faults.muted) this.emit('output', this.telemetryLine());
      }, this.telemetryIntervalMs);
    }
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    this.telemetryTimer = null;
    for (const immediate of this.immediates) clearImmediate(immediate);
    this.immediates.clear();
  }

  reset(): void {
    this.stop();
    this.start();
  }

  receive(bytes: string): void {
    for (const byte of bytes) {
      if (!this.running) return;
      if (byte === '\r' || byte === '\n') continue;
      this.emit('request', byte);
      if (this.faults.muted) continue;
      const code = byte.charCodeAt(0);
      if (byte === 'q') this.changeRelays(0);
      else if (byte === 'r') this.changeRelays(ALL_ON);
      else if (code >= 0x41 && code < 0x41 + LEGACY_CHANNELS)
        this.changeRelays(this.relayMask | (1 << (code - 0x41)));
      else if (code >= 0x61 && code < 0x61 + LEGACY_CHANNELS)
        this.changeRelays(this.relayMask & ~(1 << (code - 0x61)));
    }
  }

  /** Sends `text` + the line end as-is. */
  sendGarbage(text: string): void {
    if (!this.running) return;
    const line = `${text}${this.lineEnd}`;
    const immediate = setImmediate(() => {
      this.immediates.delete(immediate);
      this.emit('output', line);
    });
    this.immediates.add(immediate);
  }

  setLoad(channel: number, milliamps: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel >= LEGACY_CHANNELS) {
      throw new RangeError(`channel ${channel} out of range 0..${LEGACY_CHANNELS - 1}`);
    }
    if (!Number.isFinite(milliamps) || milliamps < 0) throw new RangeError(`bad load ${milliamps} mA`);
    this.loads[channel] = milliamps;
  }

  /** Current per channel in mA now: on channels ≈ their load (±2%), off channels 0. */
  readings(): number[] {
    return this.loads.map((load, channel) => {
      if ((this.relayMask & (1 << channel)) === 0) return 0;
      return Math.max(0, Math.round(load * (1 + (this.random() * 2 - 1) * NOISE)));
    });
  }

  /** One telemetry line as the firmware prints it. */
  telemetryLine(): string {
    const amps = this.readings().map((milliamps) => (milliamps / 1000).toFixed(2));
    const body = this.format === 'comma' ? amps.join(',') : amps.map((value) => `${value} `).join('');
    return `${body}${this.lineEnd}`;
  }

  private changeRelays(mask: number): void {
    if (mask === this.relayMask) return;
    this.relayMask = mask;
    this.emit('relays', mask);
  }
}
