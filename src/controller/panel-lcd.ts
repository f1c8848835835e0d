import { setTimeout as sleep } from 'node:timers/promises';
import { Hd44780 } from '../../hardware/hd44780.js';
import { describeI2cError, type LazyI2cBus } from '../../hardware/i2c.js';
import type { ControllerConfig } from '../config/schema.js';
import { PduError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PduService } from '../pdu/pdu-service.js';
import type { Alarm, EnergyFigures, PduStatus, SocketInfo } from '../pdu/types.js';
import { ChipKeeper } from './chip-keeper.js';
import type { Clock } from './clock.js';

export type LcdConfig = NonNullable<ControllerConfig['lcd']>;

/** What the LCD reads from the Energy part, where it runs. */
export interface PanelEnergy {
  figures(socket: number | null): EnergyFigures;
  activeAlarms(): Alarm[];
}

export interface PanelLcdDeps {
  config: LcdConfig;
  service: PduService;
  bus: LazyI2cBus;
  logger: Logger;
  clock: Clock;
  /** The alarms raised now (the panel keeps them from the service's events). */
  alarms: () => Alarm[];
  energy?: PanelEnergy;
}

/** A screen that shows for a while after a press: the socket, or why a request failed. */
type View =
  | { kind: 'socket'; socket: number; until: number }
  | { kind: 'error'; socket: number; error: { code: string; message: string }; until: number };

/** What a screen is made from: the service's status and what the panel knows. */
export interface ScreenState {
  status: PduStatus;
  alarms: Alarm[];
  /** null: Discord is not configured. */
  discord: boolean | null;
  view: View | null;
  /** Hold threshold (ms), for the hint on a socket's screen. */
  longPress: number;
  energyToday: (socket: number) => number | null;
  /** Wall-clock ms, for the elapsed time of pending work. */
  now: number;
}

/**
 * The LCD on the front panel: what it shows, kept up to date from the
 * service's events. In order of precedence:
 * - an error or refusal of a panel request (BUSY, FORBIDDEN, board offline,
 *   …) in words, for `showSocket` after it;
 * - the socket whose key was pressed (name, state, watts, energy today) for
 *   `showSocket` after a short press;
 * - pending work (the pressed socket's, else the lowest busy socket): what it
 *   does, its current step and the time elapsed, each second;
 * - idle: the PDU's name, total power, sockets on, board and Discord status,
 *   and the alarms raised.
 *
 * Writes go to the chip one at a time, each only the characters that
 * changed (Hd44780.update); screens asked for while a write runs are merged
 * into the next. The backlight goes dark `backlightTimeout` after the last
 * press (0: never) and a press or a raised alarm lights it again. A failing
 * LCD is reported once and retried (ChipKeeper), the rest of the panel runs on.
 */
export class PanelLcd {
  private readonly deps: PanelLcdDeps;
  private readonly lcd: Hd44780;
  private readonly keeper: ChipKeeper;
  private readonly abort = new AbortController();
  private view: View | null = null;
  private discord: boolean | null = null;
  private lit = true;
  private darkTimer: unknown = null;
  private viewTimer: unknown = null;
  private ticker: unknown = null;
  private dirty = false;
  private running: Promise<void> | null = null;
  private started = false;

  constructor(deps: PanelLcdDeps) {
    this.deps = deps;
    const [columns, rows] = deps.config.size.split('x').map(Number) as [number, number];
    this.lcd = new Hd44780({
      bus: deps.bus,
      address: deps.config.address,
      columns,
      rows,
      delay: (ms) => sleep(ms, undefined, { signal: this.abort.signal }),
    });
    this.keeper = new ChipKeeper({
      name: this.lcd.name,
      logger: deps.logger,
      clock: deps.clock,
      describe: (error) => describeI2cError(error, deps.bus.busNumber, deps.config.address),
    });
  }

  start(): void {
    this.started = true;
    const events = this.deps.service.events;
    for (const event of LCD_EVENTS) events.on(event, this.changed);
    this.wake();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    const events = this.deps.service.events;
    for (const event of LCD_EVENTS) events.off(event, this.changed);
    this.abort.abort();
    this.keeper.stop();
    const { clock } = this.deps;
    for (const timer of [this.darkTimer, this.viewTimer]) if (timer !== null) clock.clearTimeout(timer);
    if (this.ticker !== null) clock.clearInterval(this.ticker);
    this.darkTimer = this.viewTimer = this.ticker = null;
  }

  /** What the LCD shows now, as last written (empty before its init or while it fails). */
  text(): string[] {
    return this.lcd.text();
  }

  get backlight(): boolean {
    return this.lit;
  }

  /** Resolves once every screen asked for so far is on the LCD (or its write failed). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  setDiscordConnected(connected: boolean | null): void {
    this.discord = connected;
    this.changed();
  }

  /** A key went down: light the backlight for another `backlightTimeout`. */
  wake(): void {
    const { clock, config } = this.deps;
    if (this.darkTimer !== null) clock.clearTimeout(this.darkTimer);
    this.darkTimer = null;
    this.lit = true;
    if (config.backlightTimeout > 0) {
      this.darkTimer = clock.setTimeout(() => {
        this.darkTimer = null;
        this.lit = false;
        this.changed();
      }, config.backlightTimeout);
    }
    this.changed();
  }

