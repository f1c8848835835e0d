import { connect } from 'node:net';
import { HookStepError } from '../../errors.js';
import { abortableSleep, formatMs, onAbort } from './abortable.js';
import type { StepRunner } from './step.js';

type HostStep = Parameters<StepRunner<'waitHostDown' | 'waitHostUp'>>[0];

/** A probe never waits longer than this for a connect, however long the interval. */
export const PROBE_TIMEOUT_MS = 2000;

/**
 * waitHostDown needs this many down probes in a row: one lost SYN (a timed-out
 * probe) must not pass for a host that is off, or the relay would cut a
 * running machine.
 */
export const DOWN_PROBES_NEEDED = 2;

/** What one TCP probe found: `up` when the connect succeeded, else why it did not. */
type Probe = { up: true } | { up: false; reason: string };

/**
 * `waitHostDown` / `waitHostUp`: probes `host:port` with a TCP connect until
 * the host stops / starts answering.
 *
 * - A probe is one connect attempt, closed at once when it succeeds. The host
 *   is *up* when the connect succeeds, *down* when it is refused, unreachable,
 *   the name does not resolve, or nothing answers within
 *   min(interval, 2 s, time left).
 * - The first probe starts at once, the next ones `interval` after the start
 *   of the one before.
 * - waitHostUp succeeds on the first probe that connects. waitHostDown
 *   succeeds on the second down probe in a row (DOWN_PROBES_NEEDED), so a
 *   port with nothing behind it passes after one interval.
 * - No probe starts after `timeout`: then HOST_STILL_UP / HOST_STILL_DOWN,
 *   saying for how long and what the last probe found.
 */
export const runWaitHostStep: StepRunner<'waitHostDown' | 'waitHostUp'> = async (step, context) => {
  const { signal } = context;
  signal.throwIfAborted();
  const wantUp = step.kind === 'waitHostUp';
  const needed = wantUp ? 1 : DOWN_PROBES_NEEDED;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  let inARow = 0;
  let last: Probe | undefined;
  let lastUpAt: number | undefined;

  for (let probeAt = 0; probeAt < step.timeout; probeAt = elapsed()) {
    last = await probe(
      step.host,
      step.port,
      Math.min(step.interval, PROBE_TIMEOUT_MS, step.timeout - probeAt),
      signal,
    );
    if (last.up) lastUpAt = elapsed();
    inARow = last.up === wantUp ? inARow + 1 : 0;
    if (inARow >= needed) return { summary: `${wantUp ? 'up' : 'down'} after ${formatMs(elapsed())}` };
    const wait = Math.min(probeAt + step.interval, step.timeout) - elapsed();
    if (wait > 0) await abortableSleep(wait, signal);
  }
  throw stillError(step, elapsed(), last, lastUpAt);
};

function stillError(
  step: HostStep,
  waited: number,
  last: Probe | undefined,
  lastUpAt: number | undefined,
): HookStepError {
  const target = `${step.host}:${step.port}`;
  if (step.kind === 'waitHostUp') {
    const found = last && !last.up ? `: ${last.reason}` : '';
    return new HookStepError(
      'HOST_STILL_DOWN',
      `waitHostUp ${target}: still down after ${formatMs(waited)}${found}`,
    );
  }
  const found =
    lastUpAt === undefined
      ? `${target} was not found down on ${DOWN_PROBES_NEEDED} probes in a row`
      : `${target} kept accepting TCP connections (the last one ${formatMs(lastUpAt)} into the wait)`;
  return new HookStepError(
    'HOST_STILL_UP',
    `waitHostDown ${target}: still up after ${formatMs(waited)}: ${found}`,
  );
}

/**
 * One TCP connect to `host:port`, bounded by `timeoutMs`. Resolves with what
 * it found; rejects with `signal.reason` on abort. The socket is destroyed
 * and the timer cleared whichever way it ends.
 */
function probe(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      removeAbortListener();
      socket.destroy();
      settle();
    };
    const timer = setTimeout(
      () => finish(() => resolve({ up: false, reason: `no answer within ${formatMs(timeoutMs)}` })),
      timeoutMs,
    );
    const removeAbortListener = onAbort(signal, () => finish(() => reject(signal.reason)));
    socket.once('connect', () => finish(() => resolve({ up: true })));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish(() => resolve({ up: false, reason: describeConnectError(error) })),
    );
  });
}

function describeConnectError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not resolved';
    case 'ETIMEDOUT':
      return 'connect timed out';
    default:
      return error.message;
  }
}
