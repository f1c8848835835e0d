import { HookStepError } from '../../errors.js';
import { formatMs, onAbort } from './abortable.js';
import type { StepContext, StepResult, StepRunner } from './step.js';

type PowerStep = Parameters<StepRunner<'waitPowerBelow'>>[0];

/**
 * `waitPowerBelow`: waits until the socket's measured power has stayed below
 * `watts` for `for` milliseconds without a break.
 *
 * - The clock starts at a reading below `watts`; a reading at or above it
 *   stops the clock, and the next reading below starts it again from zero.
 * - The reading that is already there when the step starts (`latest()`)
 *   counts as a reading taken at the start.
 * - The step succeeds when `for` has passed on the clock with no reading at
 *   or above in between (readings come about once a second, so it does not
 *   wait for one more); with `for: 0` the first reading below suffices.
 * - Past `timeout`: POWER_STILL_ON, naming the last reading and the limit.
 * - A board without current telemetry (`power.available` false) fails
 *   NO_TELEMETRY at once.
 */
export const runWaitPowerStep: StepRunner<'waitPowerBelow'> = async (step, context) => {
  context.signal.throwIfAborted();
  if (!context.power.available) {
    throw new HookStepError(
      'NO_TELEMETRY',
      `waitPowerBelow ${step.watts} W: the relay board reports no current, so socket ${socketLabel(context.socket)}'s power cannot be measured`,
    );
  }
  return waitBelow(step, context);
};

function waitBelow(step: PowerStep, { power, signal, socket }: StepContext): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let last = power.latest();
    let holdTimer: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    let settled = false;

    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(holdTimer);
      clearTimeout(timeoutTimer);
      removeAbortListener();
      unsubscribe();
      settle();
    };
    const succeed = () => {
      const summary = `${formatWatts(last!)} W (below ${step.watts} W) for ${formatMs(step.for)}, after ${formatMs(performance.now() - started)}`;
      finish(() => resolve({ summary }));
    };
    const onReading = (watts: number) => {
      last = watts;
      if (watts >= step.watts) {
        clearTimeout(holdTimer);
        holdTimer = undefined;
      } else if (step.for === 0) {
        succeed();
      } else if (holdTimer === undefined) {
        holdTimer = setTimeout(succeed, step.for);
      }
    };
    const giveUp = () => {
      const reading =
        last === null ? 'no power reading arrived' : `the last reading was ${formatWatts(last)} W`;
      const message = `waitPowerBelow ${step.watts} W: socket ${socketLabel(socket)} did not stay below ${step.watts} W for ${formatMs(step.for)} within ${formatMs(step.timeout)}: ${reading}`;
      finish(() => reject(new HookStepError('POWER_STILL_ON', message)));
    };

    const timeoutTimer = setTimeout(giveUp, step.timeout);
    const removeAbortListener = onAbort(signal, () => finish(() => reject(signal.reason)));
    if (last !== null) onReading(last);
    if (!settled) unsubscribe = power.subscribe(onReading);
  });
}

function socketLabel(socket: StepContext['socket']): string {
  return socket.name ? `${socket.number} (${socket.name})` : String(socket.number);
}

/** Watts to one decimal, without a trailing `.0`. */
function formatWatts(watts: number): string {
  return String(Number(watts.toFixed(1)));
}
