import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import type { HookStep } from '../src/config/schema.js';
import { HookStepError, PduError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { abortableSleep, formatMs } from '../src/pdu/hooks/abortable.js';
import { runDelayStep } from '../src/pdu/hooks/delay-step.js';
import { KILL_GRACE_MS, runExecStep } from '../src/pdu/hooks/exec-step.js';
import type { PowerReadings, StepContext } from '../src/pdu/hooks/step.js';
import { runWaitHostStep } from '../src/pdu/hooks/wait-host-step.js';
import { runWaitPowerStep } from '../src/pdu/hooks/wait-power-step.js';

// ---------------------------------------------------------------- helpers

/*
 * Time in these tests: the machines are shared and loaded, so no assertion
 * bounds how fast something runs. A wait that is the behaviour (a timeout,
 * an interval, a hold, a delay) is checked from below, allowing TIMER_SLACK_MS
 * per timer; what must not happen (waiting out a long timeout on a cancel)
 * is checked against that wrong alternative, made long; a timeout that fires
 * is bounded above only loosely (LATE_MS): that it ended is the point.
 */

/**
 * How much earlier than its delay a timer may fire, as performance.now()
 * measures it: Node truncates the delay to whole milliseconds and counts it
 * on a whole-millisecond clock, each worth up to a millisecond short.
 */
const TIMER_SLACK_MS = 2;
/** How long past its own timeout a step may end on a loaded machine: only a bound against never ending. */
const LATE_MS = 3000;
/** A timeout or duration no test waits out: a step that waited for it has done the wrong thing. */
const LONG_MS = 30_000;
/** Well under LONG_MS, however loaded the machine: what ended sooner did not wait for it. */
const WELL_UNDER_LONG_MS = 5000;

const execFileAsync = promisify(execFile);

/** Power readings the test emits by hand. */
class FakePower implements PowerReadings {
  private readonly emitter = new EventEmitter();
  /** How many times a step subscribed, ever (subscribers counts those still subscribed). */
  subscriptions = 0;
  constructor(
    readonly available = true,
    private current: number | null = null,
  ) {}
  latest(): number | null {
    return this.current;
  }
  subscribe(listener: (watts: number) => void): () => void {
    this.subscriptions++;
    this.emitter.on('reading', listener);
    return () => this.emitter.off('reading', listener);
  }
  emit(watts: number): void {
    this.current = watts;
    this.emitter.emit('reading', watts);
  }
  get subscribers(): number {
    return this.emitter.listenerCount('reading');
  }
}

function makeContext(options: { signal?: AbortSignal; power?: PowerReadings } = {}): StepContext {
  return {
    socket: { number: 5, name: 'nas' },
    signal: options.signal ?? new AbortController().signal,
    logger: silentLogger(),
    power: options.power ?? new FakePower(),
    env: process.env,
  };
}

type Step<K extends HookStep['kind']> = Extract<HookStep, { kind: K }>;

const cancelled = () => new PduError('CANCELLED', 'cancelled by the test');

/**
 * Starts the work, returning how it settled and how long it took. The clock
 * starts before the work does (a step reads its own clock when it starts).
 */
async function timed<T>(
  start: () => Promise<T>,
): Promise<{ ms: number } & ({ value: T } | { error: unknown })> {
  const started = performance.now();
  try {
    const value = await start();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** Awaits a rejection and returns its reason (assert.rejects returns nothing). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected the step to fail'),
    (error: unknown) => error,
  );
}

function assertCode(error: unknown, code: string, message?: RegExp): asserts error is HookStepError {
  assert.ok(error instanceof HookStepError, `expected a HookStepError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
}

/**
 * Active handles and timers, by kind: what a step must not leave behind.
 * Taken after two turns of the event loop, so handles closed just before have
 * finished closing (libuv closes them in a later phase).
 */
async function activeResources(): Promise<string[]> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().sort();
}

/** `R`, `S`, `Z`... from /proc, or `gone` once the process has been reaped. */
function processState(pid: number): string {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]!;
  } catch {
    return 'gone';
  }
}

/**
 * Asserts the process is dead: gone (ESRCH), or a zombie. A killed
 * grandchild is orphaned to PID 1, and in containers PID 1 may reap it only
 * a second later; a zombie runs nothing. SIGKILL itself completes a moment
 * after it is sent (the kernel finishes the exit, once the process gets a
 * CPU), so a process still exiting gets a while: one never killed stays
 * asleep however long it is given.
 */
async function assertDead(pid: number, what: string): Promise<void> {
  const deadline = performance.now() + 5000;
  let state = processState(pid);
  while (state !== 'gone' && state !== 'Z' && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    state = processState(pid);
  }
  assert.ok(state === 'gone' || state === 'Z', `${what} (pid ${pid}) is still running: state ${state}`);
}

/** A listener on 127.0.0.1 (port 0 = any free port), closed when the test ends. */
async function listen(
  t: TestContext,
  port = 0,
  server = createServer((socket) => socket.destroy()),
): Promise<Server & { port: number }> {
  t.after(() => server.close());
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(server, { port: (server.address() as { port: number }).port });
}

/** A port nothing listens on (it just did, so nothing else took it yet). */
async function freePort(t: TestContext): Promise<number> {
  const server = await listen(t);
  server.close();
  await once(server, 'close');
  return server.port;
}

// ---------------------------------------------------------------- exec

const exec = (argv: string[], options: Partial<Step<'exec'>> = {}): Step<'exec'> => ({
  kind: 'exec',
  argv,
  timeout: 5000,
  allowFailure: false,
  ...options,
});

/**
 * A command (a shell) that starts a grandchild (`sleep`, holding the
 * command's output pipes), writes both pids to the FIFO `fifo`, then waits
 * forever. With `ignoreTerm` both ignore SIGTERM, so only SIGKILL ends them.
 *
 * A shell, not node: it ignores SIGTERM and reports within milliseconds of
 * its spawn. Node takes 100-250 ms to start on a loaded machine: a short step
 * timeout could kill it before it reported, leaving the test waiting forever.
 */
function stubborn(fifo: string, ignoreTerm: boolean, options: Partial<Step<'exec'>> = {}): Step<'exec'> {
  const script = `${ignoreTerm ? "trap '' TERM; " : ''}sleep 1000 & echo "$$ $!" > "$1"; wait`;
  return exec(['sh', '-c', script, 'stubborn', fifo], options);
}

/** A FIFO for the stubborn command, and its pids once it has written them there. */
async function pidReporter(t: TestContext) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-hook-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fifo = path.join(dir, 'pids');
  await execFileAsync('mkfifo', [fifo]);
  const pids = readFile(fifo, 'utf8').then((text) => {
    const [leader, grandchild] = text.trim().split(' ').map(Number) as [number, number];
    return { leader, grandchild };
  });
  return { fifo, pids };
}

describe('exec', () => {
  test('exit 0: output of stdout and stderr as it came, summary with the time', async () => {
    const script = 'echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three';
    const result = await runExecStep(exec(['sh', '-c', script]), makeContext());
    assert.match(result.summary, /^exit 0 in \d+ ms$/);
    assert.equal(result.output, 'one\ntwo\nthree');
    assert.equal(result.toleratedFailure, undefined);
  });

  test('arguments are passed as they are, with no shell in between', async () => {
    const result = await runExecStep(
      exec([
        process.execPath,
        '-e',
        'console.log(JSON.stringify(process.argv.slice(1)))',
        'a b',
        '$HOME',
        '*',
      ]),
      makeContext(),
    );
    assert.deepEqual(JSON.parse(result.output!), ['a b', '$HOME', '*']);
  });

  test('a non-zero exit fails COMMAND_FAILED with the status, the last line and the output', async () => {
    const error = await rejection(
      runExecStep(exec(['sh', '-c', 'echo working; echo disk full >&2; exit 3']), makeContext()),
    );
    assertCode(error, 'COMMAND_FAILED', /^exec sh -c "echo working; .*": exit status 3: disk full$/);
    assert.equal(error.output, 'working\ndisk full');
  });

  test('allowFailure turns a non-zero exit into a tolerated failure', async () => {
    const result = await runExecStep(exec(['sh', '-c', 'exit 3'], { allowFailure: true }), makeContext());
    assert.match(result.summary, /^exit 3 in \d+ ms$/);
    assert.match(result.toleratedFailure ?? '', /exit status 3/);
  });

  test('death by a signal fails COMMAND_FAILED', async () => {
    const error = await rejection(runExecStep(exec(['sh', '-c', 'kill -SEGV $$']), makeContext()));
    assertCode(error, 'COMMAND_FAILED', /killed by SIGSEGV/);
  });

  test('a missing program fails COMMAND_FAILED: not found', async () => {
    const error = await rejection(runExecStep(exec(['/nonexistent/notify', 'nas']), makeContext()));
    assertCode(error, 'COMMAND_FAILED', /\/nonexistent\/notify not found/);
  });

  test('past its timeout the command and its grandchild are killed: TIMEOUT', async (t) => {
    const before = await activeResources();
    const reporter = await pidReporter(t);
    const run = timed(() => runExecStep(stubborn(reporter.fifo, false, { timeout: 400 }), makeContext()));
    const pids = await reporter.pids;
    const { ms, ...outcome } = await run;
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'TIMEOUT', /still running after 400 ms/);
    assert.ok(ms >= 400 - TIMER_SLACK_MS, `took ${ms} ms: less than its timeout`);
    // The command obeys SIGTERM: the step must not wait out the kill grace as well.
    assert.ok(
      ms < 400 + KILL_GRACE_MS,
      `took ${ms} ms: waited the kill grace for a command that obeyed SIGTERM`,
    );
    await assertDead(pids.leader, 'the command');
    await assertDead(pids.grandchild, 'the grandchild');
    assert.deepEqual(await activeResources(), before);
  });

  test('a command that ignores SIGTERM gets SIGKILL after the grace, with its grandchild', async (t) => {
    const reporter = await pidReporter(t);
    const run = timed(() => runExecStep(stubborn(reporter.fifo, true, { timeout: 300 }), makeContext()));
    const pids = await reporter.pids;
    const { ms, ...outcome } = await run;
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'TIMEOUT');
    // Two timers, each of which may fire a little early: the timeout, then the grace.
    assert.ok(ms >= 300 + KILL_GRACE_MS - 2 * TIMER_SLACK_MS, `took ${ms} ms: less than timeout + grace`);
    assert.ok(ms < 300 + KILL_GRACE_MS + LATE_MS, `took ${ms} ms`);
    await assertDead(pids.leader, 'the command');
    await assertDead(pids.grandchild, 'the grandchild');
  });

  test('a cancel kills the command and its grandchild and rejects with the reason', async (t) => {
    const reporter = await pidReporter(t);
    const controller = new AbortController();
    const reason = cancelled();
    const run = runExecStep(stubborn(reporter.fifo, false), makeContext({ signal: controller.signal }));
    const pids = await reporter.pids;
    controller.abort(reason);
    const { ms, ...outcome } = await timed(() => run);
    assert.deepEqual(outcome, { error: reason });
    // The command obeys SIGTERM: the step must not wait out the kill grace (nor its timeout, longer still).
    assert.ok(ms < KILL_GRACE_MS, `took ${ms} ms after the cancel: waited the kill grace?`);
    await assertDead(pids.leader, 'the command');
    await assertDead(pids.grandchild, 'the grandchild');
  });

  test('a background job left in the group is killed when the command exits', async () => {
    const result = await runExecStep(exec(['sh', '-c', 'sleep 1000 & echo $!']), makeContext());
    assert.match(result.summary, /^exit 0/);
    await assertDead(Number(result.output), 'the background job');
  });
});

// ---------------------------------------------------------------- waitHostDown / waitHostUp

const waitHost = (
  kind: 'waitHostDown' | 'waitHostUp',
  port: number,
  options: Partial<Step<'waitHostDown'>> = {},
): Step<'waitHostDown' | 'waitHostUp'> => ({
  kind,
  host: '127.0.0.1',
  port,
  interval: 50,
  timeout: 2000,
  ...options,
});

describe('waitHostDown / waitHostUp', () => {
  test('waitHostDown: a port with nothing behind it is down after the second probe, one interval later', async (t) => {
    const port = await freePort(t);
    // An interval long enough that one interval and two (a third probe) cannot be confused on a loaded machine.
    const interval = 500;
    const { ms, ...outcome } = await timed(() =>
      runWaitHostStep(waitHost('waitHostDown', port, { interval, timeout: LONG_MS }), makeContext()),
    );
    assert.ok('value' in outcome);
    assert.match(outcome.value.summary, /^down after \d+ ms$/);
    assert.ok(ms >= interval - TIMER_SLACK_MS, `took ${ms} ms: down on the first probe alone`);
    assert.ok(ms < 2 * interval, `took ${ms} ms: waited for a third probe`);
  });

  test('waitHostDown: the host answers, then stops: down once the listener is closed', async (t) => {
    const server = await listen(t);
    const closed = once(server, 'close');
    let probes = 0;
    server.on('connection', () => {
      // Close after a few answered probes: the host "shuts down" during the wait.
      if (++probes === 3) server.close();
    });
    const before = await activeResources();
    const result = await runWaitHostStep(waitHost('waitHostDown', server.port), makeContext());
    assert.equal(probes, 3);
    assert.match(result.summary, /^down after \d+ ms$/);
    await closed;
    assert.deepEqual(
      await activeResources(),
      before.filter((resource) => resource !== 'TCPServerWrap'),
    );
  });

  test('waitHostDown: a host that keeps answering fails HOST_STILL_UP within the timeout', async (t) => {
    const server = await listen(t);
    const { ms, ...outcome } = await timed(() =>
      runWaitHostStep(waitHost('waitHostDown', server.port, { timeout: 300 }), makeContext()),
    );
    assert.ok('error' in outcome);
    assertCode(
      outcome.error,
      'HOST_STILL_UP',
      new RegExp(`^waitHostDown 127\\.0\\.0\\.1:${server.port}: still up after \\d+ ms: .*kept accepting`),
    );
    assert.ok(ms >= 300 - TIMER_SLACK_MS, `took ${ms} ms: gave up before its timeout`);
    assert.ok(ms < 300 + LATE_MS, `took ${ms} ms`);
  });

  test('waitHostUp: up on the first connect once the host starts listening', async (t) => {
    const port = await freePort(t);
    let settled = false;
    const run = runWaitHostStep(waitHost('waitHostUp', port), makeContext()).finally(() => {
      settled = true;
    });
    // The host stays down for a few probes, then comes up.
    await abortableSleep(200, new AbortController().signal);
    assert.equal(settled, false, 'up while nothing listened');
    const server = await listen(t, port);
    const result = await run;
    assert.match(result.summary, /^up after \d+ ms$/);
    assert.ok(server.listening);
  });

  test('waitHostUp: a host that never answers fails HOST_STILL_DOWN within the timeout', async (t) => {
    const port = await freePort(t);
    const { ms, ...outcome } = await timed(() =>
      runWaitHostStep(waitHost('waitHostUp', port, { timeout: 250 }), makeContext()),
    );
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'HOST_STILL_DOWN', /still down after \d+ ms: connection refused$/);
    assert.ok(ms >= 250 - TIMER_SLACK_MS, `took ${ms} ms: gave up before its timeout`);
    assert.ok(ms < 250 + LATE_MS, `took ${ms} ms`);
  });

  test('a cancel during the wait rejects with the reason at once, leaving nothing behind', async (t) => {
    const server = await listen(t);
    const controller = new AbortController();
    const reason = cancelled();
    const before = await activeResources();
    // Between probes the step sleeps for the interval: a cancel must not wait it out, nor the timeout.
    const step = waitHost('waitHostDown', server.port, { interval: LONG_MS, timeout: LONG_MS });
    const run = timed(() => runWaitHostStep(step, makeContext({ signal: controller.signal })));
    await once(server, 'connection');
    controller.abort(reason);
    const { ms, ...outcome } = await run;
    assert.deepEqual(outcome, { error: reason });
    assert.ok(ms < WELL_UNDER_LONG_MS, `took ${ms} ms: waited for the interval or the timeout?`);
    assert.deepEqual(await activeResources(), before);
  });

  test('a cancel while a probe connects rejects with the reason', async (t) => {
    const port = await freePort(t);
    const controller = new AbortController();
    const reason = cancelled();
    const run = runWaitHostStep(waitHost('waitHostUp', port), makeContext({ signal: controller.signal }));
    controller.abort(reason);
    assert.equal(await rejection(run), reason);
  });
});

// ---------------------------------------------------------------- waitPowerBelow

const waitPower = (options: Partial<Step<'waitPowerBelow'>> = {}): Step<'waitPowerBelow'> => ({
  kind: 'waitPowerBelow',
  watts: 20,
  for: 100,
  timeout: 2000,
  ...options,
});

describe('waitPowerBelow', () => {
  test('succeeds once the power has stayed below the limit for `for`', async () => {
    const power = new FakePower(true, 80);
    const run = timed(() => runWaitPowerStep(waitPower(), makeContext({ power })));
    power.emit(60);
    const belowAt = performance.now();
    power.emit(3.25);
    power.emit(4);
    const { ms, ...outcome } = await run;
    assert.ok('value' in outcome);
    assert.match(outcome.value.summary, /^4 W \(below 20 W\) for 100 ms, after \d+ ms$/);
    assert.ok(performance.now() - belowAt >= 100 - TIMER_SLACK_MS, `after ${ms} ms`);
    assert.equal(power.subscribers, 0);
  });

  test('a reading at or above the limit resets the clock', async () => {
    const power = new FakePower(true, 5);
    const run = runWaitPowerStep(waitPower({ for: 150 }), makeContext({ power }));
    await abortableSleep(100, new AbortController().signal);
    power.emit(20); // at the limit: not below
    const resetAt = performance.now();
    power.emit(5);
    await run;
    const sinceReset = performance.now() - resetAt;
    assert.ok(sinceReset >= 150 - TIMER_SLACK_MS, `succeeded ${sinceReset.toFixed(0)} ms after the reset`);
  });

  test('the reading already there counts; with for: 0 the first reading below suffices', async () => {
    // No reading ever comes: a step that waited for one would time out (after LONG_MS) and fail.
    const { ms, ...outcome } = await timed(() =>
      runWaitPowerStep(
        waitPower({ for: 0, timeout: LONG_MS }),
        makeContext({ power: new FakePower(true, 1.04) }),
      ),
    );
    assert.ok('value' in outcome);
    assert.match(outcome.value.summary, /^1 W \(below 20 W\) for 0 ms/);
    assert.ok(ms < WELL_UNDER_LONG_MS, `took ${ms} ms`);

    const power = new FakePower(true, 50);
    const run = runWaitPowerStep(waitPower({ for: 0 }), makeContext({ power }));
    power.emit(19.9);
    await run;
  });

  test('power that stays on fails POWER_STILL_ON with the last reading and the limit', async () => {
    const power = new FakePower(true, 120);
    const run = timed(() => runWaitPowerStep(waitPower({ timeout: 200 }), makeContext({ power })));
    power.emit(95.44);
    const { ms, ...outcome } = await run;
    assert.ok('error' in outcome);
    assertCode(
      outcome.error,
      'POWER_STILL_ON',
      /socket 5 \(nas\) did not stay below 20 W for 100 ms within 200 ms: the last reading was 95\.4 W$/,
    );
    assert.ok(ms >= 200 - TIMER_SLACK_MS, `took ${ms} ms: gave up before its timeout`);
    assert.ok(ms < 200 + LATE_MS, `took ${ms} ms`);
    assert.equal(power.subscribers, 0);
  });

  test('no reading at all fails POWER_STILL_ON saying so', async () => {
    const error = await rejection(runWaitPowerStep(waitPower({ timeout: 50 }), makeContext()));
    assertCode(error, 'POWER_STILL_ON', /no power reading arrived$/);
  });

  test('a board without current telemetry fails NO_TELEMETRY at once', async () => {
    const power = new FakePower(false);
    const { ms, ...outcome } = await timed(() =>
      runWaitPowerStep(waitPower({ timeout: LONG_MS }), makeContext({ power })),
    );
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'NO_TELEMETRY', /reports no current/);
    assert.ok(ms < WELL_UNDER_LONG_MS, `took ${ms} ms: waited for the step's timeout?`);
    assert.equal(power.subscriptions, 0, 'it listened for readings');
    assert.equal(power.subscribers, 0);
  });

  test('a cancel mid-way rejects with the reason and unsubscribes', async () => {
    const power = new FakePower(true, 100);
    const controller = new AbortController();
    const reason = cancelled();
    const before = await activeResources();
    const run = runWaitPowerStep(waitPower(), makeContext({ power, signal: controller.signal }));
    power.emit(3); // the clock runs: its timer must go too
    controller.abort(reason);
    assert.equal(await rejection(run), reason);
    assert.equal(power.subscribers, 0);
    assert.deepEqual(await activeResources(), before);
  });
});

