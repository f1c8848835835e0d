import type { HookStep } from '../../config/schema.js';
import { formatMs } from './abortable.js';
import { runDelayStep } from './delay-step.js';
import { runExecStep } from './exec-step.js';
import type { StepContext, StepResult } from './step.js';
import { runWaitHostStep } from './wait-host-step.js';
import { runWaitPowerStep } from './wait-power-step.js';

export { formatMs } from './abortable.js';
export type { PowerReadings, StepContext, StepResult } from './step.js';

/** Runs one hook step with the runner of its kind (the only place that knows them all). */
export function runStep(step: HookStep, context: StepContext): Promise<StepResult> {
  switch (step.kind) {
    case 'ssh':
      // node-ssh (ssh2 and its crypto) is loaded when a socket first needs it: most daemons never do.
      return import('./ssh-step.js').then(({ runSshStep }) => runSshStep(step, context));
    case 'exec':
      return runExecStep(step, context);
    case 'waitHostDown':
    case 'waitHostUp':
      return runWaitHostStep(step, context);
    case 'waitPowerBelow':
      return runWaitPowerStep(step, context);
    case 'delay':
      return runDelayStep(step, context);
  }
}

/** One line naming a step for people: progress messages, errors, the audit log. */
export function describeStep(step: HookStep): string {
  switch (step.kind) {
    case 'ssh':
      return `ssh ${step.user}@${step.host}${step.port === 22 ? '' : `:${step.port}`}: ${step.command}`;
    case 'exec':
      return `exec ${step.argv.join(' ')}`;
    case 'waitHostDown':
      return `wait for ${step.host}:${step.port} to go down`;
    case 'waitHostUp':
      return `wait for ${step.host}:${step.port} to come up`;
    case 'waitPowerBelow':
      return `wait for power below ${step.watts} W for ${formatMs(step.for)}`;
    case 'delay':
      return `wait ${formatMs(step.duration)}`;
  }
}
