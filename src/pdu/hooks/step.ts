import type { HookStep } from '../../config/schema.js';
import type { Logger } from '../../log.js';

/**
 * What a hook step may use while it runs. One object, so steps stay small
 * functions and tests can hand them fakes.
 */
export interface StepContext {
  /** The socket the pipeline runs for: its number and name, for messages. */
  socket: { number: number; name: string | null };
  /**
   * Aborted when the pipeline is cancelled (by an actor, by a forced request,
   * by the whole pipeline's `hookTimeout`, or by the daemon stopping). A step
   * must then stop promptly — close connections, kill processes, clear
   * timers — and reject with the signal's reason (a PduError: CANCELLED or
   * TIMEOUT).
   */
  signal: AbortSignal;
  logger: Logger;
  /** The socket's measured power, for `waitPowerBelow`. */
  power: PowerReadings;
  /** Where `passphraseEnv` is looked up (process.env in the daemon). */
  env: NodeJS.ProcessEnv;
}

/**
 * The socket's power as telemetry reports it. Steps never poll the board:
 * they read the latest value and wait for the next reading.
 */
export interface PowerReadings {
  /** False when the board reports no current (no `current` feature): power steps fail NO_TELEMETRY. */
  readonly available: boolean;
  /** The latest reading in watts, or null before the first one. */
  latest(): number | null;
  /** Calls `listener` with every new reading (watts); returns the unsubscribe function. */
  subscribe(listener: (watts: number) => void): () => void;
}

/** What a finished step reports, for the audit log and the live progress. */
export interface StepResult {
  /** One line for people: "exit 0", "host down after 12.3 s", "1.2 W for 5 s". */
  summary: string;
  /** Command output, truncated to `MAX_OUTPUT` characters. */
  output?: string;
  /** The step failed but was allowed to (`allowFailure`, or `expectDisconnect` on a dropped session). */
  toleratedFailure?: string;
}

/**
 * Runs one step of a hook pipeline. Rules every runner keeps:
 * - It bounds itself by the step's own `timeout` (where it has one) and
 *   fails with its kind's code: TIMEOUT for ssh/exec, HOST_STILL_UP /
 *   HOST_STILL_DOWN for the host waits, POWER_STILL_ON for power.
 * - It honours `context.signal` at any moment (see StepContext).
 * - It fails with a HookStepError whose message names what it tried
 *   ("ssh pi@192.168.1.20:22: ...") and says why, in words for people.
 * - Nothing it started outlives it: no timer, socket or child process.
 */
export type StepRunner<K extends HookStep['kind'] = HookStep['kind']> = (
  step: Extract<HookStep, { kind: K }>,
  context: StepContext,
) => Promise<StepResult>;

/** How much command output is kept for the audit log. */
export const MAX_OUTPUT = 4000;

/** Keeps the end of long output: that is where the error usually is. */
export function truncateOutput(text: string, max = MAX_OUTPUT): string {
  const trimmed = text.trimEnd();
  if (trimmed.length <= max) return trimmed;
  return `…[${trimmed.length - max} characters cut]…\n${trimmed.slice(-max)}`;
}