  /** A short press: that socket's screen for `showSocket`. */
  showSocket(socket: number): void {
    this.show({ kind: 'socket', socket, until: this.deps.clock.now() + this.deps.config.showSocket });
  }

  /** A panel request failed: why, in words, for `showSocket`. */
  showError(socket: number, error: unknown): void {
    const { code, message } =
      error instanceof PduError
        ? error
        : { code: 'ERROR', message: error instanceof Error ? error.message : String(error) };
    this.show({
      kind: 'error',
      socket,
      error: { code, message },
      until: this.deps.clock.now() + this.deps.config.showSocket,
    });
  }

  private show(view: View): void {
    const { clock } = this.deps;
    this.view = view;
    if (this.viewTimer !== null) clock.clearTimeout(this.viewTimer);
    this.viewTimer = clock.setTimeout(() => {
      this.viewTimer = null;
      this.view = null;
      this.changed();
    }, view.until - clock.now());
    this.wake();
  }

  private readonly changed = (...args: unknown[]): void => {
    if (!this.started) return;
    const event = args[0] as { state?: string; alarm?: unknown } | undefined;
    if (event?.alarm !== undefined && event.state === 'raised' && !this.lit) {
      this.wake();
      return;
    }
    this.dirty = true;
    if (this.running === null && !this.keeper.down) {
      // Drawn on the next turn of the event loop: never in the path of the
      // request that caused it, and a burst of events makes one screen.
      this.running = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.pump())
        .finally(() => {
          this.running = null;
        });
    }
  };

  private async pump(): Promise<void> {
    if (this.keeper.down) return;
    while (this.dirty && this.started) {
      this.dirty = false;
      try {
        await this.write();
        this.keeper.recovered();
      } catch (error) {
        if (!this.started) return;
        this.keeper.failed(error, () => this.recover());
        return;
      }
    }
  }

  private async recover(): Promise<void> {
    this.dirty = false;
    await this.write();
    this.keeper.recovered();
    if (this.dirty) this.changed();
  }

  private async write(): Promise<void> {
    if (!this.lcd.ready) await this.lcd.init();
    await this.lcd.update(this.screen(), this.lit);
  }

  /** The screen for now; keeps a 1 s ticker while it shows pending work (the elapsed time). */
  private screen(): string[] {
    const { service, energy, config, clock } = this.deps;
    const status = service.status();
    const lines = renderScreen(
      {
        status,
        alarms: this.deps.alarms(),
        discord: this.discord,
        view: this.view,
        longPress: service.config.controller?.longPress ?? 3000,
        energyToday: (socket) => (energy ? energy.figures(socket).todayKwh : null),
        now: Date.now(),
      },
      config.size,
    );
    const ticking = status.sockets.some((s) => s.pending !== null);
    if (ticking && this.ticker === null) this.ticker = clock.setInterval(this.changed, 1000);
    else if (!ticking && this.ticker !== null) {
      clock.clearInterval(this.ticker);
      this.ticker = null;
    }
    return lines;
  }
}

const LCD_EVENTS = [
  'socketChanged',
  'pending',
  'step',
  'boardOnline',
  'boardOffline',
  'telemetry',
  'alarm',
  'reloaded',
] as const;

/** Codes that mean "not done, on purpose"; the rest are failures. */
const REFUSALS = new Set([
  'BUSY',
  'FORBIDDEN',
  'NEEDS_CONFIRMATION',
  'OVERLOAD',
  'BOARD_OFFLINE',
  'UNKNOWN_SOCKET',
]);

/** Errors in the panel's own words (the service's messages are written for a wider screen). */
const ERROR_WORDS: Record<string, string> = {
  BUSY: 'Busy: other work runs on this socket',
  FORBIDDEN: 'Not allowed from the panel',
  NEEDS_CONFIRMATION: 'Protected: hold twice as long to switch off',
  OVERLOAD: 'Would overload the PDU',
  BOARD_OFFLINE: 'Board offline: nothing was switched',
  BOARD_TIMEOUT: 'The board did not answer',
  CANCELLED: 'Cancelled',
  TIMEOUT: 'Took too long: stopped',
};

/** The LCD's lines for a state, on a 20×4 or 16×2 screen. */
export function renderScreen(state: ScreenState, size: '20x4' | '16x2'): string[] {
  const columns = size === '20x4' ? 20 : 16;
  const small = size === '16x2';
  const { status, view } = state;
  const socket = (n: number) => status.sockets[n - 1];
  if (view?.kind === 'error') {
    const info = socket(view.socket);
    const verb = REFUSALS.has(view.error.code) ? 'Refused' : 'Failed';
    const title = verb.length + 1 + view.error.code.length <= columns ? `${verb} ${view.error.code}` : verb;
    const words = wrap(ERROR_WORDS[view.error.code] ?? view.error.message, columns, small ? 1 : 2);
    return small ? [title, words[0] ?? ''] : [socketTitle(info, view.socket), title, ...words];
  }
  const pending =
    (view?.kind === 'socket' && socket(view.socket)?.pending ? socket(view.socket) : undefined) ??
    status.sockets.find((s) => s.pending !== null);
  if (view?.kind === 'socket' && !pending?.pending)
    return socketScreen(state, socket(view.socket)!, columns, small);
  if (pending?.pending) return pendingScreen(pending, state.now, columns, small);
  return idleScreen(state, columns, small);
}

