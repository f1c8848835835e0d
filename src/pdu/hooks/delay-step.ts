import { abortableSleep, formatMs } from './abortable.js';
import type { StepRunner } from './step.js';

/**
 * `delay`: waits `duration` milliseconds (0 = not at all). A cancel ends the
 * wait at once with the signal's reason.
 */
export const runDelayStep: StepRunner<'delay'> = async (step, context) => {
  context.signal.throwIfAborted();
  if (step.duration > 0) await abortableSleep(step.duration, context.signal);
  return { summary: `waited ${formatMs(step.duration)}` };
};
