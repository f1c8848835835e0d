import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { Alarm } from '../src/pdu/types.js';
import type { FakeClock } from './helpers/fake-clock.js';
import {
  PANEL_SETUPS,
  type PanelRig,
  type PanelWiring,
  STATUS,
  startPanelRig,
  stopPanelRig,
} from './helpers/panel-rig.js';

let rig: PanelRig | null = null;
afterEach(async () => {
  await stopPanelRig(rig);
  rig = null;
});

function alarm(id: string, socket: number | null): Alarm {
  return {
    id,
    kind: socket === null ? 'maxCurrent' : 'overCurrent',
    severity: 'critical',
    socket,
    socketName: null,
    unit: 'A',
    limit: 1,
    value: 2,
    worst: 2,
    since: new Date().toISOString(),
    message: 'too much',
  };
}

/** How many times LED `i` (or the status LED, -1) went on during the next `ms` of the fake clock. */
function flashes(wiring: PanelWiring, clock: FakeClock, i: number, ms: number): number {
  const from = clock.now();
  clock.advance(ms);
  const history = i < 0 ? wiring.gpio.history(STATUS) : wiring.ledHistory(i);
  return history.filter((w) => w.at >= from && w.value).length;
}

for (const setup of PANEL_SETUPS) {
  test(`an alarm double-flashes its socket’s LED and the status LED until it clears (${setup})`, async () => {
    rig = await startPanelRig(setup);
    const { f, clock, wiring, gpio } = rig;
    const at = new Date().toISOString();
    clock.advance(1);
    assert.equal(gpio.level(STATUS), true);
    assert.equal(flashes(wiring, clock, -1, 1000), 0, 'steady before');
    clock.advance(1000 - (clock.now() % 1000)); // the pattern's period starts on a whole second
    f.service.events.emit('alarm', { alarm: alarm('overCurrent:2', 2), state: 'raised', at });
    // Two flashes a second, on socket 2's LED and the status LED; the other LEDs stay dark.
    assert.equal(flashes(wiring, clock, 1, 2950), 6);
    clock.advance(50);
    assert.equal(flashes(wiring, clock, -1, 950), 2);
    assert.equal(flashes(wiring, clock, 0, 1000), 0);
    // A PDU alarm too: clearing the socket's leaves the status LED flashing.
    f.service.events.emit('alarm', { alarm: alarm('maxCurrent', null), state: 'raised', at });
    f.service.events.emit('alarm', { alarm: alarm('overCurrent:2', 2), state: 'cleared', at });
    assert.equal(wiring.led(1), false);
    assert.equal(flashes(wiring, clock, 1, 1000), 0);
    clock.advance(1000 - (clock.now() % 1000));
    assert.equal(flashes(wiring, clock, -1, 950), 2);
    f.service.events.emit('alarm', { alarm: alarm('maxCurrent', null), state: 'cleared', at });
    assert.equal(gpio.level(STATUS), true, 'steady on again (board online)');
    clock.advance(1);
    assert.equal(flashes(wiring, clock, -1, 1000), 0);
  });
}
