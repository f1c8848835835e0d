import type { Gpio, GpioInput, GpioOutput } from '../../hardware/gpio.js';
import { type I2cOpener, LazyI2cBus, openI2cBus } from '../../hardware/i2c.js';
import type { AuditEntry } from '../audit/audit-log.js';
import type { ControllerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import type { Alarm, PduEvents } from '../pdu/types.js';
import { type Clock, systemClock } from './clock.js';
import { KeyMatrix } from './key-matrix.js';
import { type LedSink, ledSink } from './led-sinks.js';
import { type PanelEnergy, PanelLcd } from './panel-lcd.js';

export interface FrontPanelDeps {
  config: ControllerConfig;
  service: PduService;
  gpio: Gpio;
  logger: Logger;
  clock?: Clock;
  /** Opens /dev/i2c-N for the LED expanders and the LCD: `i2c-bus`'s openSync by default; tests pass chip models. */
  i2c?: I2cOpener;
  /** The Energy part, where it runs: the LCD shows energy today and the alarms raised before the panel started. */
  energy?: PanelEnergy;
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
  identifyUntil: number;
  failedUntil: number;
}

/**
 * The front panel: a button and an LED per socket, a status LED and an LCD,
 * making requests to the Pdu service like every other interface (actor
 * `panel`, with the admin role: whoever stands at the rack can pull the
 * plug anyway; the double hold is its confirmation). The panel never checks
 * a permission itself: the service decides.
 *
 * Wiring (each part optional): buttons on one GPIO line each
 * (`controller.buttons`) or as a key matrix (`controller.matrix`, see
 * KeyMatrix: key i → socket i + 1 row by row, or `matrix.keys[i]`); LEDs on
 * GPIO lines (`controller.leds`) or on chips (`controller.ledChips`:
 * PCF8574, MCP23017 over I²C, 74HC595 on three lines); the status LED on
 * a GPIO line; the LCD behind a PCF8574 backpack (`controller.lcd`, see
 * PanelLcd). A chip that fails is reported once and retried (ChipKeeper):
 * the rest of the panel runs on.
 *
 * Buttons, debounced by `controller.debounce` (each key on its own):
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
 * A press lights the LCD's backlight; a short press shows the socket on it,
 * and a failed or refused panel request shows why.
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
  private readonly i2c: I2cOpener;
  private readonly energy: PanelEnergy | undefined;
  private readonly buttons: Button[] = [];
  /** Single-line buttons' inputs and their unwatch functions. */
  private readonly inputs: { input: GpioInput; unwatch: () => void }[] = [];
  private matrix: KeyMatrix | null = null;
  private readonly leds: Led[] = [];
  private ledSink: LedSink | null = null;
  private readonly buses = new Map<number, LazyI2cBus>();
  private lcd: PanelLcd | null = null;
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
    this.i2c = deps.i2c ?? openI2cBus;
    this.energy = deps.energy;
  }

  /** The LCD, when one is configured (its text, for tests and the bench). */
  get display(): PanelLcd | null {
    return this.lcd;
  }

  /** The key matrix, when one is configured. */
  get keyMatrix(): KeyMatrix | null {
    return this.matrix;
  }

  /** The controller section in force: a reload changes timings and press actions, not lines. */
  private get config(): ControllerConfig {
    return this.service.config.controller ?? this.initial;
  }

  start(): void {
    const newButton = (socket: number): Button => {
      const button: Button = {
        socket,
        pressed: false,
        settling: null,
        hold: null,
        fired: false,
        confirming: false,
      };
      this.buttons.push(button);
      return button;
    };
    try {
      this.initial.buttons.forEach((line, i) => {
        const input = this.gpio.input(line, { activeLow: this.initial.buttonActiveLow });
        const button = newButton(i + 1);
        this.inputs.push({ input, unwatch: input.watch((active) => this.onEdge(button, active)) });
      });
      const matrix = this.initial.matrix;
      if (matrix) {
        const size = matrix.rows.length * matrix.columns.length;
        const keys = Array.from({ length: size }, (_, i) => newButton(matrix.keys?.[i] ?? i + 1));
        this.matrix = new KeyMatrix({
          gpio: this.gpio,
          rows: matrix.rows,
          columns: matrix.columns,
          activeLow: this.initial.buttonActiveLow,
          scanIntervalMs: matrix.scanInterval,
          clock: this.clock,
          onKey: (key, down) => this.onEdge(keys[key]!, down),
        });
        this.matrix.start();
      }
      this.ledSink = ledSink({
        config: this.initial,
        gpio: this.gpio,
        i2cBus: (number) => this.bus(number),
        logger: this.logger,
        clock: this.clock,
      });
      this.ledSink.start();
      for (let i = 0; i < this.ledSink.count; i++) {
        this.leds.push({ socket: i + 1, identifyUntil: 0, failedUntil: 0 });
      }
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
    for (const alarm of this.energy?.activeAlarms() ?? []) this.alarms.set(alarm.id, alarm);
    if (this.initial.lcd) {
      this.lcd = new PanelLcd({
        config: this.initial.lcd,
        service: this.service,
        bus: this.bus(this.initial.lcd.i2cBus),
        logger: this.logger,
        clock: this.clock,
        alarms: () => [...this.alarms.values()],
        ...(this.energy ? { energy: this.energy } : {}),
      });
    }
    const events = this.service.events;
    events.on('socketChanged', this.refresh);
    events.on('pending', this.refresh);
    events.on('boardOnline', this.refresh);
    events.on('boardOffline', this.refresh);
    events.on('action', this.onAction);
    events.on('alarm', this.onAlarm);
    this.started = true;
    this.lcd?.setDiscordConnected(this.discordConnected);
    this.lcd?.start();
    this.refresh();
    this.logger.info(
      {
        buttons: this.buttons.length,
        matrix: this.matrix !== null,
        leds: this.leds.length,
        ledChips: this.initial.ledChips?.chip ?? null,
        statusLed: this.statusLed !== null,
        lcd: this.lcd !== null,
      },
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
    this.lcd?.stop();
    this.lcd = null;
    this.release();
  }

  /** Bus `number`, opened on first use and shared by the chips on it. */
  private bus(number: number): LazyI2cBus {
    let bus = this.buses.get(number);
    if (!bus) {
      bus = new LazyI2cBus(number, this.i2c);
      this.buses.set(number, bus);
    }
    return bus;
  }

  /** Discord's connection, for the status LED (null: not configured). */
  setDiscordConnected(connected: boolean | null): void {
    this.discordConnected = connected;
    this.lcd?.setDiscordConnected(connected);
    if (this.started) this.refresh();
  }

  private release(): void {
    for (const { input, unwatch } of this.inputs) {
      unwatch();
      input.release();
    }
    this.matrix?.stop();
    for (const button of this.buttons) {
      if (button.settling !== null) this.clock.clearTimeout(button.settling);
      if (button.hold !== null) this.clock.clearTimeout(button.hold);
    }
    this.ledSink?.release();
    this.statusLed?.release();
    if (this.ticker !== null) this.clock.clearInterval(this.ticker);
    for (const bus of this.buses.values()) bus.close();
    this.ticker = null;
    this.inputs.length = 0;
    this.matrix = null;
    this.buttons.length = 0;
    this.leds.length = 0;
    this.ledSink = null;
    this.buses.clear();
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
      this.lcd?.wake();
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
    if (action === 'toggle' && !this.endsProtectedOff(socket)) this.request(socket, 'toggle', false);
    else if (action !== 'none') this.identify(socket);
    // after the request: the screen is drawn while the board works
    this.lcd?.showSocket(socket);
  }

  private request(socket: number, action: 'toggle' | 'off' | 'cancel', confirmed: boolean): void {
    this.service
      .submit({ socket, action, by: this.requester(socket), options: confirmed ? { confirmed } : {} })
      .catch((error: unknown) => {
        // The failure is audited by the service; its LED blinks fast (onAction), the LCD says why.
        this.logger.warn({ err: error, socket, action }, `front panel ${action} failed`);
        this.lcd?.showError(socket, error);
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

  /** Raised alarms by id. */
  private readonly alarms = new Map<string, Alarm>();

  private readonly onAlarm = ({ alarm, state }: PduEvents['alarm'][0]): void => {
    if (state === 'raised') this.alarms.set(alarm.id, alarm);
    else this.alarms.delete(alarm.id);
    this.refresh();
  };

  private ledMode(led: Led, now: number): LedMode {
    if (now < led.failedUntil) return 'fast';
    const info = this.service.info(led.socket);
    if (now < led.identifyUntil) return info.on ? 'wink' : 'flash';
    if ([...this.alarms.values()].some((alarm) => alarm.socket === led.socket)) return 'alarm';
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
    const pattern = this.leds.map((led) => {
      const mode = this.ledMode(led, now);
      blinking ||= mode !== 'on' && mode !== 'off';
      return lit(mode, now);
    });
    this.ledSink?.show(pattern);
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
