/**
 * The gpio relay driver: on FakeGpio lines (adopted at their levels, never
 * driven at start), the onoff adapter with a stand-in onoff on a made-up
 * sysfs, and the daemon's restore rules across a daemon restart (nothing
 * switched) and a reboot of the Pi (a new boot id: restore policies apply).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type * as Onoff from 'onoff';
import { GpioUnavailableError } from '../hardware/gpio.js';
import type { OnoffModule } from '../hardware/gpio-onoff.js';
import { GpioRelayBoard } from '../hardware/gpio-relay-board.js';
import { createOnoffRelayLines, type RelayLines } from '../hardware/gpio-relay-lines.js';
import { createRelayBoard } from '../hardware/index.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { PduService } from '../src/pdu/pdu-service.js';
import { StateStore } from '../src/state/state-store.js';
import { captureLogger, next, rejectsWith, stopAfterSuite } from './helpers/board-rig.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { ALICE, once, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

const LINES = [5, 6, 13, 19];

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * Relay lines on a FakeGpio: a line keeps the level it was last driven to
 * across opens (as a sysfs line left exported does); a line never driven is
 * a freshly booted Pi's, inactive.
 */
function fakeRelayLines(gpio: FakeGpio, bootId: string): RelayLines {
  return {
    bootId: async () => bootId,
    adopt(line, { activeLow }) {
      const initial = gpio.history(line).at(-1)?.value ?? false;
      const output = gpio.output(line, { activeLow, initial });
      let level = initial;
      return {
        line,
        initial,
        read: () => level,
        write: (active) => {
          output.write(active);
          level = active;
        },
        close: () => output.release(),
      };
    },
  };
}

/** Every level a line was driven to, in order (its initial level first). */
const levels = (gpio: FakeGpio, line: number) => gpio.history(line).map((write) => write.value);

describe('GpioRelayBoard on fake lines', () => {
  const owned = stopAfterSuite();

  function board(gpio: FakeGpio, options: { activeLow?: boolean; bootId?: string } = {}) {
    const { logger, lines } = captureLogger();
    const made = owned.board(
      new GpioRelayBoard({
        lines: async () => fakeRelayLines(gpio, options.bootId ?? 'boot-1'),
        channels: LINES,
        activeLow: options.activeLow ?? false,
        logger,
      }),
    );
    return { board: made, lines };
  }

  test('adopts the lines at their levels, driving nothing; switches and reads them', async () => {
    const gpio = new FakeGpio();
    // A previous run left channel 1 and 3 on.
    for (const [i, line] of LINES.entries())
      gpio.output(line, { activeLow: true, initial: i % 2 === 1 }).release();
    const { board: relays } = board(gpio, { activeLow: true });
    const connected = next(relays, 'connected');
    await relays.start();
    const [event] = await connected;
    assert.equal(event.mask, 0b1010);
    assert.equal(event.identity.bootId, 'boot-1');
    assert.equal(event.identity.channels, 4);
    for (const [i, line] of LINES.entries()) {
      assert.deepEqual(levels(gpio, line), [i % 2 === 1], `line ${line} opened at its level, not driven`);
      assert.deepEqual(gpio.opened(line), { kind: 'output', activeLow: true });
    }
    let sent = 0;
    assert.equal(await relays.set(0, true, { onSent: (at) => (sent = at) }), 0b1011);
    assert.ok(sent > 0);
    assert.equal(await relays.setMask(0b0100), 0b0100);
    assert.deepEqual(
      LINES.map((line) => gpio.level(line)),
      [false, false, true, false],
    );
    assert.equal(await relays.state(), 0b0100);
    await rejectsWith(relays.set(4, true), 'BAD_REQUEST');
    await rejectsWith(relays.setMask(0x10), 'BAD_REQUEST');
    await rejectsWith(relays.current(), 'UNSUPPORTED');
    await relays.stop();
    await rejectsWith(relays.state(), 'STOPPED');
    assert.deepEqual(gpio.openLines(), [], 'the lines are let go (and stay at their levels)');
    assert.deepEqual(
      LINES.map((line) => gpio.level(line)),
      [false, false, true, false],
    );
  });

  test('no GPIO: offline, saying why once; calls reject with BOARD_OFFLINE; start does not reject', async () => {
    const gpio = new FakeGpio({ unavailable: 'no /sys/class/gpio: not a Raspberry Pi' });
    const { board: relays, lines } = board(gpio);
    await relays.start();
    assert.equal(relays.online, false);
    const error = await rejectsWith(relays.set(0, true), 'BOARD_OFFLINE');
    assert.match(error.message, /GPIO relay lines are unusable: no \/sys\/class\/gpio/);
    assert.equal(lines.filter((line) => line.level === 50).length, 1);
  });

  test('the factory builds it from the config (lines, activeLow)', async () => {
    const config = parseConfig(
      'version: 1\nboard: { driver: gpio, lines: [5, 6], activeLow: true }\n',
      'pipdu.yaml',
    );
    const gpio = new FakeGpio();
    const relays = owned.board(
      createRelayBoard(config.board, {
        logger: silentLogger(),
        relayLines: async () => fakeRelayLines(gpio, 'b'),
      }),
    );
    await relays.start();
    assert.equal(relays.driver, 'gpio');
    assert.equal(await relays.set(1, true), 0b10);
    assert.deepEqual(gpio.opened(6), { kind: 'output', activeLow: true });
  });
});

