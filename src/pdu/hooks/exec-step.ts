import { type ChildProcess, spawn } from 'node:child_process';
import { HookStepError } from '../../errors.js';
import { formatMs, onAbort } from './abortable.js';
import { MAX_OUTPUT, type StepResult, type StepRunner, truncateOutput } from './step.js';

type ExecStep = Parameters<StepRunner<'exec'>>[0];

/** How long a command gets between SIGTERM and SIGKILL when it is stopped. */
export const KILL_GRACE_MS = 1000;
/** Once the group is gone, how long to wait for pipes a descendant that left the group may still hold. */
const OUTPUT_DRAIN_MS = 100;
/** Output kept while the command runs: plenty for truncateOutput, bounded against a flood. */
const OUTPUT_KEEP_CHARS = 16 * MAX_OUTPUT;

/** How the command's own process ended: it exited (code or signal), or it never started. */
type Ending =
  | { started: true; code: number | null; signal: NodeJS.Signals | null }
  | { started: false; error: NodeJS.ErrnoException };

/**
 * `exec`: runs `argv` on this machine, without a shell, and checks its exit
 * status.
 *
 * - The command runs in its own process group (spawned detached), with the
 *   daemon's environment (`context.env`), stdin closed.
 * - stdout and stderr are kept interleaved as they came, truncated with
 *   truncateOutput; the summary reads `exit 0 in 12 ms`.
 * - Exit status 0 succeeds. A non-zero status, death by a signal, or a
 *   program that cannot be started (not found, not executable) fails
 *   COMMAND_FAILED; with `allowFailure` these are tolerated
 *   (`toleratedFailure`). A timeout or a cancel never is.
 * - Past `timeout` the whole process group gets SIGTERM, and SIGKILL if the
 *   command has not exited KILL_GRACE_MS later; the step fails TIMEOUT. A
 *   cancel does the same and rejects with the signal's reason.
 * - Nothing outlives the step: once the command's own process has exited,
 *   whatever is left in its group (a background job, a grandchild that
 *   ignored SIGTERM) is killed. A job meant to outlive it must leave the
 *   group (setsid).
 */
export const runExecStep: StepRunner<'exec'> = async (step, context) => {
  context.signal.throwIfAborted();
  const started = performance.now();
  const [program, ...args] = step.argv as [string, ...string[]];
  const child = spawn(program, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: context.env });
  const output = collectOutput(child);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const ending = endingOf(child);

  const stop = await stopReason(ending, step.timeout, context.signal);
  if (child.pid !== undefined) await endGroup(child.pid, ending);
  const ended = await ending;
  const ms = performance.now() - started;
  await drain(child, closed);

  if (stop === 'cancel') throw context.signal.reason;
  if (stop === 'timeout') {
    const message = `${describe(step)}: still running after ${formatMs(step.timeout)}: killed it and its process group`;
    throw new HookStepError('TIMEOUT', message, output() || undefined);
  }
  return judge(step, ended, ms, output());
};

/** Success, tolerated failure or COMMAND_FAILED, from how the command ended. */
function judge(step: ExecStep, ended: Ending, ms: number, output: string): StepResult {
  const kept = output ? { output } : {};
  if (ended.started && ended.code === 0) return { summary: `exit 0 in ${formatMs(ms)}`, ...kept };
  const { summary, why } = failure(ended, step.argv[0]!, ms);
  const lastLine = output.split('\n').at(-1)!.slice(0, 200);
  const message = `${describe(step)}: ${why}${lastLine ? `: ${lastLine}` : ''}`;
  if (step.allowFailure) return { summary, ...kept, toleratedFailure: message };
  throw new HookStepError('COMMAND_FAILED', message, output || undefined);
}

function failure(ended: Ending, program: string, ms: number): { summary: string; why: string } {
  if (!ended.started) {
    const { code } = ended.error;
    if (code === 'ENOENT') return { summary: 'not found', why: `${program} not found` };
    if (code === 'EACCES') return { summary: 'not executable', why: `${program} is not executable` };
    return { summary: 'could not start', why: `could not start ${program}: ${ended.error.message}` };
  }
  if (ended.signal) {
    return { summary: `killed by ${ended.signal} after ${formatMs(ms)}`, why: `killed by ${ended.signal}` };
  }
  return { summary: `exit ${ended.code} in ${formatMs(ms)}`, why: `exit status ${ended.code}` };
}

/** `exec /usr/local/bin/notify nas going-down`, arguments with spaces quoted, for messages. */
function describe(step: ExecStep): string {
  const line = step.argv.map((arg) => (/^[^\s"']+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
  return `exec ${line.length > 120 ? `${line.slice(0, 119)}…` : line}`;
}

/** stdout and stderr in arrival order, as one text; only the last OUTPUT_KEEP_CHARS are kept. */
function collectOutput(child: ChildProcess): () => string {
  let kept = '';
  let dropped = 0;
  const add = (chunk: string) => {
    kept += chunk;
    const excess = kept.length - OUTPUT_KEEP_CHARS;
    if (excess > 0) {
      kept = kept.slice(excess);
      dropped += excess;
    }
  };
  child.stdout!.setEncoding('utf8').on('data', add);
  child.stderr!.setEncoding('utf8').on('data', add);
  return () => {
    const text = truncateOutput(kept);
    return dropped > 0 ? `…[${dropped} earlier characters not kept]…\n${text}` : text;
  };
}

function endingOf(child: ChildProcess): Promise<Ending> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ started: true, code, signal }));
    // A spawn failure (ENOENT, EACCES) arrives as 'error' and no 'exit'.
    child.on('error', (error) => resolve({ started: false, error }));
  });
}

/** Resolves when the command ends by itself (undefined), when its timeout passes, or on a cancel. */
function stopReason(
  ending: Promise<Ending>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<'timeout' | 'cancel' | undefined> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let removeAbortListener = () => {};
    const done = (reason: 'timeout' | 'cancel' | undefined) => {
      clearTimeout(timer);
      removeAbortListener();
      resolve(reason);
    };
    timer = setTimeout(() => done('timeout'), timeoutMs);
    removeAbortListener = onAbort(signal, () => done('cancel'));
    void ending.then(() => done(undefined));
  });
}

/**
 * Ends process group `pgid`: SIGTERM to every member, then SIGKILL to what is
 * left once the command's own process has exited, or after KILL_GRACE_MS if
 * it has not. Returns at once when the group is already empty (the usual case
 * once a command has exited by itself).
 */
async function endGroup(pgid: number, ending: Promise<Ending>): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ending, new Promise((resolve) => (timer = setTimeout(resolve, KILL_GRACE_MS)))]);
  clearTimeout(timer);
  signalGroup(pgid, 'SIGKILL');
}

/** Signals every process in group `pgid`; false when the group is empty (gone). */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Waits for the output pipes to close. A descendant that moved to a group of
 * its own may still hold them: after OUTPUT_DRAIN_MS they are closed from
 * this side so the step can end.
 */
async function drain(child: ChildProcess, closed: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, OUTPUT_DRAIN_MS)))]);
  clearTimeout(timer);
  child.stdout?.destroy();
  child.stderr?.destroy();
}
