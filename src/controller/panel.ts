import type { Gpio, GpioInput, GpioOutput } from '../../hardware/gpio.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { ControllerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import type { PduEvents } from '../pdu/types.js';
import { type Clock, systemClock } from './clock.js';

export interface FrontPanelDeps {
  config: ControllerConfig;
  service: PduService;
  gpio: Gpio;
  logger: Logger;
  clock?: Clock;
}

/** LED patterns: half-periods in ms. */
const SLOW_BLINK_MS = 500;
const FAST_BLINK_MS = 100;
const IDENTIFY_MS = 2000;
const FAILURE_MS = 10_000;
/** The blink ticker's step: every pattern is a multiple of it. */
const TICK_MS = 100;

/**
 * `flash`: mostly off with short flashes; `wink`: mostly on with short gaps (identify shows the state so);
 * `alarm`: a double flash every second (an alarm is raised on the socket, or anywhere for the status LED).
 */
type LedMode = 'off' | 'on' | 'slow' | 'fast' | 'flash' | 'wink' | 'alarm';

interface Button {
  socket: number;
  input: GpioInput;
  unwatch: () => void;
  /** Debounced level. */
  pressed: boolean;
  /** The raw level waiting out the debounce. */
  settling: ReturnType<Clock['setTimeout']> | null;
  hold: ReturnType<Clock['setTimeout']> | null;
  /** The long press already fired in this hold: releasing does nothing more. */
  fired: boolean;
  /** This hold needs twice `longPress`: it confirms a protected socket's off. */
  confirming: boolean;
}

interface Led {
  socket: number;
  output: GpioOutput;
  lit: boolean;
  identifyUntil: number;
  failedUntil: number;
}

/**
 * The front panel: a button and an LED per socket and a status LED, on GPIO,
 * making requests to the Pdu service like every other interface (actor
 * `panel`, with the admin role: whoever stands at the rack can pull the
 * plug anyway; the double hold is its confirmation).
 *
 * Buttons (button i → socket i + 1), debounced by `controller.debounce`:
 * - A long press fires the moment the hold passes `longPress`, while the
 *   button is still down, and toggles the socket — once per hold; releasing
 *   afterwards does nothing more. Switching a protected socket off needs a
 *   hold of twice `longPress`, and what that hold confirmed is what is
 *   requested: an off. A single hold requests an unconfirmed toggle, which
 *   the service refuses (NEEDS_CONFIRMATION, the LED blinks fast) if it finds
 *   the protected socket on by the time it acts.
 * - While the socket has pending work, a long press cancels it when
 *   `longPressCancels` is set; otherwise it toggles like any request (and
 *   then joins the pending work or is refused BUSY).
 * - A short press does `shortPress`: nothing, `identify` (for 2 s the LED
 *   blinks its state: short flashes when off, short gaps when on) or `toggle` (never to switch a protected socket off: that needs the
 *   double hold, so it identifies instead).
 *
 * LEDs follow the service's events, never the board: on when the socket is
 * on, a slow blink while work is pending, a fast blink for 10 s after a
 * failure on that socket, a double flash every second while an alarm is
 * raised on it. The status LED is steady while the board is online
 * (and Discord connected, where it is configured), blinks slowly when Discord
 * is down, fast when the board is offline, and double-flashes while any
 * alarm is raised.
 *
 * `start()` opens the lines (GpioUnavailableError where there is no GPIO);
 * `stop()` releases every line and clears every timer.
 */
export class FrontPanel {
  /** The controller section as started: its lines. Timings are read from the config in force. */
  private readonly initial: ControllerConfig;
  private readonly service: PduService;
  private readonly gpio: Gpio;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly buttons: Button[] = [];
  private readonly leds: Led[] = [];
  private statusLed: GpioOutput | null = null;
  private statusLit = false;
  private ticker: ReturnType<Clock['setInterval']> | null = null;
  /** null: Discord is not configured; the status LED ignores it. */
  private discordConnected: boolean | null = null;
  private started = false;

  constructor(deps: FrontPanelDeps) {
    this.initial = deps.config;
    this.service = deps.service;
    this.gpio = deps.gpio;
    this.logger = deps.logger.child({ component: 'panel' });
    this.clock = deps.clock ?? systemClock;
  }

