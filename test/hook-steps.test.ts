import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
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

/** Power readings the test emits by hand. */
class FakePower implements PowerReadings {
  private readonly emitter = new EventEmitter();
  constructor(
    readonly available = true,
    private current: number | null = null,
  ) {}
  latest(): number | null {
    return this.current;
  }
  subscribe(listener: (watts: number) => void): () => void {
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

/** Runs `promise`, returning how it settled and how long it took. */
async function timed<T>(promise: Promise<T>): Promise<{ ms: number } & ({ value: T } | { error: unknown })> {
  const started = performance.now();
  try {
    const value = await promise;
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
 * after it is sent (the kernel finishes the exit), so a process still
 * exiting gets a few milliseconds.
 */
async function assertDead(pid: number, what: string): Promise<void> {
  const deadline = performance.now() + 200;
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
 * A command that starts a grandchild (`sleep`, holding the command's output
 * pipes), reports both pids to the test over TCP, then waits forever. With
 * `ignoreTerm` both ignore SIGTERM, so only SIGKILL ends them.
 */
const STUBBORN_SCRIPT = `
const { spawn } = require('node:child_process');
const net = require('node:net');
const [port, ignoreTerm] = process.argv.slice(1);
if (ignoreTerm === '1') process.on('SIGTERM', () => {});
const script = (ignoreTerm === '1' ? 'trap "" TERM; ' : '') + 'sleep 1000';
const grandchild = spawn('sh', ['-c', script], { stdio: ['ignore', 'inherit', 'inherit'] });
const report = net.connect(Number(port), '127.0.0.1', () =>
  report.end(JSON.stringify({ leader: process.pid, grandchild: grandchild.pid })),
);
setInterval(() => {}, 60_000);
`;

/** Starts a pid reporter: resolves `pids` with what the stubborn command sends. */
async function pidReporter(t: TestContext) {
  const server = await listen(t, 0, createServer());
  const pids = once(server, 'connection').then(async ([socket]) => {
    let text = '';
    for await (const chunk of socket) text += chunk;
    return JSON.parse(text) as { leader: number; grandchild: number };
  });
  return { port: server.port, pids };
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
    const reporter = await pidReporter(t);
    const before = await activeResources();
    const run = timed(
      runExecStep(
        exec([process.execPath, '-e', STUBBORN_SCRIPT, String(reporter.port), '0'], { timeout: 400 }),
        makeContext(),
      ),
    );
    const pids = await reporter.pids;
    const { ms, ...outcome } = await run;
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'TIMEOUT', /still running after 400 ms/);
    assert.ok(ms >= 400 && ms < 400 + KILL_GRACE_MS, `took ${ms} ms`);
    await assertDead(pids.leader, 'the command');
    await assertDead(pids.grandchild, 'the grandchild');
    assert.deepEqual(await activeResources(), before);
  });

  test('a command that ignores SIGTERM gets SIGKILL after the grace, with its grandchild', async (t) => {
    const reporter = await pidReporter(t);
    const run = timed(
      runExecStep(
        exec([process.execPath, '-e', STUBBORN_SCRIPT, String(reporter.port), '1'], { timeout: 300 }),
        makeContext(),
      ),
    );
    const pids = await reporter.pids;
    const { ms, ...outcome } = await run;
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'TIMEOUT');
    assert.ok(ms >= 300 + KILL_GRACE_MS - 5 && ms < 300 + KILL_GRACE_MS + 500, `took ${ms} ms`);
    await assertDead(pids.leader, 'the command');
    await assertDead(pids.grandchild, 'the grandchild');
  });

  test('a cancel kills the command and its grandchild and rejects with the reason', async (t) => {
    const reporter = await pidReporter(t);
    const controller = new AbortController();
    const reason = cancelled();
    const run = runExecStep(
      exec([process.execPath, '-e', STUBBORN_SCRIPT, String(reporter.port), '0']),
      makeContext({ signal: controller.signal }),
    );
    const pids = await reporter.pids;
    controller.abort(reason);
    const { ms, ...outcome } = await timed(run);
    assert.deepEqual(outcome, { error: reason });
    assert.ok(ms < 200, `took ${ms} ms`);
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
    const { ms, ...outcome } = await timed(runWaitHostStep(waitHost('waitHostDown', port), makeContext()));
    assert.ok('value' in outcome);
    assert.match(outcome.value.summary, /^down after \d+ ms$/);
    assert.ok(ms >= 45 && ms < 300, `took ${ms} ms`);
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
    const { ms, ...outcome } = await timed(
      runWaitHostStep(waitHost('waitHostDown', server.port, { timeout: 300 }), makeContext()),
    );
    assert.ok('error' in outcome);
    assertCode(
      outcome.error,
      'HOST_STILL_UP',
      new RegExp(`^waitHostDown 127\\.0\\.0\\.1:${server.port}: still up after \\d+ ms: .*kept accepting`),
    );
    assert.ok(ms >= 300 && ms < 450, `took ${ms} ms`);
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
    const { ms, ...outcome } = await timed(
      runWaitHostStep(waitHost('waitHostUp', port, { timeout: 250 }), makeContext()),
    );
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'HOST_STILL_DOWN', /still down after \d+ ms: connection refused$/);
    assert.ok(ms >= 250 && ms < 400, `took ${ms} ms`);
  });

