import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiServer, LOCAL_SOCKET_MODE } from '../src/api/server.js';
import { silentLogger } from '../src/log.js';
import { PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// The `pipdu` CLI as a child process against the daemon's local control socket
// (a real ApiServer on a Unix socket, the service on the simulated board):
// peer credentials, the socket's mode, confirmations, Ctrl-C, a closed pipe.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(root, 'src/cli/pipdu.ts');
const isRoot = process.getuid?.() === 0;
const ADMIN = { kind: 'discord', id: 'admin' } as const;

const SOCKETS = `
sockets:
  - { number: 1, name: router, protected: true }
  - { number: 2, name: lab }
  - { number: 5, name: nas }
`;

interface Cli {
  child: ReturnType<typeof spawn>;
  exit: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout (and stderr) match; rejects after 15 s or when the process ends first. */
  waitFor(pattern: RegExp): Promise<void>;
}

/** Runs `command` (the CLI, maybe behind setpriv or script) with its output collected. */
function start(
  command: string,
  args: string[],
  env: Record<string, string>,
  stdin: 'pipe' | 'ignore' = 'ignore',
): Cli {
  const { PIPDU_URL: _url, PIPDU_SOCKET: _socket, ...inherited } = process.env;
  const child = spawn(command, args, {
    cwd: root,
    env: { ...inherited, XDG_CONFIG_HOME: '/nonexistent', NO_COLOR: '1', ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const waiter of waiters) waiter();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const waiter of waiters) waiter();
  });
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    exit,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('close', ended);
        };
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) {
            done();
            resolve();
          }
        };
        const ended = (): void => {
          done();
          reject(new Error(`ended before ${pattern}:\n${out}\nstderr:\n${err}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} in:\n${out}\nstderr:\n${err}`));
        }, 15_000);
        waiters.add(check);
        child.once('close', ended);
        check();
      });
    },
  };
}

const cliArgs = (args: string[]) => ['--import', import.meta.resolve('tsx'), CLI, ...args];

/** A shell command line for `script` (a pty): the CLI with `args`, quoted. */
function onPty(args: string[], env: Record<string, string>): Cli {
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
  const line = [process.execPath, ...cliArgs(args)].map(quote).join(' ');
  return start('script', ['-qefc', line, '/dev/null'], env, 'pipe');
}

