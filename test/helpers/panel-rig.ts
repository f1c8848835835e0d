import { parseConfig } from '../../src/config/load.js';
import type { ControllerConfig } from '../../src/config/schema.js';
import { FrontPanel } from '../../src/controller/panel.js';
import type { PanelEnergy } from '../../src/controller/panel-lcd.js';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import { FakeClock } from './fake-clock.js';
import { FakeGpio } from './fake-gpio.js';
import {
  FakeI2c,
  Hc595ChainModel,
  Hd44780Model,
  Mcp23017Model,
  Pcf8574Model,
  type PinChange,
} from './fake-i2c.js';
import { FakeKeyMatrix } from './fake-matrix.js';
import { PduFixture } from './pdu-fixture.js';

/**
 * The front panel's wirings, each with the chip models behind it, so one
 * rule test runs against all of them: single GPIO lines; a 2×2 key matrix
 * with LEDs on a PCF8574, an MCP23017 or a 74HC595. Four sockets' keys and
 * LEDs (index 0–3), the status LED on GPIO 26, the LCD (when asked for) at
 * 0x27 on bus 1.
 */
export const PANEL_SETUPS = ['gpio', 'matrix+pcf8574', 'matrix+mcp23017', 'matrix+74hc595'] as const;
export type PanelSetup = (typeof PANEL_SETUPS)[number];

export const BUTTONS = [17, 27, 22, 23];
export const LEDS = [5, 6, 13, 19];
export const ROWS = [17, 27];
export const COLUMNS = [22, 23];
export const HC595 = { data: 5, clock: 6, latch: 13 };
export const STATUS = 26;
export const PCF_ADDRESS = 0x20;
export const MCP_ADDRESS = 0x21;
export const LCD_ADDRESS = 0x27;

/** The controller section's wiring lines for a setup (YAML, indented for `controller:`). */
export function wiringYaml(setup: PanelSetup, options: { lcd?: boolean; leds?: boolean } = {}): string {
  const lines: string[] = [];
  if (setup === 'gpio') {
    lines.push(`  buttons: [${BUTTONS.join(', ')}]`);
    if (options.leds !== false) lines.push(`  leds: [${LEDS.join(', ')}]`);
  } else {
    lines.push(
      `  matrix: { rows: [${ROWS.join(', ')}], columns: [${COLUMNS.join(', ')}], scanInterval: 10ms }`,
    );
    if (options.leds !== false) {
      if (setup === 'matrix+pcf8574')
        lines.push(`  ledChips: { chip: pcf8574, addresses: [0x20], count: 4 }`);
      if (setup === 'matrix+mcp23017')
        lines.push(`  ledChips: { chip: mcp23017, addresses: [0x21], count: 4 }`);
      if (setup === 'matrix+74hc595') {
        lines.push(
          `  ledChips: { chip: 74hc595, dataLine: ${HC595.data}, clockLine: ${HC595.clock}, latchLine: ${HC595.latch}, count: 4 }`,
        );
      }
    }
  }
  lines.push(`  statusLed: ${STATUS}`);
  if (options.lcd) lines.push('  lcd: { address: 0x27, size: 20x4, showSocket: 5s, backlightTimeout: 1m }');
  return lines.join('\n');
}

export function controllerConfig(
  setup: PanelSetup,
  extra = '',
  options: { lcd?: boolean; leds?: boolean } = {},
) {
  return parseConfig(
    `version: 1\nboard: { driver: simulator }\ncontroller:\n${wiringYaml(setup, options)}\n  debounce: 30ms\n  longPress: 3s\n${extra}`,
    'panel.yaml',
  ).controller!;
}

/** The keys, LEDs and LCD of a setup, as a person at the panel sees them. */
export class PanelWiring {
  readonly gpio: FakeGpio;
  readonly i2c = new FakeI2c();
  readonly matrix: FakeKeyMatrix | null = null;
  readonly pcf: Pcf8574Model;
  readonly mcp: Mcp23017Model;
  readonly hc595: Hc595ChainModel | null = null;
  readonly backpack: Pcf8574Model;
  readonly lcd: Hd44780Model;

