import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type * as Onoff from 'onoff';
import { GpioUnavailableError } from '../hardware/gpio.js';
import { findGpioChipBase, listGpioChips } from '../hardware/gpio-chip-base.js';
import { createOnoffGpio, type OnoffModule } from '../hardware/gpio-onoff.js';
import { FakeClock } from './helpers/fake-clock.js';
import { FakeGpio } from './helpers/fake-gpio.js';

// ------------------------------------------------------------ chip base lookup

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

/** A made-up /sys/class/gpio: one gpiochipN directory (base, label, ngpio) per chip. */
async function sysfsTree(chips: { base: number; label: string; ngpio: number }[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pipdu-gpio-'));
  roots.push(root);
  await writeFile(join(root, 'export'), '');
  await writeFile(join(root, 'unexport'), '');
  for (const chip of chips) {
    const dir = join(root, `gpiochip${chip.base}`);
    await mkdir(dir);
    await writeFile(join(dir, 'base'), `${chip.base}\n`);
    await writeFile(join(dir, 'label'), `${chip.label}\n`);
    await writeFile(join(dir, 'ngpio'), `${chip.ngpio}\n`);
  }
  return root;
}

describe('findGpioChipBase', () => {
  test('Pi 4 on Bookworm (kernel 6.6+): pinctrl-bcm2711 at 512, the firmware expander ignored', async () => {
    const root = await sysfsTree([
      { base: 512, label: 'pinctrl-bcm2711', ngpio: 58 },
      { base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8 },
    ]);
    assert.equal(await findGpioChipBase({ sysfsRoot: root }), 512);
  });

  test('Pi 3 on Bookworm: pinctrl-bcm2835 at 512', async () => {
    const root = await sysfsTree([
      { base: 512, label: 'pinctrl-bcm2835', ngpio: 54 },
      { base: 566, label: 'raspberrypi-exp-gpio', ngpio: 8 },
    ]);
    assert.equal(await findGpioChipBase({ sysfsRoot: root }), 512);
  });

  test('Pi 5: the RP1 chip (571), not the BCM2712 banks below it', async () => {
    const root = await sysfsTree([
      { base: 512, label: 'gpio-brcmstb@107d508500', ngpio: 32 },
      { base: 544, label: 'gpio-brcmstb@107d508520', ngpio: 4 },
      { base: 548, label: 'gpio-brcmstb@107d517c00', ngpio: 17 },
      { base: 565, label: 'gpio-brcmstb@107d517c20', ngpio: 6 },
      { base: 571, label: 'pinctrl-rp1', ngpio: 54 },
    ]);
    assert.equal(await findGpioChipBase({ sysfsRoot: root }), 571);
  });

  test('an older kernel: base 0', async () => {
    const root = await sysfsTree([
      { base: 0, label: 'pinctrl-bcm2835', ngpio: 54 },
      { base: 504, label: 'brcmvirt-gpio', ngpio: 2 },
      { base: 128, label: 'raspberrypi-exp-gpio', ngpio: 8 },
    ]);
    assert.equal(await findGpioChipBase({ sysfsRoot: root }), 0);
  });

  test('no Pi chip: a GpioUnavailableError naming what was found and the config key', async () => {
    const root = await sysfsTree([
      { base: 512, label: 'gpio-mockup-A', ngpio: 8 },
      { base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8 },
    ]);
    await assert.rejects(findGpioChipBase({ sysfsRoot: root }), (error: Error) => {
      assert.ok(error instanceof GpioUnavailableError, String(error));
      assert.match(error.message, /gpiochip512 "gpio-mockup-A" \(base 512\)/);
      assert.match(error.message, /raspberrypi-exp-gpio/);
      assert.match(error.message, /controller\.gpioChipBase/);
      return true;
    });
  });

  test('no gpiochip at all, and no sysfs GPIO directory: clear errors', async () => {
    const empty = await sysfsTree([]);
    await assert.rejects(findGpioChipBase({ sysfsRoot: empty }), /found no gpiochip at all.*gpioChipBase/s);
    const missing = join(empty, 'nope');
    await assert.rejects(findGpioChipBase({ sysfsRoot: missing }), (error: Error) => {
      assert.ok(error instanceof GpioUnavailableError);
      assert.match(error.message, /does not exist: not a Raspberry Pi/);
      return true;
    });
  });

  test('a numeric override wins without reading sysfs; auto reads it', async () => {
    assert.equal(await findGpioChipBase({ sysfsRoot: '/nonexistent/gpio', override: 0 }), 0);
    assert.equal(await findGpioChipBase({ sysfsRoot: '/nonexistent/gpio', override: 600 }), 600);
    const root = await sysfsTree([{ base: 512, label: 'pinctrl-bcm2711', ngpio: 58 }]);
    assert.equal(await findGpioChipBase({ sysfsRoot: root, override: 'auto' }), 512);
  });

  test('unreadable or half-made chip directories are skipped', async () => {
    const root = await sysfsTree([{ base: 512, label: 'pinctrl-bcm2711', ngpio: 58 }]);
    await mkdir(join(root, 'gpiochip600')); // no base/label
    await mkdir(join(root, 'gpio529')); // an exported line, not a chip
    assert.deepEqual(await listGpioChips(root), [
      { name: 'gpiochip512', base: 512, label: 'pinctrl-bcm2711' },
    ]);
  });
});

// ------------------------------------------------------------ onoff adapter

/** A stand-in for onoff's Gpio class: records constructor calls and calls made on it. */
function fakeOnoff(options: { accessible?: boolean; throwOnOpen?: NodeJS.ErrnoException } = {}) {
  const made: {
    number: number;
    direction: string;
    edge: string;
    activeLow: boolean | undefined;
    writes: number[];
    unexported: number;
    watchers: Onoff.ValueCallback[];
    value: Onoff.BinaryValue;
  }[] = [];
  class Gpio {
    static accessible = options.accessible ?? true;
    static HIGH = 1;
    static LOW = 0;
    readonly record: (typeof made)[number];
    constructor(number: number, direction: string, edge: string, opts: Onoff.Options) {
      if (options.throwOnOpen) throw options.throwOnOpen;
      this.record = {
        number,
        direction,
        edge,
        activeLow: opts.activeLow,
        writes: [],
        unexported: 0,
        watchers: [],
        value: 0,
      };
      made.push(this.record);
    }
    readSync() {
      return this.record.value;
    }
    writeSync(value: Onoff.BinaryValue) {
      this.record.writes.push(value);
    }
    watch(callback: Onoff.ValueCallback) {
      this.record.watchers.push(callback);
    }
    unwatch(callback: Onoff.ValueCallback) {
      this.record.watchers = this.record.watchers.filter((c) => c !== callback);
    }
    unexport() {
      this.record.unexported++;
    }
  }
  return { module: { Gpio } as unknown as OnoffModule, made };
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, write`), { code });
}

describe('createOnoffGpio', () => {
  test('on this machine (no /sys/class/gpio) the real onoff reports GpioUnavailableError, saying why', {
    skip: existsSync('/sys/class/gpio/export') ? 'this machine has sysfs GPIO' : false,
  }, () => {
    assert.throws(
      () => createOnoffGpio({ chipBase: 512 }),
      (error: Error) => {
        assert.ok(error instanceof GpioUnavailableError, String(error));
        assert.match(error.message, /no \/sys\/class\/gpio: not a Raspberry Pi/);
        return true;
      },
    );
  });

  test('inputs: chip base + BCM line, edge both, activeLow passed through, values logical', () => {
    const { module, made } = fakeOnoff();
    const gpio = createOnoffGpio({ chipBase: 512, onoff: module });
    const input = gpio.input(17, { activeLow: true });
    assert.equal(input.line, 17);
    assert.deepEqual(
      made.map(({ number, direction, edge, activeLow }) => ({ number, direction, edge, activeLow })),
      [{ number: 529, direction: 'in', edge: 'both', activeLow: true }],
    );
    const record = made[0]!;
    assert.equal(input.read(), false);
    record.value = 1;
    assert.equal(input.read(), true);

    const seen: boolean[] = [];
    const stop = input.watch((active) => seen.push(active));
    record.watchers[0]!(null, 1);
    record.watchers[0]!(new Error('EPOLL something'), 0); // logged and dropped, never thrown
    record.watchers[0]!(undefined, 0);
    assert.deepEqual(seen, [true, false]);
    stop();
    assert.equal(record.watchers.length, 0);

    input.release();
    input.release();
    assert.equal(record.unexported, 1, 'released once, the second release harmless');
  });

  test("outputs: 'high'/'low' are raw levels, so the initial value is inverted for activeLow", () => {
    const { module, made } = fakeOnoff();
    const gpio = createOnoffGpio({ chipBase: 571, onoff: module });
    gpio.output(5, { activeLow: false, initial: true });
    gpio.output(6, { activeLow: false, initial: false });
    gpio.output(13, { activeLow: true, initial: true });
    const lowOff = gpio.output(26, { activeLow: true, initial: false });
    assert.deepEqual(
      made.map(({ number, direction, activeLow }) => ({ number, direction, activeLow })),
      [
        { number: 576, direction: 'high', activeLow: false },
        { number: 577, direction: 'low', activeLow: false },
        { number: 584, direction: 'low', activeLow: true },
        { number: 597, direction: 'high', activeLow: true },
      ],
    );
    lowOff.write(true);
    lowOff.write(false);
    assert.deepEqual(made[3]!.writes, [1, 0], 'writes are logical: the kernel applies active_low to value');
    lowOff.release();
    lowOff.release();
    assert.equal(made[3]!.unexported, 1);
  });

  test('inaccessible or failing opens become GpioUnavailableError with a reason', () => {
    assert.throws(
      () => createOnoffGpio({ chipBase: 512, onoff: fakeOnoff({ accessible: false }).module }),
      GpioUnavailableError,
    );
    const cases: [string, RegExp][] = [
      ['EINVAL', /sysfs 529 = chip base 512 \+ 17.*controller\.gpioChipBase/],
      ['EACCES', /gpio group/],
      ['ENOENT', /not a Raspberry Pi/],
      ['EBUSY', /in use/],
    ];
    for (const [code, message] of cases) {
      const gpio = createOnoffGpio({ chipBase: 512, onoff: fakeOnoff({ throwOnOpen: errno(code) }).module });
      for (const open of [
        () => gpio.input(17, { activeLow: true }),
        () => gpio.output(17, { activeLow: false, initial: false }),
      ]) {
        assert.throws(open, (error: Error) => {
          assert.ok(error instanceof GpioUnavailableError, `${code}: ${error}`);
          assert.match(error.message, message);
          assert.equal((error.cause as NodeJS.ErrnoException).code, code);
          return true;
        });
      }
    }
  });
});

// ------------------------------------------------------------ the fake's own contract

describe('FakeGpio', () => {
  test('records inputs and outputs per line, with activeLow', () => {
    const gpio = new FakeGpio();
    gpio.input(17, { activeLow: true });
    gpio.output(5, { activeLow: false, initial: false });
    assert.deepEqual(gpio.opened(17), { kind: 'input', activeLow: true });
    assert.deepEqual(gpio.opened(5), { kind: 'output', activeLow: false });
    assert.equal(gpio.opened(6), undefined);
    assert.deepEqual(gpio.openLines(), [5, 17]);
    assert.throws(() => gpio.input(5, { activeLow: true }), /already open/);
  });

  test('press/release emit an edge synchronously, only on a change; read() follows', () => {
    const gpio = new FakeGpio();
    const input = gpio.input(17, { activeLow: true });
    const seen: boolean[] = [];
    input.watch((active) => seen.push(active));
    assert.equal(input.read(), false);
    gpio.press(17);
    assert.deepEqual(seen, [true], 'delivered before press() returns');
    assert.equal(input.read(), true);
    gpio.press(17);
    gpio.release(17);
    gpio.release(17);
    assert.deepEqual(seen, [true, false]);
    assert.equal(gpio.level(17), false);
  });

  test('bounce emits one edge per level, repeats included; unwatch stops them', () => {
    const gpio = new FakeGpio();
    const input = gpio.input(27, { activeLow: true });
    const a: boolean[] = [];
    const b: boolean[] = [];
    const stopA = input.watch((active) => a.push(active));
    input.watch((active) => b.push(active));
    gpio.bounce(27, [true, false, true, true]);
    assert.deepEqual(a, [true, false, true, true]);
    stopA();
    gpio.bounce(27, [false]);
    assert.deepEqual(a, [true, false, true, true]);
    assert.deepEqual(b, [true, false, true, true, false]);
    assert.equal(gpio.watcherCount(27), 1);
  });

  test('a level set before the line opens is what read() gives', () => {
    const gpio = new FakeGpio();
    gpio.press(22);
    assert.equal(gpio.input(22, { activeLow: true }).read(), true);
  });

  test('outputs: level(), and history() with timestamps from the given now()', () => {
    const clock = new FakeClock();
    const gpio = new FakeGpio({ now: () => clock.now() });
    const led = gpio.output(5, { activeLow: false, initial: true });
    assert.equal(gpio.level(5), true);
    clock.advance(250);
    led.write(false);
    clock.advance(250);
    led.write(true);
    assert.equal(gpio.level(5), true);
    assert.deepEqual(gpio.history(5), [
      { value: true, at: 0 },
      { value: false, at: 250 },
      { value: true, at: 500 },
    ]);
    assert.deepEqual(gpio.history(6), []);
    assert.throws(() => gpio.level(6), /never opened/);
    assert.throws(() => gpio.press(5), /is an output/);
  });

  test('release: openLines() shrinks, watchers go, use after release throws, twice is harmless', () => {
    const gpio = new FakeGpio();
    const input = gpio.input(17, { activeLow: true });
    const led = gpio.output(5, { activeLow: false, initial: false });
    const seen: boolean[] = [];
    input.watch((active) => seen.push(active));
    input.release();
    input.release();
    gpio.press(17);
    assert.deepEqual(seen, [], 'no edges after release');
    assert.equal(gpio.watcherCount(17), 0);
    assert.equal(gpio.released(17), true);
    assert.equal(gpio.released(5), false);
    assert.deepEqual(gpio.openLines(), [5]);
    assert.throws(() => input.read(), /after release/);
    led.release();
    led.release();
    assert.throws(() => led.write(true), /after release/);
    assert.deepEqual(gpio.openLines(), []);
    gpio.input(17, { activeLow: false }); // a released line may be opened again
    assert.deepEqual(gpio.openLines(), [17]);
  });

  test('instances share nothing; unavailable mode throws GpioUnavailableError', () => {
    const one = new FakeGpio();
    const two = new FakeGpio();
    one.input(17, { activeLow: true });
    assert.deepEqual(two.openLines(), []);
    two.input(17, { activeLow: true });
    const none = new FakeGpio({ unavailable: 'not a Pi' });
    assert.throws(() => none.output(5, { activeLow: false, initial: false }), GpioUnavailableError);
  });
});
