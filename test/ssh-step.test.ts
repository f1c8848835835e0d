import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { HookStep } from '../src/config/schema.js';
import { HookStepError, PduError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { fingerprint, lookupKnownHosts, parsePublicKey } from '../src/pdu/hooks/known-hosts.js';
import { runSshStep } from '../src/pdu/hooks/ssh-step.js';
import { MAX_OUTPUT, type StepContext } from '../src/pdu/hooks/step.js';
import { type SshServer, startSshd } from './helpers/sshd.js';

const run = promisify(execFile);

type SshStep = Extract<HookStep, { kind: 'ssh' }>;

let sshd: SshServer;
/** Keys, known_hosts files and listeners of this file's own. */
let scratch: string;

before(async () => {
  sshd = await startSshd();
  scratch = await mkdtemp(path.join(os.tmpdir(), 'pipdu-ssh-test-'));
});

after(async () => {
  await sshd?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

/*
 * Time in these tests: the machines are shared and loaded, so no assertion
 * bounds how fast something runs. A timeout that fires is checked from
 * below, allowing TIMER_SLACK_MS, and only loosely from above (LATE_MS):
 * that it ended is the point. What must not happen (waiting out a long
 * timeout on a refused connection) is checked against that wrong
 * alternative, made long; a cancel, by what it must not wait for at all.
 */

/**
 * How much earlier than its delay a timer may fire, as performance.now()
 * measures it: Node truncates the delay to whole milliseconds and counts it
 * on a whole-millisecond clock, each worth up to a millisecond short.
 */
const TIMER_SLACK_MS = 2;
/** How long past its own timeout a step may end on a loaded machine: only a bound against never ending. */
const LATE_MS = 3000;
/** A step timeout no test waits out: a step that waited for it has done the wrong thing. */
const LONG_MS = 30_000;
/** Well under LONG_MS, however loaded the machine: what ended sooner did not wait for it. */
const WELL_UNDER_LONG_MS = 5000;

function makeContext(options: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}): StepContext {
  return {
    socket: { number: 5, name: 'nas' },
    signal: options.signal ?? new AbortController().signal,
    logger: silentLogger(),
    power: { available: false, latest: () => null, subscribe: () => () => {} },
    env: options.env ?? {},
  };
}

function sshStep(overrides: Partial<SshStep> = {}): SshStep {
  return {
    kind: 'ssh',
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    key: sshd.keyPath,
    hostKey: sshd.hostKeyLine,
    command: 'true',
    timeout: 10_000,
    expectDisconnect: false,
    allowFailure: false,
    ...overrides,
  };
}

/** Runs the step and returns its HookStepError (failing the test if it resolves or throws something else). */
async function failure(step: SshStep, context = makeContext()): Promise<HookStepError> {
  try {
    const result = await runSshStep(step, context);
    assert.fail(`expected a failure, got ${JSON.stringify(result)}`);
  } catch (error) {
    if (!(error instanceof HookStepError)) throw error;
    return error;
  }
}

async function elapsed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function newKey(name: string, passphrase = ''): Promise<string> {
  const file = path.join(scratch, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', file]);
  return file;
}

/** What `ssh-keygen -l` says the server's ed25519 host key's fingerprint is. */
async function serverFingerprint(): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-f', path.join(sshd.dir, 'ssh_host_ed25519_key.pub')]);
  return stdout.split(' ')[1]!;
}

/** A command line unique to one test, so its processes can be found (the sshd runs on this machine). */
function marker(): string {
  return `sleep 86${randomInt(100_000, 999_999)}`;
}

/** Pids of processes whose command line contains `text`. */
async function processesWith(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Polls until `check` is true, failing after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let noPtyKeyPath: Promise<string> | undefined;

/** A client key authorized with the `no-pty` option. */
function noPtyKey(): Promise<string> {
  noPtyKeyPath ??= (async () => {
    const key = await newKey('no-pty');
    const line = await readFile(`${key}.pub`, 'utf8');
    await appendFile(path.join(sshd.dir, 'authorized_keys'), `no-pty ${line}`);
    return key;
  })();
  return noPtyKeyPath;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function openTcpSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
}

// ---------------------------------------------------------------- running commands

describe('ssh step: commands', () => {
  test('a successful command: exit 0 with its output (stdout and stderr) kept, nothing left open', async () => {
    const before = openTcpSockets();
    const result = await runSshStep(sshStep({ command: 'echo hello; echo oops >&2' }), makeContext());
    assert.match(result.summary, /^exit 0 in \d+(\.\d)? (ms|s)$/);
    assert.equal(result.output, 'hello\noops');
    assert.equal(result.toleratedFailure, undefined);
    assert.equal(openTcpSockets(), before);
  });

  test('a non-zero exit status fails COMMAND_FAILED, with the output kept', async () => {
    const error = await failure(sshStep({ command: 'echo disk busy; exit 3' }));
    assert.equal(error.code, 'COMMAND_FAILED');
    assert.equal(
      error.message,
      `ssh ${sshd.user}@127.0.0.1:${sshd.port}: the command exited with status 3: disk busy`,
    );
    assert.equal(error.output, 'disk busy');
  });

  test('allowFailure: a non-zero exit is tolerated and reported', async () => {
    const result = await runSshStep(
      sshStep({ command: 'echo nope; exit 3', allowFailure: true }),
      makeContext(),
    );
    assert.match(result.summary, /^exit 3 in /);
    assert.match(result.toleratedFailure ?? '', /exited with status 3/);
    assert.equal(result.output, 'nope');
  });

  test('a command killed by a signal fails COMMAND_FAILED', async () => {
    const error = await failure(sshStep({ command: 'kill -TERM $$' }));
    assert.equal(error.code, 'COMMAND_FAILED');
    assert.match(error.message, /killed by SIGTERM/);
  });

  test('long output keeps its end, truncated for the audit log', async () => {
    const result = await runSshStep(sshStep({ command: 'seq 1 5000; echo the end' }), makeContext());
    assert.ok(result.output!.length < MAX_OUTPUT + 100, `kept ${result.output!.length} characters`);
    assert.match(result.output!, /^…\[\d+ characters cut\]…\n/);
    assert.match(result.output!, /4999\n5000\nthe end$/);
  });

  test('the command runs on a pty; where the server refuses one (no-pty), it runs without', async () => {
    const withPty = await runSshStep(sshStep({ command: 'tty' }), makeContext());
    assert.match(withPty.output ?? '', /^\/dev\/pts\/\d+$/);

    const result = await runSshStep(
      sshStep({ key: await noPtyKey(), command: 'tty; echo ran' }),
      makeContext(),
    );
    assert.equal(result.output, 'not a tty\nran');
  });

  test('without a pty, a timeout still ends the step, and says the command may go on running', async () => {
    const hang = marker();
    const key = await noPtyKey();
    const { ms, value: error } = await elapsed(() => failure(sshStep({ key, command: hang, timeout: 1000 })));
    assert.equal(error.code, 'TIMEOUT');
    assert.match(error.message, /without a pty, the command may go on running/);
    assert.ok(ms >= 1000 - TIMER_SLACK_MS, `took ${ms} ms: less than its timeout`);
    assert.ok(ms < 1000 + LATE_MS, `took ${ms} ms`);
    for (const pid of await processesWith(hang)) process.kill(pid);
  });
});

describe('ssh step: expectDisconnect', () => {
  // $PPID of the remote shell is the session's sshd process: killing it drops the connection mid-command.
  const dropConnection = 'kill -9 $PPID; sleep 5';

  test('the connection dropped by the command counts as success with expectDisconnect', async () => {
    // The summary shows the step ended on the drop: had it missed it, it would have failed TIMEOUT.
    const result = await runSshStep(
      sshStep({ command: dropConnection, expectDisconnect: true }),
      makeContext(),
    );
    assert.match(result.summary, /^disconnected after .* \(expected\)$/);
    assert.match(
      result.toleratedFailure ?? '',
      /connection closed before the command reported its exit status/,
    );
  });

  test('the same without expectDisconnect fails SSH_ERROR and says what to set', async () => {
    const error = await failure(sshStep({ command: dropConnection }));
    assert.equal(error.code, 'SSH_ERROR');
    assert.match(error.message, /connection closed before the command reported its exit status/);
    assert.match(error.message, /set expectDisconnect/);
  });

  test('with expectDisconnect, a command that exits non-zero still fails', async () => {
    const error = await failure(sshStep({ command: 'exit 1', expectDisconnect: true }));
    assert.equal(error.code, 'COMMAND_FAILED');
  });
});

// ---------------------------------------------------------------- host key pinning

describe('ssh step: host key pinning', () => {
  test('a wrong pinned host key is refused, showing the fingerprint the server presented', async () => {
    const other = await newKey('not-the-host-key');
    const wrongLine = (await readFile(`${other}.pub`, 'utf8')).trim();
    const logBefore = sshd.log.length;
    const error = await failure(sshStep({ hostKey: wrongLine }));
    assert.equal(error.code, 'SSH_HOST_KEY_MISMATCH');
    assert.match(error.message, /refused the host key: it is not the pinned hostKey/);
    assert.ok(error.message.includes(`ssh-ed25519 ${await serverFingerprint()}`), error.message);
    assert.ok(error.message.includes(fingerprint(parsePublicKey(wrongLine)!.blob)), error.message);
    assert.doesNotMatch(sshd.log.slice(logBefore), /Accepted publickey/, 'refused before authenticating');
  });

  test('a pinned key of another type the server has (ECDSA) is asked for and accepted', async () => {
    const ecdsa = (await readFile(path.join(sshd.dir, 'ssh_host_ecdsa_key.pub'), 'utf8')).trim();
    const result = await runSshStep(sshStep({ hostKey: ecdsa }), makeContext());
    assert.match(result.summary, /^exit 0/);
  });

  test('known_hosts: the plain [127.0.0.1]:port entry matches', async () => {
    const result = await runSshStep(
      sshStep({ hostKey: undefined, knownHosts: sshd.knownHostsPath }),
      makeContext(),
    );
    assert.match(result.summary, /^exit 0/);
  });

  test('known_hosts: a hashed |1| entry (ssh-keygen -H) matches', async () => {
    const file = path.join(scratch, 'known_hosts_hashed');
    await writeFile(
      file,
      `other.example ${sshd.hostKeyLine}\n${await readFile(sshd.knownHostsPath, 'utf8')}`,
    );
    await run('ssh-keygen', ['-q', '-H', '-f', file]);
    const text = await readFile(file, 'utf8');
    assert.ok(!text.includes('127.0.0.1') && text.startsWith('|1|'), 'ssh-keygen hashed the names');
    const result = await runSshStep(sshStep({ hostKey: undefined, knownHosts: file }), makeContext());
    assert.match(result.summary, /^exit 0/);
  });

  test('known_hosts: the host listed only without its port is refused as not listed', async () => {
    const file = path.join(scratch, 'known_hosts_port22');
    await writeFile(
      file,
      `127.0.0.1 ${sshd.hostKeyLine}\n[127.0.0.1]:${sshd.port + 1} ${sshd.hostKeyLine}\n`,
    );
    const error = await failure(sshStep({ hostKey: undefined, knownHosts: file }));
    assert.equal(error.code, 'SSH_HOST_KEY_MISMATCH');
    assert.match(error.message, new RegExp(`\\[127\\.0\\.0\\.1\\]:${sshd.port} is not listed in ${file}`));
    assert.ok(error.message.includes(await serverFingerprint()), error.message);
  });

  test('known_hosts: a listed host with another key is refused (hashed entry)', async () => {
    const other = (await readFile(`${await newKey('changed-host-key')}.pub`, 'utf8')).trim();
    const file = path.join(scratch, 'known_hosts_changed');
    await writeFile(file, `[127.0.0.1]:${sshd.port} ${other}\n`);
    await run('ssh-keygen', ['-q', '-H', '-f', file]);
    const error = await failure(sshStep({ hostKey: undefined, knownHosts: file }));
    assert.equal(error.code, 'SSH_HOST_KEY_MISMATCH');
    assert.match(error.message, /it is not the key pinned in/);
    assert.ok(error.message.includes(await serverFingerprint()), error.message);
  });

  test('known_hosts: a key marked @revoked is refused', async () => {
    const file = path.join(scratch, 'known_hosts_revoked');
    await writeFile(
      file,
      `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n@revoked [127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n`,
    );
    const error = await failure(sshStep({ hostKey: undefined, knownHosts: file }));
    assert.equal(error.code, 'SSH_HOST_KEY_MISMATCH');
    assert.match(error.message, /marks @revoked/);
  });

  test('known_hosts: a missing file is a clear error', async () => {
    const file = path.join(scratch, 'no_such_known_hosts');
    const error = await failure(sshStep({ hostKey: undefined, knownHosts: file }));
    assert.equal(error.code, 'SSH_HOST_KEY_MISMATCH');
    assert.match(error.message, /the known_hosts file .*no_such_known_hosts does not exist/);
  });
});

describe('known_hosts lookup', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAeP7YsPyx942qxccc9t0aTlAfPU+tEJ7XdTCUT8f8iM';
  const count = (text: string, host: string, port: number) => lookupKnownHosts(text, host, port).keys.length;

  test('names, lists, wildcards, negation, ports, markers and comments, as OpenSSH reads them', () => {
    assert.equal(count(`nas,192.168.1.20 ${key}`, '192.168.1.20', 22), 1);
    assert.equal(count(`NAS ${key} comment`, 'nas', 22), 1);
    assert.equal(count(`nas ${key}`, 'nas', 2222), 0);
    assert.equal(count(`[nas]:2222 ${key}`, 'nas', 2222), 1);
    assert.equal(count(`[nas]:2222 ${key}`, 'nas', 22), 0);
    assert.equal(count(`192.168.1.* ${key}`, '192.168.1.20', 22), 1);
    assert.equal(count(`192.168.1.?? ${key}`, '192.168.1.2', 22), 0);
    assert.equal(count(`192.168.1.*,!192.168.1.20 ${key}`, '192.168.1.20', 22), 0);
    assert.equal(count(`# nas ${key}\n\n@cert-authority nas ${key}`, 'nas', 22), 0);
    assert.equal(
      count(`nas ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ`, 'nas', 22),
      0,
      'type and blob disagree',
    );
    assert.equal(lookupKnownHosts(`@revoked * ${key}`, 'nas', 22).revoked.length, 1);
  });
});

// ---------------------------------------------------------------- keys and authentication

describe('ssh step: keys', () => {
  test('a key the server does not accept fails SSH_AUTH_FAILED', async () => {
    const key = await newKey('not-authorized');
    const error = await failure(sshStep({ key }));
    assert.equal(error.code, 'SSH_AUTH_FAILED');
    assert.equal(
      error.message,
      `ssh ${sshd.user}@127.0.0.1:${sshd.port}: the server refused the key ${key} for ${sshd.user}`,
    );
  });

  test('a missing key file is a clear error', async () => {
    const key = path.join(scratch, 'no_such_key');
    const error = await failure(sshStep({ key }));
    assert.equal(error.code, 'SSH_AUTH_FAILED');
    assert.match(error.message, /the private key file .*no_such_key does not exist$/);
  });

  test('a public key given as the key is a clear error', async () => {
    const error = await failure(sshStep({ key: `${sshd.keyPath}.pub` }));
    assert.equal(error.code, 'SSH_AUTH_FAILED');
    assert.match(error.message, /holds a public key/);
  });

  test('a passphrase-protected key works with its passphrase in the passphraseEnv variable', async () => {
    const env = { PIPDU_TEST_KEY_PASS: sshd.passphrase };
    const step = sshStep({
      key: sshd.encryptedKeyPath,
      passphraseEnv: 'PIPDU_TEST_KEY_PASS',
      command: 'echo in',
    });
    const result = await runSshStep(step, makeContext({ env }));
    assert.equal(result.output, 'in');
  });

  test('passphraseEnv unset in the environment: the error names the variable, never a secret', async () => {
    const step = sshStep({ key: sshd.encryptedKeyPath, passphraseEnv: 'PIPDU_TEST_UNSET_PASS' });
    const error = await failure(step, makeContext({ env: { OTHER: sshd.passphrase } }));
    assert.equal(error.code, 'SSH_AUTH_FAILED');
    assert.match(
      error.message,
      /protected by a passphrase, and the environment variable PIPDU_TEST_UNSET_PASS/,
    );
    assert.ok(!error.message.includes(sshd.passphrase));
  });

  test('a protected key without passphraseEnv, or with a wrong passphrase, is a clear error', async () => {
    const missing = await failure(sshStep({ key: sshd.encryptedKeyPath }));
    assert.equal(missing.code, 'SSH_AUTH_FAILED');
    assert.match(missing.message, /protected by a passphrase: set passphraseEnv/);

    const wrong = `${sshd.passphrase}-wrong`;
    const error = await failure(
      sshStep({ key: sshd.encryptedKeyPath, passphraseEnv: 'PASS' }),
      makeContext({ env: { PASS: wrong } }),
    );
    assert.equal(error.code, 'SSH_AUTH_FAILED');
    assert.match(error.message, /the passphrase in PASS does not decrypt the private key/);
    assert.ok(!error.message.includes(wrong) && !String(error.cause ?? '').includes(wrong));
  });
});

// ---------------------------------------------------------------- reachability and time

describe('ssh step: unreachable, timeouts, cancel', () => {
  let silent: Server;
  const held: Socket[] = [];

  before(async () => {
    // accepts and reads, never speaks
    silent = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => {}).resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });

  const clientClosed = (socket: Socket) => socket.readableEnded || socket.destroyed;

  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  test('a closed port fails SSH_UNREACHABLE at once', async () => {
    const port = await freePort();
    const { ms, value: error } = await elapsed(() => failure(sshStep({ port, timeout: LONG_MS })));
    assert.equal(error.code, 'SSH_UNREACHABLE');
    assert.match(error.message, /cannot connect: connection refused/);
    assert.ok(ms < WELL_UNDER_LONG_MS, `took ${ms} ms: tried again until the timeout?`);
  });

  test('a name that does not resolve fails SSH_UNREACHABLE', async () => {
    const error = await failure(sshStep({ host: 'no-such-host.invalid' }));
    assert.equal(error.code, 'SSH_UNREACHABLE');
  });

  test('a listener that accepts and never speaks times out within the step timeout', async () => {
    const port = (silent.address() as { port: number }).port;
    const { ms, value: error } = await elapsed(() => failure(sshStep({ port, timeout: 600 })));
    assert.equal(error.code, 'TIMEOUT');
    assert.match(error.message, /timed out after 600 ms: connected, but the SSH handshake did not finish/);
    assert.ok(ms >= 600 - TIMER_SLACK_MS, `took ${ms} ms: less than its timeout`);
    assert.ok(ms < 600 + LATE_MS, `took ${ms} ms`);
    await until('the client closed its end', async () => clientClosed(held.at(-1)!));
  });

  test('a hanging remote command is stopped at the timeout, and the remote process is gone', async () => {
    const hang = marker();
    const { ms, value: error } = await elapsed(() =>
      failure(sshStep({ command: `echo started; ${hang}`, timeout: 1500 })),
    );
    assert.equal(error.code, 'TIMEOUT');
    assert.match(error.message, /timed out after 1.5 s: the command was still running/);
    assert.equal(error.output, 'started');
    assert.ok(ms >= 1500 - TIMER_SLACK_MS, `took ${ms} ms: less than its timeout`);
    assert.ok(ms < 1500 + LATE_MS, `took ${ms} ms`);
    await until('the remote command ended', async () => (await processesWith(hang)).length === 0);
  });

  test('a cancel mid-command rejects with the signal reason at once, and the remote process is gone', async () => {
    const hang = marker();
    const controller = new AbortController();
    const running = runSshStep(sshStep({ command: hang }), makeContext({ signal: controller.signal }));
    const outcome = running.then(
      () => assert.fail('expected a rejection'),
      (error: unknown) => error,
    );
    await until('the remote command started', async () => (await processesWith(hang)).length > 0);
    const reason = new PduError('CANCELLED', 'cancelled by the test');
    let settled = false;
    const settle = () => {
      settled = true;
    };
    outcome.then(settle, settle);
    controller.abort(reason);
    // At once: settled before the event loop's next turn, so without waiting for the server, or for any timer.
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      settled,
      'the cancel waited for something (the server closing the connection?) before rejecting',
    );
    assert.equal(await outcome, reason);
    await until('the remote command ended', async () => (await processesWith(hang)).length === 0);
  });

  test('a signal aborted before the step starts rejects with its reason and connects nowhere', async () => {
    const controller = new AbortController();
    const reason = new PduError('TIMEOUT', 'the hook pipeline timed out');
    controller.abort(reason);
    const port = (silent.address() as { port: number }).port;
    const accepted = held.length;
    await assert.rejects(
      runSshStep(sshStep({ port }), makeContext({ signal: controller.signal })),
      (error) => {
        assert.equal(error, reason);
        return true;
      },
    );
    assert.equal(held.length, accepted);
  });

  test('a cancel while connecting drops the connection and rejects with the reason', async () => {
    const port = (silent.address() as { port: number }).port;
    const controller = new AbortController();
    const accepted = held.length;
    const running = runSshStep(sshStep({ port }), makeContext({ signal: controller.signal }));
    await until('the connection was accepted', async () => held.length > accepted);
    const reason = new PduError('CANCELLED', 'cancelled while connecting');
    controller.abort(reason);
    await assert.rejects(running, (error) => error === reason);
    await until('the client closed its end', async () => clientClosed(held.at(-1)!));
  });
});
