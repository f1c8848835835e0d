import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { FrontPanel } from '../src/controller/panel.js';
import { silentLogger } from '../src/log.js';
import { FakeClock } from './helpers/fake-clock.js';
import {
  COLUMNS,
  type PanelRig,
  PanelWiring,
  ROWS,
  startPanelRig,
  stopPanelRig,
} from './helpers/panel-rig.js';
import { ALICE, once, PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// The key matrix's own rules: idle it only waits for an edge, it reads the
// keys while one is down, more than two keys at once change nothing, and
// `matrix.keys` maps keys to sockets.

let rig: PanelRig | null = null;
let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await stopPanelRig(rig);
  rig = null;
  await cleanup?.();
  cleanup = null;
});

test('idle, the matrix runs no timer and no scan; a press starts scanning until every key is up', async () => {
  rig = await startPanelRig('matrix+pcf8574');
  const { clock, wiring, panel, gpio } = rig;
  const matrix = panel.keyMatrix!;
  assert.equal(matrix.scans, 1, 'one scan at start (the baseline)');
  assert.equal(clock.pending, 0, 'no timer while idle');
  clock.advance(60_000);
  assert.equal(matrix.scans, 1, 'a quiet minute: no scan');
  for (const row of ROWS) assert.equal(gpio.level(row), true, `idle: row ${row} driven`);
  wiring.press(3);
  assert.equal(matrix.scans, 2, 'the column edge started a scan');
  clock.advance(100);
  assert.ok(matrix.scans >= 11, `read every 10 ms while held (${matrix.scans} scans)`);
  wiring.release(3);
  clock.advance(100); // the next scan sees it up, the debounce settles
  const after = matrix.scans;
  clock.advance(60_000);
  assert.equal(matrix.scans, after, 'idle again: no more scans');
  assert.equal(clock.pending, 0, 'and no timer');
});

test('three keys down at once change nothing (a ghost key is never read); two act as two buttons', async () => {
  rig = await startPanelRig('matrix+mcp23017');
  const { clock, wiring, f } = rig;
  wiring.press(0); // row 0, column 0
  wiring.press(1); // row 0, column 1
  clock.advance(50);
  wiring.press(2); // row 1, column 0: without diodes, key 3 (row 1, column 1) reads down too
  clock.advance(3100);
  await until(
    f.service,
    'socketChanged',
    () => f.service.info(1).on === true && f.service.info(2).on === true,
  );
  wiring.release(2);
  wiring.release(1);
  wiring.release(0);
  clock.advance(3100);
  assert.deepEqual(
    f.switchingLines().map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 0 1', 'SET 1 1'],
    'sockets 1 and 2 (the two keys read) switched; 3 and its ghost 4 never',
  );
  assert.equal(f.service.info(3).on, false);
  assert.equal(f.service.info(4).on, false);
});

test('matrix.keys maps keys to sockets; the audit names the socket’s button', async () => {
  rig = await startPanelRig('matrix+74hc595', { extra: '  shortPress: toggle' });
  rig.panel.stop();
  const config = parseConfig(
    `version: 1
board: { driver: simulator }
controller:
  matrix: { rows: [${ROWS.join(', ')}], columns: [${COLUMNS.join(', ')}], keys: [4, 3, 2, 1] }
  shortPress: toggle
  debounce: 20ms
`,
    'panel.yaml',
  ).controller!;
  const panel = new FrontPanel({
    config,
    service: rig.f.service,
    gpio: rig.gpio,
    logger: silentLogger(),
    clock: rig.clock,
  });
  panel.start();
  cleanup = async () => panel.stop();
  const audited = once(rig.f.service, 'action', (entry) => entry.socket === 4);
  rig.wiring.press(0);
  rig.clock.advance(100);
  rig.wiring.release(0);
  rig.clock.advance(100);
  await until(rig.f.service, 'socketChanged', () => rig!.f.service.info(4).on === true);
  const entry = await audited;
  assert.deepEqual([entry.socket, entry.actor], [4, { kind: 'panel', id: 'button-4' }]);
  assert.equal(rig.f.service.info(1).on, false);
});

test('a key already down when the panel starts does nothing until it is pressed again', async () => {
  const f = await PduFixture.create();
  await f.startDaemon();
  const clock = new FakeClock();
  const wiring = new PanelWiring('matrix+pcf8574', clock);
  const config = parseConfig(
    `version: 1\nboard: { driver: simulator }\ncontroller:\n  matrix: { rows: [${ROWS.join(', ')}], columns: [${COLUMNS.join(', ')}] }\n`,
    'panel.yaml',
  ).controller!;
  const panel = new FrontPanel({
    config,
    service: f.service,
    gpio: wiring.gpio,
    logger: silentLogger(),
    clock,
  });
  cleanup = async () => {
    panel.stop();
    wiring.detach();
    await f.dispose();
  };
  wiring.press(1); // stuck (or held) before start: no rows are driven yet, so no column moves
  panel.start();
  clock.advance(10_000);
  assert.deepEqual(f.switchingLines(), [], 'held through start: nothing');
  wiring.release(1);
  clock.advance(100);
  wiring.press(1);
  clock.advance(3100);
  await until(f.service, 'socketChanged', () => f.service.info(2).on === true);
});