  /** The controller section in force: a reload changes timings and press actions, not lines. */
  private get config(): ControllerConfig {
    return this.service.config.controller ?? this.initial;
  }

  start(): void {
    try {
      this.initial.buttons.forEach((line, i) => {
        const input = this.gpio.input(line, { activeLow: this.initial.buttonActiveLow });
        const button: Button = {
          socket: i + 1,
          input,
          unwatch: () => undefined,
          pressed: false,
          settling: null,
          hold: null,
          fired: false,
          confirming: false,
        };
        button.unwatch = input.watch((active) => this.onEdge(button, active));
        this.buttons.push(button);
      });
      this.initial.leds.forEach((line, i) => {
        const output = this.gpio.output(line, { activeLow: this.initial.ledActiveLow, initial: false });
        this.leds.push({ socket: i + 1, output, lit: false, identifyUntil: 0, failedUntil: 0 });
      });
      if (this.initial.statusLed !== undefined) {
        this.statusLed = this.gpio.output(this.initial.statusLed, {
          activeLow: this.initial.ledActiveLow,
          initial: false,
        });
      }
    } catch (error) {
      this.release();
      throw error;
    }
    const events = this.service.events;
    events.on('socketChanged', this.refresh);
    events.on('pending', this.refresh);
    events.on('boardOnline', this.refresh);
    events.on('boardOffline', this.refresh);
    events.on('action', this.onAction);
    events.on('alarm', this.onAlarm);
    this.started = true;
    this.refresh();
    this.logger.info(
      { buttons: this.buttons.length, leds: this.leds.length, statusLed: this.statusLed !== null },
      'front panel running',
    );
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    const events = this.service.events;
    events.off('socketChanged', this.refresh);
    events.off('pending', this.refresh);
    events.off('boardOnline', this.refresh);
    events.off('boardOffline', this.refresh);
    events.off('action', this.onAction);
    events.off('alarm', this.onAlarm);
    this.alarms.clear();
    this.release();
  }

  /** Discord's connection, for the status LED (null: not configured). */
  setDiscordConnected(connected: boolean | null): void {
    this.discordConnected = connected;
    if (this.started) this.refresh();
  }

  private release(): void {
    for (const button of this.buttons) {
      button.unwatch();
      if (button.settling !== null) this.clock.clearTimeout(button.settling);
      if (button.hold !== null) this.clock.clearTimeout(button.hold);
      button.input.release();
    }
    for (const led of this.leds) led.output.release();
    this.statusLed?.release();
    if (this.ticker !== null) this.clock.clearInterval(this.ticker);
    this.ticker = null;
    this.buttons.length = 0;
    this.leds.length = 0;
    this.statusLed = null;
  }

  // --- buttons ----------------------------------------------------------------

  private onEdge(button: Button, active: boolean): void {
    if (button.settling !== null) this.clock.clearTimeout(button.settling);
    button.settling = null;
    if (this.config.debounce === 0) {
      this.settle(button, active);
      return;
    }
    // The level must hold for the debounce time; a bounce restarts the wait.
    button.settling = this.clock.setTimeout(() => {
      button.settling = null;
      this.settle(button, active);
    }, this.config.debounce);
  }

  private settle(button: Button, active: boolean): void {
    if (active === button.pressed) return;
    button.pressed = active;
    if (active) {
      button.fired = false;
      button.confirming = this.endsProtectedOff(button.socket);
      const threshold = this.config.longPress * (button.confirming ? 2 : 1);
      button.hold = this.clock.setTimeout(() => {
        button.hold = null;
        button.fired = true;
        this.longPress(button.socket, button.confirming);
      }, threshold);
      return;
    }
    if (button.hold !== null) this.clock.clearTimeout(button.hold);
    button.hold = null;
    if (!button.fired) this.shortPress(button.socket);
  }

  /** A toggle now would switch a protected socket off. */
  private endsProtectedOff(socket: number): boolean {
    const info = this.service.info(socket);
    return info.protected && info.on !== false;
  }

  private requester(socket: number): Requester {
    return { actor: { kind: 'panel', id: `button-${socket}` }, role: 'admin', groups: [], confirms: true };
  }

