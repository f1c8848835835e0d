import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimulatedBoard } from '../hardware/simulated-board.js';
import { startSimulator } from './helpers/simulator-process.js';

test('a simulated load steps, dies and surges (then comes back), on its channel only', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  // Relays all on from power-up; no noise.
  const board = new SimulatedBoard({ telemetryIntervalMs: 0, powerUpMask: 0xffff, random: () => 0.5 });
  board.start();
  board.setLoad(0, 1000);
  board.setLoad(1, 500);
  board.loadEvent(0, { kind: 'step', milliamps: 2000, afterMs: 1000 });
  board.loadEvent(1, { kind: 'surge', milliamps: 4000, forMs: 500 });
  assert.deepEqual(board.readings().slice(0, 2), [1000, 4000]);
  t.mock.timers.tick(600);
  assert.deepEqual(board.readings().slice(0, 2), [1000, 500], 'the surge is over');
  t.mock.timers.tick(400);
  assert.deepEqual(board.readings().slice(0, 2), [2000, 500], 'the step came');
  assert.equal(board.loadsMa[0], 2000, 'and stays');
  board.loadEvent(0, { kind: 'step', milliamps: 0, afterMs: 0 }); // dies
  assert.deepEqual(board.readings().slice(0, 2), [0, 500]);
  assert.throws(() => board.loadEvent(16, { kind: 'step', milliamps: 1, afterMs: 0 }), RangeError);
  assert.throws(() => board.loadEvent(0, { kind: 'surge', milliamps: -1, forMs: 1 }), RangeError);
  assert.throws(() => board.loadEvent(0, { kind: 'surge', milliamps: 1, forMs: Number.NaN }), RangeError);
  board.stop();
});

test('the simulator CLI takes load-step, load-die and load-surge, and refuses bad ones with their usage', async () => {
  const sim = await startSimulator({ args: ['--telemetry', '0'] });
  try {
    await sim.command('load-step 2 1500 100');
    await sim.command('load-die 2 5000');
    await sim.command('load-die 3');
    await sim.command('load-surge 4 9000 250');
    await assert.rejects(sim.command('load-step 2 1500'), /usage: load-step <channel> <mA> <after-ms>/);
    await assert.rejects(sim.command('load-die'), /usage: load-die <channel> \[<after-ms>\]/);
    await assert.rejects(sim.command('load-surge 99 1 1'), /channel 99 out of range/);
    await assert.rejects(sim.command('load-surge 1 x 1'), /bad load NaN mA/);
  } finally {
    await sim.stop();
  }
});