test('matrix and LED chip mistakes are one-line errors at their place in the file', () => {
  const problems = (controller: string) => {
    try {
      parseConfig(`version: 1\nboard: { driver: simulator }\ncontroller:\n${controller}`, 'panel.yaml');
    } catch (error) {
      return (error as Error).message.split('\n').slice(1);
    }
    return [];
  };
  assert.deepEqual(
    problems(
      '  buttons: [4]\n  matrix: { rows: [5, 6, 7], columns: [8, 9, 10, 11, 12, 13], keys: [1, 1] }\n',
    ),
    [
      'panel.yaml:5:3 controller.matrix: use either buttons or matrix, not both',
      'panel.yaml:5:3 controller.matrix: 3 rows × 6 columns is 18 keys: at most 16',
      'panel.yaml:5:63 controller.matrix.keys: expected 18 sockets (one per key, row by row), got 2',
      'panel.yaml:5:73 controller.matrix.keys[1]: socket 1 is already on key 0 (controller.matrix.keys[0])',
    ],
  );
  assert.deepEqual(
    problems(
      '  matrix: { rows: [5], columns: [6] }\n  ledChips: { chip: 74hc595, dataLine: 6, clockLine: 7 }\n  lcd: { address: 0x80 }\n',
    ),
    [
      'panel.yaml:5:3 controller.ledChips.latchLine: required for 74hc595: a BCM line',
      'panel.yaml:5:40 controller.ledChips.dataLine: line 6 is already used by controller.matrix.columns[0]',
      'panel.yaml:6:19 controller.lcd.address: expected an I²C address 0x03..0x77',
    ],
  );
  assert.deepEqual(problems('  ledChips: { chip: pcf8574 }\n  lcd: {}\n'), [
    'panel.yaml:4:3 controller.ledChips.addresses: required for pcf8574: one I²C address per chip, like [0x20]',
  ]);
  assert.deepEqual(problems('  ledChips: { chip: mcp23017, addresses: [0x27] }\n  lcd: {}\n'), [
    'panel.yaml:5:3 controller.lcd.address: address 0x27 is already used by controller.ledChips.addresses',
  ]);
});

test('the example config’s full-panel block, uncommented in place of buttons and leds, is valid', async () => {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(new URL('../config/pipdu.example.yaml', import.meta.url), 'utf8');
  const lines = text.split('\n');
  const from = lines.findIndex((line) => line.includes('The full 16-socket panel'));
  assert.ok(from > 0, 'the example has the block');
  let to = from + 1;
  while (lines[to]?.startsWith('  # ')) to++;
  const block = lines.slice(from + 1, to).map((line) => line.replace(/^ {2}# /, '  '));
  const full = [
    ...lines.slice(0, from).filter((line) => !/^ {2}(buttons|leds):/.test(line)),
    ...block,
    ...lines.slice(to),
  ].join('\n');
  const controller = parseConfig(full, 'example-full.yaml').controller!;
  assert.equal(controller.matrix!.rows.length * controller.matrix!.columns.length, 16);
  assert.deepEqual(controller.ledChips?.addresses, [0x20, 0x21]);
  assert.equal(controller.lcd?.address, 0x27);
});

test('blinking LEDs on an expander change in step, one write per change of the pattern', async () => {
  rig = await startPanelRig('matrix+pcf8574', {
    sockets:
      'sockets:\n  - { number: 1, preOn: [{ delay: 30s }] }\n  - { number: 3, preOn: [{ delay: 30s }] }\n',
  });
  const { f, clock, wiring } = rig;
  const first = requests(f.service).on(1, ALICE);
  const second = requests(f.service).on(3, ALICE);
  await until(
    f.service,
    'pending',
    () => f.service.info(1).pending !== null && f.service.info(3).pending !== null,
  );
  clock.advance(1000 - (clock.now() % 1000));
  const from = clock.now();
  const writes = wiring.i2c.transactions.filter((t) => t.address === 0x20).length;
  clock.advance(3000);
  const changes = (i: number) => wiring.ledHistory(i).filter((w) => w.at > from);
  assert.ok(changes(0).length >= 5, `socket 1's LED blinks (${changes(0).length} changes in 3 s)`);
  assert.deepEqual(changes(0), changes(2), 'sockets 1 and 3 blink in step');
  assert.equal(
    wiring.i2c.transactions.filter((t) => t.address === 0x20).length - writes,
    changes(0).length,
    'one write per change of the pattern, none between',
  );
  await requests(f.service).cancel(1, ALICE);
  await requests(f.service).cancel(3, ALICE);
  await Promise.allSettled([first, second]);
});