describe('pipdu over the local control socket', () => {
  let fixture: PduFixture;
  let server: ApiServer;
  let dir: string;
  let socket: string;
  let env: Record<string, string>;
  const cli = (args: string[]) => start(process.execPath, cliArgs(args), env);
  const lastAudit = async () => (await fixture.service.auditLog(1))[0];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-local-'));
    await chmod(dir, 0o755); // another user reaches the socket; its own mode decides
    socket = join(dir, 'pipdu.sock');
    env = { PIPDU_SOCKET: socket };
    fixture = await PduFixture.create(SOCKETS);
    await fixture.startDaemon();
    server = new ApiServer({
      config: { listen: '127.0.0.1:0', clients: {}, loopbackRole: 'viewer' },
      service: fixture.service,
      logger: silentLogger(),
      socketPath: socket,
    });
    await server.start();
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('the socket is 0660; the CLI switches through it and is audited as its Unix user', async () => {
    const stats = await stat(socket);
    assert.ok(stats.isSocket());
    assert.equal(stats.mode & 0o777, LOCAL_SOCKET_MODE);
    const on = cli(['on', 'lab']);
    assert.equal(await on.exit, 0, on.stderr());
    assert.match(on.stdout(), /^socket 2 \(lab\) switched on/);
    assert.equal(fixture.service.info(2).on, true);
    const entry = await lastAudit();
    const uid = process.getuid?.() ?? 0;
    assert.equal(entry?.actor.kind, 'cli');
    assert.match(entry?.actor.name ?? '', new RegExp(`\\(uid ${uid}\\)$`));
  });

  test("another user in the socket's group is audited by name; one outside it is refused", {
    skip: isRoot ? false : 'needs root to run the CLI as another user',
  }, async () => {
    const inGroup = start(
      'setpriv',
      ['--reuid=65534', '--regid=0', '--clear-groups', process.execPath, ...cliArgs(['off', 'lab'])],
      env,
    );
    assert.equal(await inGroup.exit, 0, inGroup.stderr());
    assert.equal(fixture.service.info(2).on, false);
    const entry = await lastAudit();
    assert.deepEqual(entry?.actor, { kind: 'cli', id: 'nobody', name: 'nobody (uid 65534)' });

    const outside = start(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...cliArgs(['on', 'lab'])],
      env,
    );
    assert.equal(await outside.exit, 3);
    assert.match(
      outside.stderr(),
      /^pipdu: cannot reach PiPDU at unix:.*: permission denied: only the pipdu group may use the local socket/,
    );
    assert.equal(fixture.service.info(2).on, false);
  });

  test('a protected socket off is refused when not on a terminal, and done with --yes', async () => {
    await requests(fixture.service).on(1, ADMIN);
    const piped = cli(['off', 'router']);
    assert.equal(await piped.exit, 1);
    assert.match(
      piped.stderr(),
      /^pipdu: NEEDS_CONFIRMATION: .*protected.*not a terminal to ask on: add --yes to confirm$/m,
    );
    assert.equal(fixture.service.info(1).on, true);
    const all = cli(['off', 'all']);
    assert.equal(await all.exit, 1);
    assert.match(all.stderr(), /NEEDS_CONFIRMATION: switching every socket off needs a confirmation/);
    assert.equal(fixture.service.info(1).on, true);
    const yes = cli(['off', 'router', '--yes']);
    assert.equal(await yes.exit, 0, yes.stderr());
    assert.equal(fixture.service.info(1).on, false);
  });

  test('on a terminal it asks: n leaves the socket on, y switches it off', async () => {
    await requests(fixture.service).on(1, ADMIN);
    const no = onPty(['off', 'router'], env);
    await no.waitFor(/Go ahead\? \[y\/N\]/);
    no.child.stdin?.write('n');
    assert.equal(await no.exit, 1);
    assert.match(no.stdout(), /not confirmed: nothing was switched/);
    assert.equal(fixture.service.info(1).on, true);

    const yes = onPty(['off', 'router'], env);
    await yes.waitFor(/Go ahead\? \[y\/N\]/);
    yes.child.stdin?.write('y');
    assert.equal(await yes.exit, 0, yes.stdout());
    assert.match(yes.stdout(), /socket 1 \(router\) switched off/);
    assert.equal(fixture.service.info(1).on, false);
  });

  test('Ctrl-C during a cycle, not on a terminal, cancels it (exit 130)', async () => {
    await requests(fixture.service).on(5, ADMIN);
    const cycle = cli(['cycle', 'nas', '--off-time', '60s']);
    await until(fixture.service, 'pending', () => fixture.service.info(5).pending !== null, 15_000);
    cycle.child.kill('SIGINT');
    assert.equal(await cycle.exit, 130);
    assert.match(cycle.stderr(), /^pipdu: cancelled the cycle$/m);
    assert.equal(fixture.service.info(5).pending, null);
  });

  test('Ctrl-C during a cycle on a terminal asks; n leaves it running', async () => {
    await requests(fixture.service).on(5, ADMIN);
    const cycle = onPty(['cycle', 'nas', '--off-time', '60s'], env);
    await until(fixture.service, 'pending', () => fixture.service.info(5).pending !== null, 15_000);
    cycle.child.stdin?.write('\u0003');
    await cycle.waitFor(/Cancel the cycle of socket nas\?/);
    cycle.child.stdin?.write('n');
    assert.equal(await cycle.exit, 130);
    assert.match(cycle.stdout(), /the cycle goes on in the daemon/);
    assert.notEqual(fixture.service.info(5).pending, null, 'still running');
    await requests(fixture.service).cancel(5, ADMIN);
  });

  test('status is coloured on a terminal, not with NO_COLOR', async () => {
    const ESC = String.fromCharCode(27);
    const coloured = onPty(['status'], { ...env, NO_COLOR: '' });
    assert.equal(await coloured.exit, 0, coloured.stdout());
    assert.ok(coloured.stdout().includes(`${ESC}[32monline${ESC}[0m`), coloured.stdout());
    const plain = onPty(['status'], env);
    assert.equal(await plain.exit, 0, plain.stdout());
    assert.ok(!plain.stdout().includes(`${ESC}[`), plain.stdout());
    assert.match(plain.stdout(), /board simulator online/);
  });

  test('with the board offline, status shows the states as unknown and no power', async () => {
    await requests(fixture.service).on(2, ADMIN);
    const offline = new Promise((resolve) => fixture.service.events.once('boardOffline', resolve));
    fixture.transport.unplug();
    await offline;
    try {
      const status = cli(['status']);
      assert.equal(await status.exit, 0, status.stderr());
      assert.match(status.stdout(), /board simulator OFFLINE/);
      assert.match(status.stdout(), /^\s*2\s+lab\s+unknown\s+-\s+-$/m);
      assert.match(status.stdout(), /^the board is offline: states unknown until it answers again$/m);
      assert.doesNotMatch(status.stdout(), /^total: /m);
    } finally {
      const online = new Promise((resolve) => fixture.service.events.once('boardOnline', resolve));
      fixture.transport.plug();
      await online;
    }
  });

  test('output into a closed pipe ends quietly (pipdu status | head)', async () => {
    const status = cli(['status']);
    status.child.stdout?.destroy();
    assert.equal(await status.exit, 0);
    assert.equal(status.stderr(), '');
  });
});