// ---------------------------------------------------------------- delay, and cancels before the start

describe('delay', () => {
  test('waits its duration', async () => {
    const { ms, ...outcome } = await timed(() =>
      runDelayStep({ kind: 'delay', duration: 80 }, makeContext()),
    );
    assert.deepEqual(outcome, { value: { summary: 'waited 80 ms' } });
    assert.ok(ms >= 80 - TIMER_SLACK_MS, `took ${ms} ms: less than its duration`);
    assert.ok(ms < 80 + LATE_MS, `took ${ms} ms`);
  });

  test('a cancel mid-way rejects with the reason at once, leaving no timer', async () => {
    const controller = new AbortController();
    const reason = cancelled();
    const before = await activeResources();
    const run = timed(() =>
      runDelayStep({ kind: 'delay', duration: 60_000 }, makeContext({ signal: controller.signal })),
    );
    setImmediate(() => controller.abort(reason));
    const { ms, ...outcome } = await run;
    assert.deepEqual(outcome, { error: reason });
    assert.ok(ms < WELL_UNDER_LONG_MS, `took ${ms} ms: waited out the delay?`);
    assert.deepEqual(await activeResources(), before);
  });
});

test('every step rejects with the reason, doing nothing, when the signal is already aborted', async () => {
  const reason = cancelled();
  const signal = AbortSignal.abort(reason);
  const power = new FakePower(true, 1);
  const steps: HookStep[] = [
    exec(['/nonexistent/never-run']),
    waitHost('waitHostDown', 1),
    waitHost('waitHostUp', 1),
    waitPower({ for: 0 }),
    { kind: 'delay', duration: 10 },
  ];
  const runners = {
    exec: runExecStep,
    waitHostDown: runWaitHostStep,
    waitHostUp: runWaitHostStep,
    waitPowerBelow: runWaitPowerStep,
    delay: runDelayStep,
  } as Record<string, (step: HookStep, context: StepContext) => Promise<unknown>>;
  for (const step of steps) {
    assert.equal(
      await rejection(runners[step.kind]!(step, makeContext({ signal, power }))),
      reason,
      step.kind,
    );
  }
  assert.equal(power.subscribers, 0);
});

test('formatMs writes durations for people', () => {
  assert.deepEqual([12.4, 999, 3240, 41_000, 120_000, 90_000].map(formatMs), [
    '12 ms',
    '999 ms',
    '3.2 s',
    '41 s',
    '2 min',
    '1.5 min',
  ]);
});
