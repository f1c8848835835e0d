import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { Alarm } from '../src/pdu/types.js';
import { captureLogger } from './helpers/board-rig.js';
import { type PanelRig, startPanelRig, stopPanelRig } from './helpers/panel-rig.js';
import { ALICE, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// The LCD (an HD44780 model behind a PCF8574 model, decoded to text) on a
// panel with a key matrix and LEDs on a PCF8574: what it says when idle,
// after a short press, while work runs and after a refusal; the backlight;
// and chips that stop answering.

let rig: PanelRig | null = null;
afterEach(async () => {
  await stopPanelRig(rig);
  rig = null;
});

const energy = {
  figures: () => ({ todayKwh: 0.25, monthKwh: 3, totalKwh: 10, gaps: 0 }),
  activeAlarms: (): Alarm[] => [],
};

function alarm(message: string): Alarm {
  return {
    id: 'maxCurrent',
    kind: 'maxCurrent',
    severity: 'critical',
    socket: null,
    socketName: null,
    unit: 'A',
    limit: 10,
    value: 12,
    worst: 12,
    since: new Date().toISOString(),
    message,
  };
}

/**
 * Waits until the LCD shows `rows` (a string: the row, trailing spaces aside;
 * a RegExp: matches the trimmed row), and returns the screen.
 */
function screen(r: PanelRig, rows: (string | RegExp)[]): Promise<string[]> {
  return r.wiring.lcd.shows((text) =>
    rows.every((want, i) => {
      const row = text[i]!.trimEnd();
      return typeof want === 'string' ? row === want : want.test(row);
    }),
  );
}

/** A short press of key i: down, 200 ms, up. */
function tap(r: PanelRig, i: number): void {
  r.wiring.press(i);
  r.clock.advance(200);
  r.wiring.release(i);
  r.clock.advance(50);
}

test('idle: the PDU’s name, power, sockets on, board and Discord, alarms', async () => {
  rig = await startPanelRig('matrix+pcf8574', { lcd: true, energy });
  const r = rig;
  const { f, panel } = r;
  const name = f.service.status().name;
  await screen(r, [name, /^(\d+|--) W +0\/16 on$/, 'Board ok', 'No alarms']);
  await requests(f.service).on(5, ALICE);
  await screen(r, [name, /^\d+ W +1\/16 on$/, 'Board ok', 'No alarms']);
  panel.setDiscordConnected(false);
  await screen(r, [name, /1\/16 on$/, 'Board ok Discord off', 'No alarms']);
  panel.setDiscordConnected(true);
  f.service.events.emit('alarm', {
    alarm: alarm('PDU over 10 A'),
    state: 'raised',
    at: new Date().toISOString(),
  });
  await screen(r, [name, /1\/16 on$/, 'Board ok  Discord ok', 'ALARM PDU over 10 A']);
  f.transport.unplug();
  await until(f.service, 'boardOffline', () => !f.service.status().board.online);
  await screen(r, [name, /1\/16 on$/, 'Board OFFLINE']);
  // The state shown is the board's: offline, no power figure, and what was on said as such.
  await screen(r, [name, /^-- W +was 1\/16 on$/, 'Board OFFLINE']);
  tap(r, 0);
  await screen(r, [/^1 /, 'was OFF']);
});

test('a short press shows the socket for a few seconds: name, state, watts, energy today, the hold', async () => {
  rig = await startPanelRig('matrix+pcf8574', {
    lcd: true,
    energy,
    sockets: 'sockets:\n  - { number: 2, name: nas }\n',
  });
  const r = rig;
  await screen(r, [r.f.service.status().name]);
  tap(r, 1);
  await screen(r, ['2 nas', /^OFF( +\d+ W)?$/, 'Today 0.25 kWh', 'Hold 3s: switch on']);
  assert.deepEqual(r.f.switchingLines(), [], 'a short press (identify) switches nothing');
  r.clock.advance(5000);
  await screen(r, [r.f.service.status().name, /0\/16 on$/, 'Board ok', 'No alarms']);
});

test('running work shows what it does, its step and the time elapsed', async () => {
  rig = await startPanelRig('matrix+pcf8574', {
    lcd: true,
    sockets: 'sockets:\n  - number: 3\n    name: build-host\n    preOn:\n      - delay: 30s\n',
  });
  const r = rig;
  const on = requests(r.f.service).on(3, ALICE);
  await screen(r, ['3 build-host', 'Switching on', /^preOn 1\/1 \S/, /^Elapsed \d+s$/]);
  await requests(r.f.service).cancel(3, ALICE);
  await assert.rejects(on, { code: 'CANCELLED' });
  await screen(r, [r.f.service.status().name, /0\/16 on$/, 'Board ok', 'No alarms']);
});

test('a refused panel request says why in words', async () => {
  rig = await startPanelRig('matrix+pcf8574', { lcd: true });
  const r = rig;
  r.f.transport.unplug();
  await until(r.f.service, 'boardOffline', () => !r.f.service.status().board.online);
  r.wiring.press(0);
  r.clock.advance(3100);
  await screen(r, ['1 Socket 1', 'Refused', 'Board offline:', 'nothing was switched']);
  r.wiring.release(0);
});

test('the backlight goes dark after the timeout and a press lights it', async () => {
  rig = await startPanelRig('matrix+pcf8574', { lcd: true });
  const { wiring, clock } = rig;
  await screen(rig, [rig.f.service.status().name, /0\/16 on$/, 'Board ok', 'No alarms']);
  assert.equal(wiring.lcd.backlight, true);
  clock.advance(60_000);
  await rig.panel.display!.settled();
  assert.equal(wiring.lcd.backlight, false);
  wiring.press(2);
  clock.advance(50);
  await rig.panel.display!.settled();
  assert.equal(wiring.lcd.backlight, true);
  wiring.release(2);
});

test('an LED expander that stops answering is reported once, retried, and the keys still work', async () => {
  const { logger, lines } = captureLogger();
  rig = await startPanelRig('matrix+pcf8574', { lcd: true, logger });
  const { wiring, clock, f, panel } = rig;
  wiring.i2c.nak(1, 0x20, true);
  wiring.pcf.powerCycle(); // unplugged: it loses its latch
  await requests(f.service).on(2, ALICE);
  await requests(f.service).on(4, ALICE);
  clock.advance(5000); // retries at 1 s, 2 s: still failing
  // A long press still switches: the panel runs on without its LEDs.
  wiring.press(0);
  clock.advance(3100);
  await until(f.service, 'socketChanged', () => f.service.info(1).on === true);
  wiring.release(0);
  clock.advance(100);
  const warnings = lines.filter((l) => l.level === 40 && String(l.msg).includes('PCF8574'));
  assert.equal(warnings.length, 1, 'reported once');
  assert.match(String(warnings[0]!.err), /no answer from 0x20 on \/dev\/i2c-1 \(NAK\)/);
  wiring.i2c.nak(1, 0x20, false);
  clock.advance(4000); // the next retry (back-off 4 s)
  await until(
    f.service,
    'telemetry',
    () => wiring.led(0) && wiring.led(1) && !wiring.led(2) && wiring.led(3),
  );
  assert.ok(lines.some((l) => l.level === 30 && String(l.msg).includes('answers again')));
  // the LCD was never touched by the expander's trouble
  await screen(rig, [f.service.status().name, /3\/16 on$/]);
  assert.ok(panel.display);
});

test('an LCD that stops answering is retried, and shows the screen again when it is back', async () => {
  const { logger, lines } = captureLogger();
  rig = await startPanelRig('matrix+mcp23017', { lcd: true, logger });
  const { wiring, clock, f } = rig;
  await screen(rig, [f.service.status().name, /0\/16 on$/, 'Board ok', 'No alarms']);
  wiring.i2c.nak(1, 0x27, true);
  wiring.backpack.powerCycle();
  await requests(f.service).on(3, ALICE);
  assert.equal(wiring.led(2), true, 'the LEDs go on');
  await until(f.service, 'telemetry', () =>
    lines.some((l) => l.level === 40 && String(l.msg).includes('LCD')),
  );
  wiring.i2c.nak(1, 0x27, false);
  clock.advance(1000);
  await screen(rig, [f.service.status().name, /1\/16 on$/, 'Board ok', 'No alarms']);
  assert.equal(lines.filter((l) => l.level === 40 && String(l.msg).includes('LCD')).length, 1);
});

test('no /dev/i2c-1: said once, with the fix; the keys and GPIO LEDs run on', async () => {
  const { logger, lines } = captureLogger();
  rig = await startPanelRig('gpio', { lcd: true, logger });
  const r = rig;
  // The same panel started again on a Pi without I²C enabled.
  r.panel.stop();
  r.wiring.i2c.missing.add(1);
  r.panel.start();
  r.wiring.press(0);
  r.clock.advance(3100);
  await until(r.f.service, 'socketChanged', () => r.f.service.info(1).on === true);
  r.wiring.release(0);
  assert.equal(r.wiring.led(0), true);
  await until(r.f.service, 'telemetry', () =>
    lines.some((l) => l.level === 40 && /dtparam=i2c_arm=on/.test(String(l.err))),
  );
  r.clock.advance(10_000); // retries: still missing, still said once
  await until(r.f.service, 'telemetry', () => true);
  assert.equal(lines.filter((l) => l.level === 40 && /dtparam/.test(String(l.err))).length, 1);
});