function idleScreen(state: ScreenState, columns: number, small: boolean): string[] {
  const { status, alarms, discord } = state;
  const on = status.sockets.filter((s) => s.on === true).length;
  const online = status.board.online;
  // Offline, the last readings are no longer the board's: no power, and the count is what was on.
  const power = !online
    ? small
      ? '--'
      : '-- W'
    : status.totalWatts === null
      ? '-- W'
      : `${Math.round(status.totalWatts)} W`;
  const count = `${online ? '' : 'was '}${on}/${status.sockets.length} on`;
  const board = online ? 'Board ok' : 'Board OFFLINE';
  const chat = discord === null ? '' : discord ? 'Discord ok' : 'Discord off';
  if (small) {
    const warn = !status.board.online
      ? 'OFFLINE'
      : alarms.length > 0
        ? `${alarms.length} ALARM`
        : discord === false
          ? 'NO DISC'
          : '';
    return [justify(status.name, warn, columns), justify(power, count, columns)];
  }
  const alarm =
    alarms.length === 0
      ? 'No alarms'
      : alarms.length === 1
        ? `ALARM ${alarms[0]!.message}`
        : `${alarms.length} ALARMS ${alarms[0]!.message}`;
  return [status.name, justify(power, count, columns), justify(board, chat, columns, 'left'), alarm];
}

function socketScreen(state: ScreenState, info: SocketInfo, columns: number, small: boolean): string[] {
  const online = state.status.board.online;
  const known = info.on === null ? 'unknown' : info.on ? 'ON' : 'OFF';
  // Offline: the last state the board reported, said as such, and no reading.
  const shown = online || info.on === null ? known : `was ${known}`;
  const watts = info.watts === null || !online ? '' : `${Math.round(info.watts)} W`;
  const title = socketTitle(info, info.number);
  if (small) return [title, justify(shown, watts, columns)];
  const today = state.energyToday(info.number);
  const hold = state.longPress * (info.protected && info.on !== false ? 2 : 1);
  return [
    title,
    justify(`${shown}${info.protected ? ' protected' : ''}`, watts, columns),
    today === null ? '' : `Today ${today.toFixed(2)} kWh`,
    `Hold ${seconds(hold)}: switch ${info.on ? 'off' : 'on'}`,
  ];
}

function pendingScreen(info: SocketInfo, now: number, columns: number, small: boolean): string[] {
  const work = info.pending!;
  const what = work.direction ?? work.action;
  const verb =
    what === 'on'
      ? 'Switching on'
      : what === 'off'
        ? 'Switching off'
        : what === 'cycle'
          ? 'Cycling'
          : what === 'restore'
            ? 'Restoring'
            : 'Toggling';
  const step = work.step
    ? `${work.step.phase} ${work.step.index}/${work.step.total} ${work.step.label}`
    : work.requests > 1
      ? `${work.requests} requests queued`
      : 'waiting';
  const elapsed = seconds(Math.max(0, now - Date.parse(work.since)));
  if (small) return [justify(`${info.number} ${SHORT_VERBS[what] ?? 'Busy'}...`, elapsed, columns), step];
  return [socketTitle(info, info.number), verb, step, `Elapsed ${elapsed}`];
}

/** Pending work's verbs for a 16-column line (beside the elapsed time). */
const SHORT_VERBS: Record<string, string> = {
  on: 'On',
  off: 'Off',
  cycle: 'Cycle',
  restore: 'Restore',
  toggle: 'Toggle',
};

function socketTitle(info: SocketInfo | undefined, number: number): string {
  return `${number} ${info?.name ?? `Socket ${number}`}`;
}

function seconds(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `left` and `right` on one line of `columns`; when both do not fit, `left` is cut short (or `right` left out, to keep the left). */
function justify(left: string, right: string, columns: number, keep: 'left' | 'right' = 'right'): string {
  if (!right) return left;
  if (keep === 'left' && left.length + 1 + right.length > columns) return left.slice(0, columns);
  const room = columns - right.length - 1;
  return `${left.slice(0, Math.max(0, room)).padEnd(Math.max(0, room))} ${right}`.slice(-columns);
}

/** Words on at most `lines` lines of `columns`. */
function wrap(text: string, columns: number, lines: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (!line) line = word;
    else if (line.length + 1 + word.length <= columns) line += ` ${word}`;
    else {
      out.push(line);
      line = word;
    }
  }
  if (line) out.push(line);
  return out.slice(0, lines);
}
