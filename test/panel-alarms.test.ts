import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { FrontPanel } from '../src/controller/panel.js';
import { silentLogger } from '../src/log.js';
import type { Alarm } from '../src/pdu/types.js';
import { FakeClock } from './helpers/fake-clock.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { PduFixture } from './helpers/pdu-fixture.js';

const LEDS = [5, 6, 13, 19];
const STATUS = 26;

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
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

/** How many times a line went on during the next `ms` of the fake clock. */
function flashes(gpio: FakeGpio, clock: FakeClock, line: number, ms: number): number {
  const from = clock.now();
  clock.advance(ms);
  return gpio.history(line).filter((w) => w.at >= from && w.value).length;
}

test('an alarm double-flashes its socket’s LED and the status LED until it clears', async () => {
  const f = await PduFixture.create();
  await f.startDaemon();
  const clock = new FakeClock();
  const gpio = new FakeGpio({ now: () => clock.now() });
  const controller = parseConfig(
    `version: 1\nboard: { driver: simulator }\ncontroller:\n  leds: [${LEDS.join(', ')}]\n  statusLed: ${STATUS}\n`,
    'panel.yaml',
  ).controller!;
  const panel = new FrontPanel({
    config: controller,
    service: f.service,
    gpio,
    logger: silentLogger(),
    clock,
  });
  panel.start();
  cleanup = async () => {
    panel.stop();
    await f.dispose();
  };
  const at = new Date().toISOString();
  clock.advance(1);
  assert.equal(gpio.level(STATUS), true);
  assert.equal(flashes(gpio, clock, STATUS, 1000), 0, 'steady before');
  clock.advance(1000 - (clock.now() % 1000)); // the pattern's period starts on a whole second
  f.service.events.emit('alarm', { alarm: alarm('overCurrent:2', 2), state: 'raised', at });
  // Two flashes a second, on socket 2's LED and the status LED; the other LEDs stay dark.
  assert.equal(flashes(gpio, clock, LEDS[1]!, 2950), 6);
  clock.advance(50);
  assert.equal(flashes(gpio, clock, STATUS, 950), 2);
  assert.equal(flashes(gpio, clock, LEDS[0]!, 1000), 0);
  // A PDU alarm too: clearing the socket's leaves the status LED flashing.
  f.service.events.emit('alarm', { alarm: alarm('maxCurrent', null), state: 'raised', at });
  f.service.events.emit('alarm', { alarm: alarm('overCurrent:2', 2), state: 'cleared', at });
  assert.equal(gpio.level(LEDS[1]!), false);
  assert.equal(flashes(gpio, clock, LEDS[1]!, 1000), 0);
  clock.advance(1000 - (clock.now() % 1000));
  assert.equal(flashes(gpio, clock, STATUS, 950), 2);
  f.service.events.emit('alarm', { alarm: alarm('maxCurrent', null), state: 'cleared', at });
  assert.equal(gpio.level(STATUS), true, 'steady on again (board online)');
  clock.advance(1);
  assert.equal(flashes(gpio, clock, STATUS, 1000), 0);
});