describe('the onoff relay lines', () => {
  /** A made-up sysfs with gpio<N> directories, and an onoff stand-in that records what it was asked. */
  async function sysfs(exported: Record<number, { direction: string; value: string }>) {
    const root = await mkdtemp(join(tmpdir(), 'pipdu-relay-gpio-'));
    dirs.push(root);
    for (const [number, line] of Object.entries(exported)) {
      await mkdir(join(root, `gpio${number}`));
      await writeFile(join(root, `gpio${number}`, 'direction'), `${line.direction}\n`);
      await writeFile(join(root, `gpio${number}`, 'value'), `${line.value}\n`);
    }
    const calls: string[] = [];
    class Gpio {
      static accessible = true;
      static HIGH = 1 as const;
      static LOW = 0 as const;
      constructor(
        readonly number: number,
        direction: string,
        _edge: string,
        options: { activeLow?: boolean; reconfigureDirection?: boolean },
      ) {
        calls.push(`new ${number} ${direction} reconfigure=${options.reconfigureDirection ?? true}`);
      }
      setDirection(direction: string) {
        calls.push(`direction ${this.number} ${direction}`);
      }
      readSync() {
        return 1;
      }
      writeSync(value: number) {
        calls.push(`write ${this.number} ${value}`);
      }
      unexport() {
        calls.push(`unexport ${this.number}`);
      }
    }
    const module = { Gpio } as unknown as OnoffModule;
    return { root, calls, module };
  }

  test('a line left an output is taken as it is; a fresh one is made an output at the level it reads', async () => {
    const { root, calls, module } = await sysfs({
      517: { direction: 'out', value: '1' },
      518: { direction: 'in', value: '0' },
    });
    const bootFile = join(root, 'boot_id');
    await writeFile(bootFile, 'abc-123\n');
    const lines = createOnoffRelayLines({
      chipBase: 512,
      onoff: module,
      sysfsRoot: root,
      bootIdFile: bootFile,
    });
    assert.equal(await lines.bootId(), 'abc-123');
    const kept = lines.adopt(5, { activeLow: false });
    const fresh = lines.adopt(6, { activeLow: true });
    assert.deepEqual(calls, [
      'new 517 out reconfigure=false',
      'new 518 in reconfigure=true',
      'direction 518 low',
    ]);
    assert.equal(kept.initial, true);
    fresh.write(true);
    kept.close();
    fresh.close();
    assert.deepEqual(calls.slice(3), ['write 518 1'], 'closing leaves the lines exported, at their levels');
  });

  test('onoff without sysfs GPIO: GpioUnavailableError', () => {
    const module = { Gpio: { accessible: false } } as unknown as typeof Onoff;
    const lines = createOnoffRelayLines({ chipBase: 0, onoff: module as OnoffModule });
    assert.throws(() => lines.adopt(5, { activeLow: false }), GpioUnavailableError);
  });
});

describe('the daemon on GPIO relays', () => {
  const SOCKETS =
    'sockets:\n  - { number: 1, restore: last }\n  - { number: 2, restore: off }\n  - { number: 3, restore: on }\n  - { number: 4, restore: last }\n';

  async function daemon(dir: string, gpio: FakeGpio, bootId: string) {
    const config = parseConfig(
      `version: 1\nboard: { driver: gpio, lines: [${LINES.join(', ')}], switchSpacingMs: 0 }\nstate: { dir: ${dir} }\n${SOCKETS}`,
      'pipdu.yaml',
    );
    const logger = silentLogger();
    const service = new PduService({
      config,
      board: createRelayBoard(config.board, { logger, relayLines: async () => fakeRelayLines(gpio, bootId) }),
      store: new StateStore({ dir, logger }),
      audit: new AuditLog({ dir, maxBytes: 1_000_000, logger }),
      logger,
    });
    const online = once(service, 'boardOnline');
    await service.start();
    await online;
    return service;
  }

  const on = (service: PduService) =>
    service
      .list()
      .filter((socket) => socket.on)
      .map((socket) => socket.number);

  test('a daemon restart switches nothing; a reboot of the Pi (new boot id) applies the restore policies', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipdu-gpio-daemon-'));
    dirs.push(dir);
    const gpio = new FakeGpio();
    let service = await daemon(dir, gpio, 'boot-1');
    assert.deepEqual(on(service), [], 'first contact: the lines as they are (off)');
    await requests(service).on(1, ALICE);
    await requests(service).on(2, ALICE);
    assert.deepEqual(on(service), [1, 2]);
    await service.stop();

    service = await daemon(dir, gpio, 'boot-1');
    assert.deepEqual(on(service), [1, 2]);
    for (const line of LINES) assert.equal(levels(gpio, line).length, 1, `line ${line} was not driven`);
    assert.deepEqual(
      LINES.map((line) => gpio.level(line)),
      [true, true, false, false],
    );
    await service.stop();

    // The Pi rebooted: every line came back an input, its relay off, and the boot id is new.
    const rebooted = new FakeGpio();
    service = await daemon(dir, rebooted, 'boot-2');
    await until(service, 'socketChanged', () => on(service).join() === '1,3');
    assert.deepEqual(
      LINES.map((line) => rebooted.level(line)),
      [true, false, true, false],
      'socket 1 (last: on) and 3 (on) restored, 2 (off) and 4 (last: off) left off',
    );
    await service.stop();
  });
});
