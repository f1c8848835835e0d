import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { SimulatedBoard } from '../hardware/simulated-board.js';
import { FrontPanel } from '../src/controller/panel.js';
import { silentLogger } from '../src/log.js';
import {
  controllerConfig,
  PANEL_SETUPS,
  type PanelRig,
  STATUS,
  startPanelRig,
  stopPanelRig,
} from './helpers/panel-rig.js';
import { ALICE, once, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// The front panel's rules with a fake GPIO (and, behind it, a key matrix and
// LED chip models) and a fake clock, against the Pdu service on the
// in-process board simulator (real time for the service, the clock moved by
// hand for the panel). Every rule runs on each wiring: single lines, and a
// key matrix with LEDs on a PCF8574, an MCP23017 or a 74HC595.

let rig: PanelRig | null = null;
afterEach(async () => {
  await stopPanelRig(rig);
  rig = null;
});

for (const setup of PANEL_SETUPS) {
  describe(setup, () => {
    async function start(extra = '', sockets = ''): Promise<PanelRig> {
      rig = await startPanelRig(setup, { extra, sockets });
      return rig;
    }

    /** The switch-state changes the board has made so far (SET lines). */
    function sets(r: PanelRig): string[] {
      return r.f.switchingLines();
    }

    /** Holds key `i` (0-based) for `ms` on the fake clock, bouncing on press and release. */
    function bouncyPress(r: PanelRig, i: number, holdMs: number): void {
      r.wiring.bounce(i, [true, false, true, false, true]);
      r.clock.advance(holdMs);
      r.wiring.bounce(i, [false, true, false, true, false]);
      r.clock.advance(100);
    }

    test('a bounce storm on press and release is one press (short: identify, nothing switched)', async () => {
      const r = await start();
      bouncyPress(r, 0, 500);
      assert.deepEqual(sets(r), []);
      // identify: for 2 s the LED blinks its state (off: short flashes), then shows the state again.
      const from = r.clock.now();
      r.clock.advance(1000);
      const flashes = r.wiring.ledHistory(0).filter((w) => w.at >= from);
      assert.ok(flashes.filter((w) => w.value).length >= 2, 'it flashed');
      const litMs = flashes.reduce(
        (sum, w, k) => sum + (w.value ? (flashes[k + 1]?.at ?? from + 1000) - w.at : 0),
        0,
      );
      assert.ok(litMs < 500, `mostly off while identifying an off socket (lit ${litMs} ms of 1000)`);
      r.clock.advance(2500);
      assert.equal(r.wiring.led(0), false);
    });

    test('a long press toggles at the threshold while still held, and not again on release', async () => {
      const r = await start();
      // The audit entry is written after the switch: waited for as its event, not read back at once.
      const audited = once(r.f.service, 'action', (entry) => entry.socket === 2);
      r.wiring.press(1);
      r.clock.advance(2999);
      assert.deepEqual(sets(r), [], 'not before the threshold');
      r.clock.advance(31); // debounce 30 ms + the threshold
      await until(r.f.service, 'socketChanged', () => r.f.service.info(2).on === true);
      assert.deepEqual(
        sets(r).map((l) => l.split(' ').slice(1).join(' ')),
        ['SET 1 1'],
      );
      r.clock.advance(7000); // held 10 s in all
      r.wiring.release(1);
      r.clock.advance(100);
      assert.equal(sets(r).length, 1, 'one toggle per hold');
      const entry = await audited;
      assert.deepEqual(entry.actor, { kind: 'panel', id: 'button-2' });
    });

    test('two buttons held at once each toggle their own socket', async () => {
      const r = await start();
      r.wiring.press(0);
      r.wiring.press(2);
      r.clock.advance(3100);
      await until(
        r.f.service,
        'socketChanged',
        () => r.f.service.info(1).on === true && r.f.service.info(3).on === true,
      );
      r.wiring.release(0);
      r.wiring.release(2);
      r.clock.advance(100);
      assert.equal(sets(r).length, 2);
    });

    test('shortPress: toggle switches on a short press; none does nothing', async () => {
      const r = await start('  shortPress: toggle');
      bouncyPress(r, 3, 200);
      await until(
        r.f.service,
        'pending',
        () => r.f.service.info(4).on === true && r.f.service.info(4).pending === null,
      );
      r.panel.stop();
      const quiet = new FrontPanel({
        config: controllerConfig(setup, '  shortPress: none'),
        service: r.f.service,
        gpio: r.gpio,
        i2c: r.wiring.i2c.opener,
        logger: silentLogger(),
        clock: r.clock,
      });
      quiet.start();
      const before = sets(r).length;
      const writes = r.wiring.ledHistory(3).length;
      bouncyPress(r, 3, 200);
      r.clock.advance(1000);
      assert.equal(sets(r).length, before);
      assert.equal(r.wiring.led(3), true, 'LED 4 shows on');
      assert.equal(r.wiring.ledHistory(3).length, writes, 'and did not blink (no identify)');
      quiet.stop();
    });

    test('a protected socket needs a double hold to switch off from the panel', async () => {
      const r = await start('  shortPress: toggle', 'sockets:\n  - { number: 1, protected: true }\n');
      await requests(r.f.service).on(1, ALICE);
      bouncyPress(r, 0, 200); // a short press never switches a protected socket off
      assert.equal(r.f.service.info(1).on, true);
      r.wiring.press(0);
      r.clock.advance(3100);
      assert.equal(r.f.service.info(1).on, true, 'one threshold is not enough');
      r.clock.advance(3000);
      await until(r.f.service, 'socketChanged', () => r.f.service.info(1).on === false);
      r.wiring.release(0);
      r.clock.advance(100);
    });

    test('a single hold begun while a protected socket was off never cuts it when an on got there first', async () => {
      const r = await start('', 'sockets:\n  - { number: 1, protected: true }\n');
      (r.f.sim as SimulatedBoard).faults.extraDelayMs = 200; // a slow board: the on is in flight
      const refused = once(r.f.service, 'action', (entry) => entry.code === 'NEEDS_CONFIRMATION');
      r.wiring.press(0); // shown off: one threshold, a toggle that would switch it on
      r.clock.advance(31);
      const apiOn = requests(r.f.service).on(1, ALICE);
      await until(r.f.service, 'pending', () => r.f.service.info(1).pending !== null);
      r.clock.advance(3000);
      const entry = await refused;
      assert.deepEqual([entry.action, entry.actor.kind, entry.socket], ['toggle', 'panel', 1]);
      await apiOn;
      r.wiring.release(0);
      r.clock.advance(100);
      assert.equal(r.f.service.info(1).on, true);
      assert.deepEqual(
        sets(r).map((l) => l.split(' ').slice(1).join(' ')),
        ['SET 0 1'],
        'on once, never cut without the double hold',
      );
      r.clock.advance(1000);
      const fast = r.wiring.ledHistory(0).filter((w) => w.at > r.clock.now() - 1000);
      assert.ok(fast.length >= 8, `its LED blinks fast: ${fast.length} changes in a second`);
    });

    test('LEDs follow changes made elsewhere, blink slowly while work is pending and fast after a failure', async () => {
      const r = await start('', 'sockets:\n  - number: 3\n    offTime: 200ms\n');
      await requests(r.f.service).on(2, ALICE); // from another interface
      assert.equal(r.wiring.led(1), true);
      await requests(r.f.service).off(2, ALICE);
      assert.equal(r.wiring.led(1), false);

      // Pending (a cycle): slow blink, 500 ms on, 500 ms off.
      const cycle = requests(r.f.service).cycle(3, ALICE);
      await until(r.f.service, 'pending', () => r.f.service.info(3).pending !== null);
      r.clock.advance(1000);
      const blinks = r.wiring.ledHistory(2).filter((w) => w.at > 0);
      assert.ok(blinks.length >= 2, 'it blinked while pending');
      assert.ok(
        blinks.slice(1).every((w, k) => w.at - blinks[k]!.at >= 500),
        'slowly: 500 ms between changes',
      );
      await cycle;
      assert.equal(r.wiring.led(2), true, 'steady on once done');

      // A failure: fast blink for 10 s, then the state again.
      r.f.transport.unplug();
      await until(r.f.service, 'boardOffline', () => !r.f.service.status().board.online);
      await assert.rejects(() => requests(r.f.service).off(3, ALICE));
      r.clock.advance(1000);
      const fast = r.wiring.ledHistory(2).filter((w) => w.at > r.clock.now() - 1000);
      assert.ok(fast.length >= 8, `fast blink: ${fast.length} changes in a second`);
      r.clock.advance(10_000);
      assert.equal(r.wiring.led(2), true, 'back to its (last known) state after 10 s');
    });

    test('the status LED is steady while the board is online and blinks fast while it is offline', async () => {
      const r = await start();
      assert.equal(r.gpio.level(STATUS), true);
      r.f.transport.unplug();
      await until(r.f.service, 'boardOffline', () => !r.f.service.status().board.online);
      const from = r.gpio.history(STATUS).length;
      r.clock.advance(1000);
      assert.ok(r.gpio.history(STATUS).length - from >= 8, 'fast blink');
      r.panel.setDiscordConnected(false);
      r.f.transport.plug();
      await until(r.f.service, 'boardOnline', () => r.f.service.status().board.online);
      const slowFrom = r.gpio.history(STATUS).length;
      r.clock.advance(2000);
      const changes = r.gpio.history(STATUS).length - slowFrom;
      assert.ok(changes >= 3 && changes <= 5, `slow blink while Discord is down: ${changes} changes in 2 s`);
      r.panel.setDiscordConnected(true);
      assert.equal(r.gpio.level(STATUS), true);
    });

    test('stop() releases every line and leaves no timers', async () => {
      const r = await start();
      r.wiring.press(0);
      r.clock.advance(10); // inside the debounce
      r.panel.stop();
      assert.deepEqual(r.gpio.openLines(), []);
      assert.equal(r.clock.pending, 0);
    });
  });
}