  test('a cancel during the wait rejects with the reason at once, leaving nothing behind', async (t) => {
    const server = await listen(t);
    const controller = new AbortController();
    const reason = cancelled();
    const before = await activeResources();
    const run = timed(
      runWaitHostStep(waitHost('waitHostDown', server.port), makeContext({ signal: controller.signal })),
    );
    await once(server, 'connection');
    controller.abort(reason);
    const { ms, ...outcome } = await run;
    assert.deepEqual(outcome, { error: reason });
    assert.ok(ms < 100, `took ${ms} ms`);
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
    const run = timed(runWaitPowerStep(waitPower(), makeContext({ power })));
    power.emit(60);
    const belowAt = performance.now();
    power.emit(3.25);
    power.emit(4);
    const { ms, ...outcome } = await run;
    assert.ok('value' in outcome);
    assert.match(outcome.value.summary, /^4 W \(below 20 W\) for 100 ms, after \d+ ms$/);
    assert.ok(performance.now() - belowAt >= 99, `after ${ms} ms`);
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
    assert.ok(sinceReset >= 149, `succeeded ${sinceReset.toFixed(0)} ms after the reset`);
  });

  test('the reading already there counts; with for: 0 the first reading below suffices', async () => {
    const { ms, ...outcome } = await timed(
      runWaitPowerStep(waitPower({ for: 0 }), makeContext({ power: new FakePower(true, 1.04) })),
    );
    assert.ok('value' in outcome);
    assert.match(outcome.value.summary, /^1 W \(below 20 W\) for 0 ms/);
    assert.ok(ms < 20);

    const power = new FakePower(true, 50);
    const run = runWaitPowerStep(waitPower({ for: 0 }), makeContext({ power }));
    power.emit(19.9);
    await run;
  });

  test('power that stays on fails POWER_STILL_ON with the last reading and the limit', async () => {
    const power = new FakePower(true, 120);
    const run = timed(runWaitPowerStep(waitPower({ timeout: 200 }), makeContext({ power })));
    power.emit(95.44);
    const { ms, ...outcome } = await run;
    assert.ok('error' in outcome);
    assertCode(
      outcome.error,
      'POWER_STILL_ON',
      /socket 5 \(nas\) did not stay below 20 W for 100 ms within 200 ms: the last reading was 95\.4 W$/,
    );
    assert.ok(ms >= 199 && ms < 300, `took ${ms} ms`);
    assert.equal(power.subscribers, 0);
  });

  test('no reading at all fails POWER_STILL_ON saying so', async () => {
    const error = await rejection(runWaitPowerStep(waitPower({ timeout: 50 }), makeContext()));
    assertCode(error, 'POWER_STILL_ON', /no power reading arrived$/);
  });

  test('a board without current telemetry fails NO_TELEMETRY at once', async () => {
    const power = new FakePower(false);
    const { ms, ...outcome } = await timed(runWaitPowerStep(waitPower(), makeContext({ power })));
    assert.ok('error' in outcome);
    assertCode(outcome.error, 'NO_TELEMETRY', /reports no current/);
    assert.ok(ms < 20);
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
    const { ms, ...outcome } = await timed(runDelayStep({ kind: 'delay', duration: 80 }, makeContext()));
    assert.deepEqual(outcome, { value: { summary: 'waited 80 ms' } });
    assert.ok(ms >= 79 && ms < 200, `took ${ms} ms`);
  });

  test('a cancel mid-way rejects with the reason at once, leaving no timer', async () => {
    const controller = new AbortController();
    const reason = cancelled();
    const before = await activeResources();
    const run = timed(
      runDelayStep({ kind: 'delay', duration: 60_000 }, makeContext({ signal: controller.signal })),
    );
    setImmediate(() => controller.abort(reason));
    const { ms, ...outcome } = await run;
    assert.deepEqual(outcome, { error: reason });
    assert.ok(ms < 50);
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