  constructor(
    readonly setup: PanelSetup,
    readonly clock: FakeClock,
  ) {
    const now = () => clock.now();
    this.gpio = new FakeGpio({ now });
    if (setup !== 'gpio') this.matrix = new FakeKeyMatrix(this.gpio, ROWS, COLUMNS);
    this.pcf = new Pcf8574Model(now);
    this.mcp = new Mcp23017Model(now);
    if (setup === 'matrix+74hc595') this.hc595 = new Hc595ChainModel(this.gpio, HC595, 1, now);
    this.i2c.attach(1, PCF_ADDRESS, this.pcf);
    this.i2c.attach(1, MCP_ADDRESS, this.mcp);
    this.backpack = new Pcf8574Model(now);
    this.lcd = new Hd44780Model(this.backpack, 20, 4);
    this.i2c.attach(1, LCD_ADDRESS, this.backpack);
  }

  /** Key i (socket i + 1) goes down. */
  press(i: number): void {
    if (this.matrix) this.matrix.press(i);
    else this.gpio.press(BUTTONS[i]!);
  }

  release(i: number): void {
    if (this.matrix) this.matrix.release(i);
    else this.gpio.release(BUTTONS[i]!);
  }

  /** Key i's contact through `levels` (true = made), with no time between. */
  bounce(i: number, levels: readonly boolean[]): void {
    if (this.matrix) this.matrix.bounce(i, levels);
    else this.gpio.bounce(BUTTONS[i]!, levels);
  }

  /** Whether LED i (socket i + 1) is lit. */
  led(i: number): boolean {
    return this.ledHistory(i).at(-1)!.value;
  }

  /** Every change of LED i (lit or not) with its time, the first state first. */
  ledHistory(i: number): PinChange[] {
    switch (this.setup) {
      case 'gpio':
        return this.gpio.history(LEDS[i]!);
      case 'matrix+pcf8574':
        // LEDs sink into the pins: lit while the pin is low
        return this.pcf.history(i).map((w) => ({ value: !w.value, at: w.at }));
      case 'matrix+mcp23017':
        return this.mcp.history(i);
      case 'matrix+74hc595':
        return this.hc595!.history(i);
    }
  }

  /** Every GPIO line opened is released. */
  detach(): void {
    this.matrix?.detach();
    this.hc595?.detach();
  }
}

export interface PanelRig {
  f: PduFixture;
  clock: FakeClock;
  wiring: PanelWiring;
  gpio: FakeGpio;
  panel: FrontPanel;
  config: ControllerConfig;
}

/** A running panel for `setup` on the in-process simulator; `stopPanelRig` ends it. */
export async function startPanelRig(
  setup: PanelSetup,
  options: {
    extra?: string;
    sockets?: string;
    lcd?: boolean;
    logger?: Logger;
    leds?: boolean;
    energy?: PanelEnergy;
  } = {},
): Promise<PanelRig> {
  const f = await PduFixture.create(options.sockets ?? '');
  await f.startDaemon();
  const clock = new FakeClock();
  const wiring = new PanelWiring(setup, clock);
  const config = controllerConfig(setup, options.extra ?? '', options);
  const panel = new FrontPanel({
    config,
    service: f.service,
    gpio: wiring.gpio,
    i2c: wiring.i2c.opener,
    logger: options.logger ?? silentLogger(),
    clock,
    ...(options.energy ? { energy: options.energy } : {}),
  });
  panel.start();
  return { f, clock, wiring, gpio: wiring.gpio, panel, config };
}

export async function stopPanelRig(rig: PanelRig | null): Promise<void> {
  if (!rig) return;
  rig.panel.stop();
  rig.wiring.detach();
  await rig.f.dispose();
}
