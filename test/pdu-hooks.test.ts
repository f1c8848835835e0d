import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import type { SimulatedBoard } from '../hardware/simulated-board.js';
import type { HookStepError, PduError } from '../src/errors.js';
import type { StepReport } from '../src/pdu/hooks/phase.js';
import { ALICE, once, PduFixture } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// Hook pipelines on the Pdu service, with real steps: real child processes
// for exec, real TCP listeners playing the hosts, the PRP/1 simulator as the
// board. (SSH against a real sshd: test/pdu-ssh.test.ts.)

const BOB = { kind: 'discord', id: '222', name: 'bob' } as const;

let scripts: string;
before(async () => {
  scripts = await mkdtemp(join(tmpdir(), 'pipdu-hook-scripts-'));
  await script('ok', 'echo "hello from $1"');
  await script('fail', 'echo "disk busy" >&2; exit 3');
  await script('mark', 'echo "$2" >> "$1"');
});
after(async () => {
  await rm(scripts, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const path = join(scripts, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

let fixture: PduFixture | null = null;
const listeners: Server[] = [];
afterEach(async () => {
  await fixture?.dispose();
  fixture = null;
  for (const server of listeners.splice(0)) server.close();
});

async function started(sockets: string): Promise<PduFixture> {
  fixture = await PduFixture.create(`sockets:\n${sockets}`);
  await fixture.startDaemon();
  return fixture;
}

/** A TCP listener on 127.0.0.1 playing a host that is up; close() takes it down. */
async function host(): Promise<{ port: number; down: () => Promise<void> }> {
  const server = createServer((socket) => socket.destroy());
  listeners.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { port, down: () => new Promise((resolve) => server.close(() => resolve())) };
}

function relays(f: PduFixture): number {
  return (f.sim as SimulatedBoard).relays;
}

function statuses(steps: StepReport[]): string[] {
  return steps.map((step) => `${step.phase}:${step.kind}:${step.status}`);
}

test('off runs preOff steps in order, then cuts, then postOff; progress is emitted and audited', async () => {
  const log = join(scripts, 'order.log');
  const f = await started(`
  - number: 2
    name: nas
    preOff:
      - exec: { argv: [${join(scripts, 'mark')}, ${log}, pre1] }
      - exec: { argv: [${join(scripts, 'ok')}, nas] }
    postOff:
      - exec: { argv: [${join(scripts, 'mark')}, ${log}, post] }
`);
  await requests(f.service).on('nas', ALICE);
  const progress: string[] = [];
  f.service.events.on('step', ({ step }) =>
    progress.push(`${step.index}/${step.total} ${step.phase} ${step.status}`),
  );
  const from = f.received.length;
  const result = await requests(f.service).off('nas', ALICE);
  assert.equal(result.socket.on, false);
  assert.deepEqual(statuses(result.steps), ['preOff:exec:ok', 'preOff:exec:ok', 'postOff:exec:ok']);
  assert.equal(result.steps[1]?.output, 'hello from nas');
  assert.deepEqual(progress, [
    '1/2 preOff running',
    '1/2 preOff ok',
    '2/2 preOff running',
    '2/2 preOff ok',
    '1/1 postOff running',
    '1/1 postOff ok',
  ]);
  assert.equal((await readFile(log, 'utf8')).trim(), 'pre1\npost');
  assert.deepEqual(f.switchingLines(from), [f.linesSince(from).find((line) => line.endsWith('SET 1 0'))]);
  const [entry] = await f.service.auditLog(1);
  assert.equal(entry?.action, 'off');
  assert.equal(entry?.result, 'ok');
  assert.equal((entry?.details?.steps as StepReport[] | undefined)?.length, 3);
});

test('a failed pre-step aborts: the relay is not touched and the error names the step', async () => {
  const f = await started(`
  - number: 3
    preOff:
      - exec: { argv: [${join(scripts, 'ok')}, x] }
      - exec: { argv: [${join(scripts, 'fail')}] }
      - exec: { argv: [${join(scripts, 'ok')}, never] }
`);
  await requests(f.service).on(3, ALICE);
  const from = f.received.length;
  await assert.rejects(
    () => requests(f.service).off(3, ALICE),
    (error: HookStepError) =>
      error.code === 'COMMAND_FAILED' && /preOff step 2 of 3 \(exec .*fail\) failed/.test(error.message),
  );
  assert.deepEqual(f.switchingLines(from), [], 'no SET was sent');
  assert.equal(f.service.info(3).on, true);
  const [entry] = await f.service.auditLog(1);
  assert.equal(entry?.result, 'error');
  assert.equal(entry?.code, 'COMMAND_FAILED');
  assert.deepEqual(statuses((entry?.details?.steps ?? []) as StepReport[]), [
    'preOff:exec:ok',
    'preOff:exec:failed',
    'preOff:exec:skipped',
  ]);
  assert.match((entry?.details?.steps as StepReport[] | undefined)?.[1]?.output ?? '', /disk busy/);
});

test('onFailure: continue turns a failed pre-step into a warning and switches', async () => {
  const f = await started(`
  - number: 4
    onFailure: continue
    preOff:
      - exec: { argv: [${join(scripts, 'fail')}] }
`);
  await requests(f.service).on(4, ALICE);
  const result = await requests(f.service).off(4, ALICE);
  assert.equal(result.socket.on, false);
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0] ?? '', /preOff step 1 of 1 .* failed/);
});

test('a failed post-step is a warning: the switch happened and is reported', async () => {
  const f = await started(`
  - number: 5
    postOn:
      - exec: { argv: [${join(scripts, 'fail')}] }
      - exec: { argv: [${join(scripts, 'ok')}, later] }
`);
  const result = await requests(f.service).on(5, ALICE);
  assert.equal(result.socket.on, true);
  assert.deepEqual(statuses(result.steps), ['postOn:exec:failed', 'postOn:exec:skipped']);
  assert.match(result.warnings[0] ?? '', /postOn step 1 of 2/);
});

test('cancel during waitHostDown ends the pipeline: the relay stays on, and the socket is free again', async () => {
  const machine = await host();
  const f = await started(`
  - number: 6
    name: web
    preOff:
      - waitHostDown: { host: 127.0.0.1, port: ${machine.port}, interval: 50ms, timeout: 1m }
`);
  await requests(f.service).on('web', ALICE);
  const from = f.received.length;
  const waiting = once(
    f.service,
    'step',
    ({ step }) => step.kind === 'waitHostDown' && step.status === 'running',
  );
  const off = requests(f.service).off('web', ALICE);
  await waiting;
  const pending = await requests(f.service).cancel('web', BOB);
  assert.equal(pending.action, 'off');
  await assert.rejects(
    off,
    (error: PduError) => error.code === 'CANCELLED' && /discord:bob/.test(error.message),
  );
  assert.deepEqual(f.switchingLines(from), []);
  assert.equal(f.service.info('web').on, true);
  assert.equal(f.service.info('web').pending, null);
  await assert.rejects(
    () => requests(f.service).cancel('web', BOB),
    (error: PduError) => error.code === 'BAD_REQUEST',
  );
  // Nothing is left pending: a new off runs (and the host goes down this time).
  const second = requests(f.service).off('web', ALICE);
  await machine.down();
  assert.equal((await second).socket.on, false);
  const audit = await f.service.auditLog(3);
  assert.deepEqual(
    audit.map((entry) => [entry.action, entry.result, entry.code]),
    [
      ['cancel', 'ok', undefined],
      ['off', 'error', 'CANCELLED'],
      ['off', 'ok', undefined],
    ],
  );
});

test('while a pipeline runs, the same direction joins it and the other is refused BUSY', async () => {
  const machine = await host();
  const f = await started(`
  - number: 7
    name: db
    preOff:
      - waitHostDown: { host: 127.0.0.1, port: ${machine.port}, interval: 50ms, timeout: 1m }
`);
  await requests(f.service).on('db', ALICE);
  const from = f.received.length;
  const running = once(f.service, 'step', ({ step }) => step.status === 'running');
  const first = requests(f.service).off('db', ALICE);
  await running;
  const joined = requests(f.service).off('db', BOB);
  await assert.rejects(
    () => requests(f.service).on('db', BOB),
    (error: PduError) =>
      error.code === 'BUSY' &&
      /off by api:alice-laptop pending since .*wait for 127\.0\.0\.1:\d+ to go down/.test(error.message),
  );
  await machine.down();
  const [a, b] = await Promise.all([first, joined]);
  assert.equal(a, b, 'the joined request gets the running one’s result');
  assert.equal(f.switchingLines(from).length, 1, 'one SET for both');
  const audit = (await f.service.auditLog(3)).map((entry) => [
    entry.actor.id,
    entry.action,
    entry.code ?? 'ok',
    entry.details?.joined ?? null,
  ]);
  assert.deepEqual(
    audit.sort((x, y) => String(x).localeCompare(String(y))),
    [
      ['222', 'off', 'ok', 'off by api:alice-laptop'],
      ['222', 'on', 'BUSY', null],
      ['alice-laptop', 'off', 'ok', null],
    ],
    'the refusal and the joined request are audited too',
  );
});

test('force skips the preOff steps, also when it joins an off already waiting on them', async () => {
  const machine = await host();
  const f = await started(`
  - number: 8
    preOff:
      - waitHostDown: { host: 127.0.0.1, port: ${machine.port}, interval: 50ms, timeout: 1m }
`);
  await requests(f.service).on(8, ALICE);
  const forced = await requests(f.service).off(8, BOB, { force: true, reason: 'hung' });
  assert.equal(forced.socket.on, false);
  assert.deepEqual(statuses(forced.steps), ['preOff:waitHostDown:skipped']);
  assert.deepEqual(forced.forcedBy, BOB);
  const [entry] = await f.service.auditLog(1);
  assert.equal(entry?.details?.force, true);
  assert.equal(entry?.details?.forcedBy, 'discord:bob');

  await requests(f.service).on(8, ALICE);
  const running = once(f.service, 'step', ({ step }) => step.status === 'running');
  const polite = requests(f.service).off(8, ALICE);
  await running;
  const impatient = requests(f.service).off(8, BOB, { force: true });
  const [a, b] = await Promise.all([polite, impatient]);
  assert.equal(a, b);
  assert.equal(a.socket.on, false);
  assert.deepEqual(statuses(a.steps), ['preOff:waitHostDown:skipped']);
  assert.deepEqual(a.forcedBy, BOB);
});

test('cycle runs preOff, off, postOff, the off-time, preOn, on, postOn in that order', async () => {
  const log = join(scripts, 'cycle.log');
  const mark = (word: string) => `      - exec: { argv: [${join(scripts, 'mark')}, ${log}, ${word}] }`;
  const f = await started(`
  - number: 9
    offTime: 100ms
    preOff:
${mark('preOff')}
    postOff:
${mark('postOff')}
    preOn:
${mark('preOn')}
    postOn:
${mark('postOn')}
`);
  await requests(f.service).on(9, ALICE);
  await rm(log, { force: true });
  const from = f.received.length;
  const order: string[] = [];
  f.service.events.on('step', ({ step }) => {
    if (step.status === 'ok') order.push(step.phase);
  });
  f.service.events.on('socketChanged', ({ socket }) => order.push(socket.on ? 'on' : 'off'));
  const result = await requests(f.service).cycle(9, ALICE);
  assert.deepEqual(order, ['preOff', 'off', 'postOff', 'preOn', 'on', 'postOn']);
  assert.equal((await readFile(log, 'utf8')).trim().split('\n').join(' '), 'preOff postOff preOn postOn');
  assert.equal(result.socket.on, true);
  const sets = f.received.slice(from).filter((entry) => entry.line.includes(' SET 8 '));
  assert.ok(sets[1]!.at - sets[0]!.at >= 100, 'the off-time passed between off and on');
});

test('all-off runs hooks in parallel, cuts each socket as its pipeline ends, one result per socket', async () => {
  const slow = await host();
  const f = await started(`
  - number: 1
    preOff:
      - exec: { argv: [${join(scripts, 'ok')}, one] }
  - number: 2
    preOff:
      - exec: { argv: [${join(scripts, 'fail')}] }
  - number: 3
    preOff:
      - waitHostDown: { host: 127.0.0.1, port: ${slow.port}, interval: 50ms, timeout: 1m }
  - { number: 4, protected: true }
`);
  await requests(f.service).allOn(ALICE);
  let cut1BeforeHost3Down = false;
  f.service.events.on('socketChanged', ({ socket }) => {
    if (socket.number === 1 && socket.on === false) cut1BeforeHost3Down = f.service.info(3).on === true;
  });
  const started3 = once(
    f.service,
    'step',
    ({ socket, step }) => socket.number === 3 && step.status === 'running',
  );
  const cut1 = once(f.service, 'socketChanged', ({ socket }) => socket.number === 1 && socket.on === false);
  const all = requests(f.service).allOff(ALICE);
  await started3;
  await cut1;
  await slow.down();
  const result = await all;
  assert.ok(cut1BeforeHost3Down, 'socket 1 was cut while socket 3 still waited for its host');
  assert.deepEqual(result.skipped, [4]);
  const byNumber = new Map(result.outcomes.map((outcome) => [outcome.socket, outcome]));
  assert.equal(byNumber.get(1)?.ok, true);
  assert.equal(byNumber.get(2)?.ok, false);
  const failed = byNumber.get(2);
  assert.equal(failed?.ok === false ? failed.error.code : null, 'COMMAND_FAILED');
  assert.equal(byNumber.get(3)?.ok, true);
  assert.equal(result.outcomes.length, 15);
  assert.equal(relays(f), (1 << 1) | (1 << 3), 'socket 2 (hook failed) and 4 (protected) stay on');
  const [summary] = await f.service.auditLog(1);
  assert.equal(summary?.action, 'all-off');
  assert.equal(summary?.result, 'error');
});

test('the pipeline timeout (hookTimeout) ends a pipeline whose steps would wait longer', async () => {
  const machine = await host();
  const f = await started(`
  - number: 10
    hookTimeout: 200ms
    preOff:
      - waitHostDown: { host: 127.0.0.1, port: ${machine.port}, interval: 50ms, timeout: 1m }
`);
  await requests(f.service).on(10, ALICE);
  const t0 = performance.now();
  await assert.rejects(
    () => requests(f.service).off(10, ALICE),
    (error: PduError) => error.code === 'TIMEOUT' && /hookTimeout/.test(error.message),
  );
  assert.ok(performance.now() - t0 < 30_000, 'ended by hookTimeout, not by the step timeout (1 min)');
  assert.equal(f.service.info(10).on, true);
});

test('waitPowerBelow follows the board telemetry; a board without current fails it with NO_TELEMETRY', async () => {
  const f = await started(`
  - number: 11
    preOff:
      - waitPowerBelow: { watts: 5000, for: 120ms, timeout: 5s }
`);
  await requests(f.service).on(11, ALICE);
  const result = await requests(f.service).off(11, ALICE);
  assert.deepEqual(statuses(result.steps), ['preOff:waitPowerBelow:ok']);
  assert.equal(f.service.info(11).on, false);
  await f.dispose();

  const g = await PduFixture.create(
    'sockets:\n  - number: 11\n    preOff:\n      - waitPowerBelow: { watts: 20, for: 1s, timeout: 5s }\n',
    { sim: { features: ['persist'] } },
  );
  fixture = g;
  await g.startDaemon();
  await requests(g.service).on(11, ALICE);
  await assert.rejects(
    () => requests(g.service).off(11, ALICE),
    (error: PduError) => error.code === 'NO_TELEMETRY' && /preOff step 1 of 1/.test(error.message),
  );
  assert.equal(g.service.info(11).on, true);
});

test('stopping the daemon cancels a running pipeline and switches nothing', async () => {
  const machine = await host();
  const f = await started(`
  - number: 12
    preOff:
      - waitHostDown: { host: 127.0.0.1, port: ${machine.port}, interval: 50ms, timeout: 1m }
`);
  await requests(f.service).on(12, ALICE);
  const from = f.received.length;
  const running = once(f.service, 'step', ({ step }) => step.status === 'running');
  const off = requests(f.service).off(12, ALICE);
  await running;
  const stopped = f.service.stop();
  await assert.rejects(off, (error: PduError) => error.code === 'STOPPED');
  await stopped;
  assert.deepEqual(f.switchingLines(from), []);
  assert.equal(relays(f) & (1 << 11), 1 << 11);
});
