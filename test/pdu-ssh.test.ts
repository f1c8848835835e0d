import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { PduError } from '../src/errors.js';
import { ALICE, once, serialDaemon } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';
import { type SshServer, startSshd } from './helpers/sshd.js';

// Power hooks with every part real: a real OpenSSH sshd on 127.0.0.1 runs the
// "shutdown", a TCP listener plays the machine, and the board is the simulator
// process behind a socat pty, driven through serialport by the prp1 driver.

let sshd: SshServer;
let work: string;
before(async () => {
  sshd = await startSshd();
  work = await mkdtemp(join(tmpdir(), 'pipdu-ssh-hooks-'));
});
after(async () => {
  await sshd?.stop();
  await rm(work, { recursive: true, force: true });
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function simulator(): Promise<SimulatorProcess> {
  const sim = await startSimulator();
  cleanups.push(() => sim.stop());
  return sim;
}

function sshStep(command: string, extra = ''): string {
  return `      - ssh: { host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user}, key: ${sshd.keyPath}, hostKey: "${sshd.hostKeyLine}", command: "${command}", timeout: 10s${extra} }`;
}

/** Every relay-changing line the board received since index `since` of its events. */
function switching(sim: SimulatorProcess, since = 0): string[] {
  return sim.events
    .slice(since)
    .filter((event) => event.event === 'request' && / (SET|MASK) /.test(String(event.line)))
    .map((event) => String(event.line).split(' ').slice(1).join(' '));
}

test('off over ssh: the shutdown runs, the host goes down, and only then is the relay cut', async () => {
  const machine = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => machine.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => machine.close(resolve)));
  const { port } = machine.address() as { port: number };
  const marker = join(work, 'shutdown-requested');

  const sim = await simulator();
  const service = await serialDaemon(
    sim.path,
    `sockets:
  - number: 5
    name: nas
    preOff:
${sshStep(`echo going down > ${marker}`)}
      - waitHostDown: { host: 127.0.0.1, port: ${port}, interval: 50ms, timeout: 30s }
`,
    cleanups,
  );
  await requests(service).on('nas', ALICE);
  await sim.command('delay 0'); // a round trip to the simulator: its request log is up to date
  const since = sim.events.length;

  // The stand-in shutdown writes its marker; the machine then "powers off" (its listener closes).
  const shutdownRan = new Promise<void>((resolve) => {
    const watcher = watch(work, (_event, name) => {
      if (name !== 'shutdown-requested') return;
      watcher.close();
      resolve();
    });
  });
  const waitingForHost = once(
    service,
    'step',
    ({ step }) => step.kind === 'waitHostDown' && step.status === 'running',
  );
  const off = requests(service).off('nas', ALICE, { reason: 'maintenance' });
  await shutdownRan;
  await waitingForHost;
  assert.equal(service.info('nas').on, true, 'still on while the host is up');
  assert.equal(service.info('nas').pending?.step?.kind, 'waitHostDown');
  machine.close();
  const result = await off;

  assert.equal(result.socket.on, false);
  assert.deepEqual(
    result.steps.map((step) => `${step.kind}:${step.status}`),
    ['ssh:ok', 'waitHostDown:ok'],
  );
  // On the board side: exactly one switch, the cut of channel 4, after the hooks.
  await sim.waitFor(
    (event) => event.event === 'request' && String(event.line).endsWith('SET 4 0'),
    5000,
    since,
  );
  assert.deepEqual(switching(sim, since), ['SET 4 0']);
  const [entry] = await service.auditLog(1);
  assert.equal(entry?.details?.reason, 'maintenance');
});

test('a host key that is not the pinned one is refused and the relay is untouched', async () => {
  const sim = await simulator();
  const otherKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3R0dGvV5Ly6mL2bPqQyHkqWq1V6Fh2X9bQ0sYk3tZp';
  const service = await serialDaemon(
    sim.path,
    `sockets:
  - number: 2
    preOff:
      - ssh: { host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user}, key: ${sshd.keyPath}, hostKey: "${otherKey}", command: "true" }
`,
    cleanups,
  );
  await requests(service).on(2, ALICE);
  await sim.command('delay 0');
  const since = sim.events.length;
  await assert.rejects(
    () => requests(service).off(2, ALICE),
    (error: PduError) => error.code === 'SSH_HOST_KEY_MISMATCH' && /preOff step 1 of 1/.test(error.message),
  );
  assert.equal(service.info(2).on, true);
  await sim.command('delay 0'); // a round trip to the simulator: its request log is up to date
  assert.deepEqual(switching(sim, since), []);
});

test('a key the host does not accept fails SSH_AUTH_FAILED and the relay is untouched', async () => {
  const stranger = join(work, 'stranger');
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
  const sim = await simulator();
  const service = await serialDaemon(
    sim.path,
    `sockets:
  - number: 3
    preOff:
      - ssh: { host: 127.0.0.1, port: ${sshd.port}, user: ${sshd.user}, key: ${stranger}, hostKey: "${sshd.hostKeyLine}", command: "true" }
`,
    cleanups,
  );
  await requests(service).on(3, ALICE);
  await sim.command('delay 0');
  const since = sim.events.length;
  await assert.rejects(
    () => requests(service).off(3, ALICE),
    (error: PduError) => error.code === 'SSH_AUTH_FAILED',
  );
  assert.equal(service.info(3).on, true);
  await sim.command('delay 0');
  assert.deepEqual(switching(sim, since), []);
});