  /** A hold reached its threshold: cancel (if so configured), the confirmed off, or a toggle. */
  private longPress(socket: number, confirmedOff: boolean): void {
    if (this.config.longPressCancels && this.service.info(socket).pending) {
      this.request(socket, 'cancel', false);
      return;
    }
    if (confirmedOff) this.request(socket, 'off', true);
    else this.request(socket, 'toggle', false);
  }

  private shortPress(socket: number): void {
    const action = this.config.shortPress;
    if (action === 'none') return;
    if (action === 'toggle' && !this.endsProtectedOff(socket)) {
      this.request(socket, 'toggle', false);
      return;
    }
    this.identify(socket);
  }

  private request(socket: number, action: 'toggle' | 'off' | 'cancel', confirmed: boolean): void {
    this.service
      .submit({ socket, action, by: this.requester(socket), options: confirmed ? { confirmed } : {} })
      .catch((error: unknown) => {
        // The failure is audited by the service; its LED blinks fast (onAction).
        this.logger.warn({ err: error, socket, action }, `front panel ${action} failed`);
      });
  }

  private identify(socket: number): void {
    const led = this.leds[socket - 1];
    if (!led) return;
    led.identifyUntil = this.clock.now() + IDENTIFY_MS;
    this.refresh();
  }

  // --- LEDs -------------------------------------------------------------------

  private readonly onAction = (entry: AuditEntry): void => {
    if (entry.result !== 'error' || entry.socket === undefined) return;
    const led = this.leds[entry.socket - 1];
    if (!led) return;
    led.failedUntil = this.clock.now() + FAILURE_MS;
    this.refresh();
  };

  /** Raised alarms: id → socket number (null for the PDU's own). */
  private readonly alarms = new Map<string, number | null>();

  private readonly onAlarm = ({ alarm, state }: PduEvents['alarm'][0]): void => {
    if (state === 'raised') this.alarms.set(alarm.id, alarm.socket);
    else this.alarms.delete(alarm.id);
    this.refresh();
  };

  private ledMode(led: Led, now: number): LedMode {
    if (now < led.failedUntil) return 'fast';
    const info = this.service.info(led.socket);
    if (now < led.identifyUntil) return info.on ? 'wink' : 'flash';
    if ([...this.alarms.values()].includes(led.socket)) return 'alarm';
    if (info.pending) return 'slow';
    return info.on ? 'on' : 'off';
  }

  private statusMode(): LedMode {
    if (!this.service.boardOnline) return 'fast';
    if (this.alarms.size > 0) return 'alarm';
    if (this.discordConnected === false) return 'slow';
    return 'on';
  }

  /** Puts every LED where its state says; runs the blink ticker only while something blinks. */
  private readonly refresh = (): void => {
    if (!this.started) return;
    const now = this.clock.now();
    let blinking = false;
    for (const led of this.leds) {
      const mode = this.ledMode(led, now);
      blinking ||= mode !== 'on' && mode !== 'off';
      this.writeLed(led, lit(mode, now));
    }
    if (this.statusLed) {
      const mode = this.statusMode();
      blinking ||= mode === 'slow' || mode === 'fast' || mode === 'alarm';
      const value = lit(mode, now);
      if (value !== this.statusLit) {
        this.statusLit = value;
        this.statusLed.write(value);
      }
    }
    if (blinking && this.ticker === null) {
      this.ticker = this.clock.setInterval(this.refresh, TICK_MS);
    } else if (!blinking && this.ticker !== null) {
      this.clock.clearInterval(this.ticker);
      this.ticker = null;
    }
  };

  private writeLed(led: Led, value: boolean): void {
    if (value === led.lit) return;
    led.lit = value;
    led.output.write(value);
  }
}

function lit(mode: LedMode, now: number): boolean {
  switch (mode) {
    case 'on':
      return true;
    case 'off':
      return false;
    case 'slow':
      return Math.floor(now / SLOW_BLINK_MS) % 2 === 0;
    case 'fast':
      return Math.floor(now / FAST_BLINK_MS) % 2 === 0;
    case 'flash':
      return Math.floor(now / FAST_BLINK_MS) % 4 === 0;
    case 'wink':
      return Math.floor(now / FAST_BLINK_MS) % 4 !== 0;
    case 'alarm': {
      const phase = Math.floor(now / FAST_BLINK_MS) % 10;
      return phase === 0 || phase === 2;
    }
  }
}
