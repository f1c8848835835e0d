import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hc595Bank } from '../hardware/hc595.js';
import { changedRuns, Hd44780 } from '../hardware/hd44780.js';
import { LazyI2cBus } from '../hardware/i2c.js';
import { MCP23017, Mcp23017Bank } from '../hardware/mcp23017.js';
import { Pcf8574Bank } from '../hardware/pcf8574.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { FakeI2c, Hc595ChainModel, Hd44780Model, Mcp23017Model, Pcf8574Model } from './helpers/fake-i2c.js';

// The chip drivers against the chip models, through the same calls they make
// to i2c-bus and onoff on a Pi.

const noDelay = async () => undefined;

test('PCF8574: active-low LEDs, one byte per chip, only the chips whose part changed', () => {
  const i2c = new FakeI2c();
  const [a, b] = [new Pcf8574Model(), new Pcf8574Model()];
  i2c.attach(1, 0x20, a);
  i2c.attach(1, 0x21, b);
  const bank = new Pcf8574Bank(new LazyI2cBus(1, i2c.opener), [0x20, 0x21], true);
  assert.equal(bank.size, 16);
  bank.init();
  assert.deepEqual([a.latch, b.latch], [0xff, 0xff], 'all off: every pin pulled up');
  const before = i2c.transactions.length;
  bank.write(0b101);
  assert.equal(a.latch, 0b1111_1010, 'LEDs 1 and 3 sink (low)');
  assert.deepEqual(
    i2c.transactions.slice(before).map((t) => [t.address, t.bytes]),
    [[0x20, 1]],
    'one byte to the chip that changed',
  );
  bank.write(0b101 | (1 << 9));
  assert.equal(b.latch, 0b1111_1101);
  assert.equal(i2c.transactions.length, before + 2);
  bank.write(0b101 | (1 << 9));
  assert.equal(i2c.transactions.length, before + 2, 'the same pattern again writes nothing');
});

test('PCF8574 model: quasi-bidirectional pins (a written 1 can be pulled low, a 0 stays low)', () => {
  const chip = new Pcf8574Model();
  chip.write(Uint8Array.of(0b0000_1111));
  chip.pull(0, true);
  chip.pull(7, true);
  assert.equal(chip.pins(), 0b0000_1110);
  chip.pull(0, false);
  assert.equal(chip.pin(0), true);
});

test('MCP23017: latches set to off before the pins become outputs; a pattern is one OLATA/OLATB write', () => {
  const i2c = new FakeI2c();
  const chip = new Mcp23017Model();
  i2c.attach(1, 0x21, chip);
  const bank = new Mcp23017Bank(new LazyI2cBus(1, i2c.opener), [0x21], false);
  assert.equal(chip.isOutput(0), false, 'inputs at power-on');
  const seen: number[][] = [];
  const write = chip.write.bind(chip);
  chip.write = (bytes) => {
    seen.push([...bytes]);
    write(bytes);
  };
  bank.init();
  assert.deepEqual(seen.slice(0, 2), [
    [MCP23017.OLATA, 0, 0],
    [MCP23017.IODIRA, 0, 0],
  ]);
  assert.ok([...Array(16).keys()].every((i) => chip.isOutput(i) && !chip.pin(i)));
  seen.length = 0;
  bank.write(0x8001);
  assert.deepEqual(seen, [[MCP23017.OLATA, 0x01, 0x80]]);
  assert.deepEqual([chip.pin(0), chip.pin(1), chip.pin(15)], [true, false, true]);
  chip.powerCycle();
  bank.init();
  bank.write(0x8001);
  assert.equal(chip.pin(15), true, 'init after a power loss writes the pattern again');
});

test('74HC595 chain: 16 clocks then one latch put output i on chip i/8, Qi%8; no change, no clocks', () => {
  const gpio = new FakeGpio();
  const chain = new Hc595ChainModel(gpio, { data: 5, clock: 6, latch: 13 }, 2);
  const bank = new Hc595Bank(gpio, { data: 5, clock: 6, latch: 13 }, 2, false);
  bank.init();
  const pulses = chain.pulses;
  assert.equal(pulses, 16);
  bank.write(0x8003);
  assert.deepEqual(
    [...Array(16).keys()].filter((i) => chain.pin(i)),
    [0, 1, 15],
  );
  assert.equal(chain.pulses, 32);
  bank.write(0x8003);
  assert.equal(chain.pulses, 32);
  bank.close();
  assert.deepEqual(gpio.openLines(), []);
  chain.detach();
});

test('HD44780 behind a PCF8574: init, text, and only the changed characters written', async () => {
  const i2c = new FakeI2c();
  const backpack = new Pcf8574Model();
  const model = new Hd44780Model(backpack, 20, 4);
  i2c.attach(1, 0x27, backpack);
  const lcd = new Hd44780({
    bus: new LazyI2cBus(1, i2c.opener),
    address: 0x27,
    columns: 20,
    rows: 4,
    delay: noDelay,
  });
  await lcd.init();
  assert.equal(model.displayOn, true);
  assert.deepEqual(model.text(), Array(4).fill(' '.repeat(20)));
  await lcd.update(['pipdu-lab', '  120 W      3/16 on', 'Board ok', 'Grüße'], true);
  assert.deepEqual(model.text(), [
    'pipdu-lab           ',
    '  120 W      3/16 on',
    'Board ok            ',
    'Gr??e               ',
  ]);
  assert.equal(model.backlight, true);
  const before = i2c.transactions.length;
  const characters = model.characters;
  await lcd.update(['pipdu-lab', '  125 W      3/16 on', 'Board ok', 'Gr??e'], true);
  assert.equal(model.text()[1], '  125 W      3/16 on');
  assert.equal(model.characters - characters, 1, 'one character written');
  assert.deepEqual(
    i2c.transactions.slice(before).map((t) => t.bytes),
    [8],
    'one transaction: the address command and the character, 4 bytes each',
  );
  await lcd.update(['pipdu-lab', '  125 W      3/16 on', 'Board ok', 'Gr??e'], false);
  assert.equal(model.backlight, false, 'the backlight alone: one byte');
  assert.deepEqual(i2c.transactions.at(-1)?.bytes, 1);
});

test('changed runs merge across a one-character gap (cheaper than a second address command)', () => {
  assert.deepEqual(changedRuns('abcdefgh', 'aXcXefgX'), [
    [1, 4],
    [7, 8],
  ]);
  assert.deepEqual(changedRuns('same', 'same'), []);
});
