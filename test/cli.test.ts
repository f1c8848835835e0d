import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiServer } from '../src/api/server.js';
import type { ApiConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { PduFixture } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

/** Resolves when something (the CLI's event stream, through the API) subscribes to socketChanged, or fails after 15 s. */
function subscribed(service: PduService): Promise<void> {
  const events = service.events as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      events.off('newListener', onListener);
      reject(new Error('nothing subscribed to socketChanged within 15 s'));
    }, 15_000);
    const onListener = (name: string | symbol) => {
      if (name !== 'socketChanged') return;
      clearTimeout(timer);
      events.off('newListener', onListener);
      resolve();
    };
    events.on('newListener', onListener);
  });
}

// The `pipdu` CLI as a child process against a real ApiServer on the simulated board.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const CLI = join(root, 'src/cli/pipdu.ts');
const SCRIPT = join(root, 'scripts', 'make-certs.sh');
const run = promisify(execFile);

const SOCKETS = `
sockets:
  - { number: 1, name: pi-self, protected: true }
  - { number: 2, name: lab }
  - { number: 5, name: nas }
`;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end; `env` without PIPDU_URL from the outside. */
function pipdu(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const { PIPDU_URL: _url, PIPDU_SOCKET: _socket, ...inherited } = process.env;
  // No cli.yaml of whoever runs the tests.
  inherited.XDG_CONFIG_HOME = '/nonexistent';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, ...args], {
      cwd: root,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pipdu ${args.join(' ')} timed out; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The CLI as a running process: its output so far, and a wait for a line of it. */
function startCli(args: string[], env: Record<string, string> = {}) {
  const { PIPDU_URL: _url, PIPDU_SOCKET: _socket, ...inherited } = process.env;
  inherited.XDG_CONFIG_HOME = '/nonexistent';
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, ...args], {
    cwd: root,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    wake();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    exit,
    stdout: () => stdout,
    /** Resolves once stdout matches; rejects after 15 s or when the CLI exits first. */
    waitFor(pattern: RegExp): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stdout)) {
            done();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} in:\n${stdout}\nstderr:\n${stderr}`));
        }, 15_000);
        const exited = (): void => {
          done();
          reject(new Error(`the CLI exited before ${pattern}:\n${stdout}\nstderr:\n${stderr}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('close', exited);
        };
        waiters.add(check);
        child.once('close', exited);
        check();
      });
    },
  };
}

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('pipdu CLI over plain loopback HTTP', () => {
  let fixture: PduFixture;
  let server: ApiServer;
  let url: string;

  before(async () => {
    fixture = await PduFixture.create(SOCKETS);
    await fixture.startDaemon();
    const config: ApiConfig = { listen: '127.0.0.1:0', clients: {}, loopbackRole: 'admin' };
    server = new ApiServer({
      config,
      service: fixture.service,
      logger: silentLogger(),
    });
    url = (await server.start()).url;
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
  });

  test('status shows a table of the sockets, the board and the total', async () => {
    const result = await pipdu(['--url', url, 'status']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /board simulator online/);
    assert.match(lines[1]!, /^\s*#\s+name\s+state\s+W\s+A\s+pending$/);
    assert.match(result.stdout, /^\s*1\s+pi-self\s+off \(protected\)\s+0\.0\s+0\.00$/m);
    assert.match(result.stdout, /^\s*5\s+nas\s+off/m);
    assert.match(result.stdout, /^16\s+off/m);
    assert.ok(!result.stdout.includes('\u001b['), 'no colour when piped');
    assert.match(lines.at(-1)!, /^total: /);
  });

  test('PIPDU_URL is used when there is no --url', async () => {
    const result = await pipdu(['status'], { PIPDU_URL: url });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /pi-self/);
  });

  test('on 5 switches the socket and exits 0', async () => {
    const result = await pipdu(['--url', url, 'on', '5']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(fixture.service.info(5).on, true);
    assert.match(result.stdout, /^socket 5 \(nas\) switched on, now on/);
    const again = await pipdu(['--url', url, 'on', 'nas']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^socket 5 \(nas\) was already on/);
  });

  test('off by name with a reason, which the log shows', async () => {
    const result = await pipdu(['--url', url, 'off', 'nas', '--reason', 'maintenance window']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(fixture.service.info(5).on, false);
    const log = await pipdu(['--url', url, 'log']);
    assert.equal(log.code, 0, log.stderr);
    const lines = log.stdout.trimEnd().split('\n');
    assert.ok(lines.length >= 2, log.stdout);
    assert.match(
      lines.at(-1)!,
      /api:loopback\s+off\s+socket 5 \(nas\)\s+ok\s+\d+ ms\s+reason: maintenance window/,
    );
    assert.ok(lines.some((line) => / on {2}socket 5 \(nas\) {2}ok/.test(line)));
    const limited = await pipdu(['--url', url, 'log', '--limit', '1', '--json']);
    assert.equal(limited.code, 0, limited.stderr);
    assert.equal(JSON.parse(limited.stdout).entries.length, 1);
  });

  test('off 17 exits 1 with the API error', async () => {
    const result = await pipdu(['--url', url, 'off', '17']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^pipdu: UNKNOWN_SOCKET: .*17/);
  });

  test('--json status is the API JSON', async () => {
    const result = await pipdu(['--json', '--url', url, 'status']);
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    assert.equal(status.sockets.length, 16);
    assert.equal(status.sockets[1].name, 'lab');
    assert.equal(status.board.online, true);
  });

  test('cycle with --off-time and --force', async () => {
    const result = await pipdu(['--url', url, 'cycle', 'lab', '--off-time', '50ms', '--force', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout);
    assert.equal(body.action, 'cycle');
    assert.equal(body.socket.number, 2);
    assert.equal(fixture.service.info(2).on, true);
  });

  test('usage errors exit 2', async () => {
    const unknown = await pipdu(['--url', url, 'explode']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "explode"/);
    assert.match(unknown.stderr, /usage: pipdu/);
    const missing = await pipdu(['--url', url, 'on']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /on needs a socket/);
    const none = await pipdu(['--url', url]);
    assert.equal(none.code, 2);
    const badOption = await pipdu(['--url', url, 'status', '--bogus']);
    assert.equal(badOption.code, 2);
    const yesStatus = await pipdu(['--url', url, 'status', '--yes']);
    assert.equal(yesStatus.code, 2);
    assert.match(yesStatus.stderr, /--yes is only for on, off, toggle and cycle/);
    const typo = await pipdu(['--url', url, 'of', '3']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /^pipdu: unknown command "of": did you mean "off"\?$/m);
    assert.equal(fixture.service.info(3).on, false);
  });

  test('a misspelt socket name gets a did-you-mean', async () => {
    const result = await pipdu(['--url', url, 'on', 'nsa']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^pipdu: UNKNOWN_SOCKET: .*; did you mean "nas"\?$/m);
  });

  test('help and --help print the usage and exit 0', async () => {
    const help = await pipdu(['help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: pipdu/);
    const result = await pipdu(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /usage: pipdu/);
    assert.match(result.stdout, /watch/);
  });

  test('no server at the URL exits 3 and says where it tried', async () => {
    const port = await freePort();
    const result = await pipdu(['--url', `http://127.0.0.1:${port}`, 'status']);
    assert.equal(result.code, 3);
    assert.match(
      result.stderr,
      new RegExp(`cannot reach PiPDU at http://127\\.0\\.0\\.1:${port}: nothing is listening there`),
    );
  });

  test('watch --json prints socketChanged for a change made on the service', async () => {
    const { PIPDU_URL: _url, ...inherited } = process.env;
    const streaming = subscribed(fixture.service);
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), CLI, '--url', url, 'watch', '--json'],
      {
        cwd: root,
        env: inherited,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      // Wait until the stream is subscribed, then switch from "another interface".
      await streaming;
      let text = '';
      const line = new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no socketChanged line; got:\n${text}`)), 10_000);
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          for (const candidate of text.split('\n').slice(0, -1)) {
            const parsed = JSON.parse(candidate) as Record<string, unknown>;
            if (parsed.event === 'socketChanged') {
              clearTimeout(timer);
              resolve(parsed);
            }
          }
        });
      });
      await requests(fixture.service).on(7, { kind: 'discord', id: 'bob' });
      const event = (await line) as { data: { socket: { number: number; on: boolean }; cause: string } };
      assert.equal(event.data.socket.number, 7);
      assert.equal(event.data.socket.on, true);
      assert.equal(event.data.cause, 'command');
    } finally {
      child.kill('SIGTERM');
      await exit;
    }
  });

  test('watch shows the state first, then changes, and reconnects when the daemon restarts', async () => {
    const other = new ApiServer({
      config: { listen: '127.0.0.1:0', clients: {}, loopbackRole: 'viewer' },
      service: fixture.service,
      logger: silentLogger(),
    });
    const otherUrl = (await other.start()).url;
    const watcher = startCli(['--url', otherUrl, 'watch']);
    try {
      await watcher.waitFor(/^total: /m);
      assert.match(watcher.stdout(), /^watching http:\/\/127\.0\.0\.1:\d+ \(Ctrl-C to stop\)$/m);
      assert.match(watcher.stdout(), /^\s*1\s+pi-self\s+off \(protected\)/m);
      await other.stop();
      await watcher.waitFor(/lost the daemon; reconnecting/);
      const again = new ApiServer({
        config: { listen: otherUrl.replace('http://', ''), clients: {}, loopbackRole: 'viewer' },
        service: fixture.service,
        logger: silentLogger(),
      });
      const streaming = subscribed(fixture.service);
      await again.start();
      try {
        await watcher.waitFor(/connected again; board online/);
        await streaming;
        await requests(fixture.service).on(9, { kind: 'discord', id: 'bob' });
        await watcher.waitFor(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}socket 9 on \(was off; command\)$/m);
        assert.equal(watcher.stdout().match(/lost the daemon/g)?.length, 1, 'said once');
        watcher.child.kill('SIGINT');
        assert.equal(await watcher.exit, 0);
      } finally {
        await again.stop();
      }
    } finally {
      watcher.child.kill('SIGKILL');
      await watcher.exit;
    }
  });
});

describe('pipdu CLI over mutual TLS', () => {
  let dir: string;
  let fixture: PduFixture;
  let server: ApiServer;
  let url: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-cli-'));
    await run('sh', [SCRIPT, dir, 'ci', 'watcher']);
    fixture = await PduFixture.create(SOCKETS);
    await fixture.startDaemon();
    server = new ApiServer({
      config: {
        listen: '127.0.0.1:0',
        tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') },
        clients: { ci: 'operator', watcher: 'viewer' },
        loopbackRole: 'viewer',
      },
      service: fixture.service,
      logger: silentLogger(),
    });
    // The certificate is for localhost.
    url = (await server.start()).url.replace('127.0.0.1', 'localhost');
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tls = (cn: string): string[] => [
    '--url',
    url,
    '--cert',
    join(dir, `${cn}.crt`),
    '--key',
    join(dir, `${cn}.key`),
    '--ca',
    join(dir, 'ca.crt'),
  ];

  test('an operator certificate switches a socket', async () => {
    const result = await pipdu([...tls('ci'), 'on', 'lab']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(fixture.service.info(2).on, true);
  });

  test('a server certificate from an unknown CA is explained with its fix (exit 3)', async () => {
    const result = await pipdu([
      '--url',
      url,
      '--cert',
      join(dir, 'ci.crt'),
      '--key',
      join(dir, 'ci.key'),
      'status',
    ]);
    assert.equal(result.code, 3);
    assert.equal(
      result.stderr,
      `pipdu: cannot reach PiPDU at ${url}: the server's certificate is signed by a CA this client does not trust: give that CA with --ca (the ca.crt from make-certs.sh)\n`,
    );
  });

  test('cli.yaml gives the URL and certificates', async () => {
    const config = await mkdtemp(join(tmpdir(), 'pipdu-cli-config-'));
    try {
      await mkdir(join(config, 'pipdu'));
      await writeFile(
        join(config, 'pipdu', 'cli.yaml'),
        `url: ${url}\ncert: ${join(dir, 'ci.crt')}\nkey: ${join(dir, 'ci.key')}\nca: ${join(dir, 'ca.crt')}\n`,
      );
      const result = await pipdu(['status'], { XDG_CONFIG_HOME: config });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /board simulator online/);
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });

  test('a viewer certificate reads but cannot switch (exit 1, FORBIDDEN)', async () => {
    const status = await pipdu([...tls('watcher'), 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^\s*2\s+lab\s+on/m);
    const result = await pipdu([...tls('watcher'), 'off', 'lab']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^pipdu: FORBIDDEN: /);
    assert.equal(fixture.service.info(2).on, true);
  });

  test('no client certificate: the handshake is refused, exit 3', async () => {
    const result = await pipdu(['--url', url, '--ca', join(dir, 'ca.crt'), 'status']);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /cannot reach PiPDU at https:\/\/localhost:\d+: .*--cert and --key/);
  });
});
