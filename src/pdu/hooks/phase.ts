import type { HookStep } from '../../config/schema.js';
import { HookStepError, PduError } from '../../errors.js';
import { describeStep, runStep } from './index.js';
import type { StepContext } from './step.js';

export type HookPhase = 'preOn' | 'postOn' | 'preOff' | 'postOff';

/** One step of a pipeline, as progress events, results and the audit log show it. */
export interface StepReport {
  phase: HookPhase;
  /** 1-based position in its phase, and the phase's length. */
  index: number;
  total: number;
  kind: HookStep['kind'];
  label: string;
  status: 'running' | 'ok' | 'tolerated' | 'failed' | 'skipped' | 'cancelled';
  startedAt: string | null;
  durationMs: number | null;
  summary?: string;
  error?: { code: string; message: string };
  output?: string;
}

export interface PhaseOptions {
  /** Aborted by cancel, the pipeline timeout or the daemon stopping: the phase ends with that reason. */
  signal: AbortSignal;
  /** Aborted by a forced off: the rest of this phase is skipped and the pipeline goes on. */
  skipSignal?: AbortSignal;
  /** A pre-step failure with `continue` is a warning instead of an abort. */
  onFailure: 'abort' | 'continue';
  context: Omit<StepContext, 'signal'>;
  /** Called at every change of a step's report (started, finished). */
  progress: (report: StepReport) => void;
  warnings: string[];
  /** This phase's step reports are appended here as it starts, and kept up to date, whatever the outcome. */
  reports: StepReport[];
}

/**
 * Runs one hook phase, step after step.
 *
 * - A failed pre-step aborts: this rejects with a HookStepError that names
 *   the step and says the relay was not touched — unless the socket says
 *   `onFailure: continue`, which makes it a warning.
 * - A failed post-step (the relay has already switched) is a warning, and
 *   the rest of that phase is skipped: post-steps usually depend on each
 *   other (wait for the host, then talk to it).
 * - `signal` ends the phase with its reason (CANCELLED, TIMEOUT, STOPPED);
 *   `skipSignal` (a forced off) skips what is left and resolves.
 */
/** A phase's reports before any step has run (status `skipped` until one starts). */
export function notRun(phase: HookPhase, steps: readonly HookStep[], summary?: string): StepReport[] {
  return steps.map((step, i) => ({
    phase,
    index: i + 1,
    total: steps.length,
    kind: step.kind,
    label: describeStep(step),
    status: 'skipped',
    startedAt: null,
    durationMs: null,
    ...(summary === undefined ? {} : { summary }),
  }));
}

export async function runPhase(
  phase: HookPhase,
  steps: readonly HookStep[],
  options: PhaseOptions,
): Promise<void> {
  const reports = notRun(phase, steps);
  options.reports.push(...reports);
  const pre = phase === 'preOn' || phase === 'preOff';
  for (const [i, step] of steps.entries()) {
    const report = reports[i]!;
    if (options.signal.aborted) throw options.signal.reason;
    if (options.skipSignal?.aborted) break;
    const signal = options.skipSignal
      ? AbortSignal.any([options.signal, options.skipSignal])
      : options.signal;
    const started = performance.now();
    report.status = 'running';
    report.startedAt = new Date().toISOString();
    options.progress({ ...report });
    try {
      const result = await runStep(step, { ...options.context, signal });
      report.status = result.toleratedFailure ? 'tolerated' : 'ok';
      report.summary = result.toleratedFailure ?? result.summary;
      if (result.output) report.output = result.output;
    } catch (error) {
      report.durationMs = Math.round((performance.now() - started) * 10) / 10;
      if (options.signal.aborted) {
        report.status = 'cancelled';
        options.progress({ ...report });
        throw options.signal.reason;
      }
      if (options.skipSignal?.aborted) {
        report.status = 'skipped';
        report.summary = 'skipped: forced';
        options.progress({ ...report });
        break;
      }
      const failure =
        error instanceof PduError
          ? error
          : new HookStepError('COMMAND_FAILED', error instanceof Error ? error.message : String(error));
      report.status = 'failed';
      report.error = { code: failure.code, message: failure.message };
      if (failure instanceof HookStepError && failure.output) report.output = failure.output;
      options.progress({ ...report });
      const where = `${phase} step ${report.index} of ${report.total} (${report.label})`;
      if (pre && options.onFailure === 'abort') {
        throw new HookStepError(failure.code, `${where} failed: ${failure.message}`, report.output, {
          cause: failure,
        });
      }
      options.warnings.push(`${where} failed: ${failure.message}`);
      if (!pre) break;
      continue;
    }
    report.durationMs = Math.round((performance.now() - started) * 10) / 10;
    options.progress({ ...report });
  }
}
