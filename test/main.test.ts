import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './helpers/ports.js';
import { startSimulator } from './helpers/simulator-process.js';

// The daemon as `npm start` runs it, as a child process.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const run = promisify(execFile);
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Daemon {
  child: ChildProcess;
  output: () => string;
  waitFor: (text: string | RegExp) => Promise<void>;
  exit: Promise<number | null>;
}

async function daemon(env: Record<string, string> = {}): Promise<Daemon> {
  const cwd = await mkdtemp(join(tmpdir(), 'pipdu-main-'));
  cleanups.push(() => rm(cwd, { recursive: true, force: true }));
  // Never a config or a Discord token from the environment the tests run in.
  const { PIPDU_CONFIG: _config, DISCORD_TOKEN: _token, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'src/main.ts')], {
    cwd,
    env: { ...inherited, PIPDU_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    text += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  });
  const waitFor = (pattern: string | RegExp) =>
    new Promise<void>((resolve, reject) => {
      const matches = () => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${pattern}; output:\n${text}`)),
        15_000,
      );
      const check = () => {
        if (!matches()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      void exit.then(() => {
        if (waiters.has(check)) {
          clearTimeout(timer);
          reject(new Error(`the daemon exited before printing ${pattern}; output:\n${text}`));
        }
      });
      check();
    });
  return { child, output: () => text, waitFor, exit };
}

/** A pipdu.yaml in a temporary directory removed after the test; `body` gets that directory. */
async function configFile(body: (dir: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-main-config-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'pipdu.yaml');
  await writeFile(file, body(dir));
  return file;
}

/** The `pipdu` CLI, as `npm run pipdu` runs it from this checkout. */
function pipduCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}) {
  return run(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(root, 'src/cli/pipdu.ts'), ...args],
    options,
  );
}

test('without a config file it runs on the built-in simulator, says so, and stops cleanly on SIGTERM', async () => {
  const d = await daemon();
  await d.waitFor('built-in board simulator');
  await d.waitFor('PiPDU \\"pipdu\\" running: 0 of 16 sockets on');
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
  assert.match(d.output(), /stopped/);
});

test('without a config file the pipdu CLI works out of the box: the API is on 127.0.0.1:8080', async () => {
  // The built-in port is fixed; should something here hold it, the daemon must say so and run on.
  const free = await portIsFree(8080);
  const d = await daemon();
  await d.waitFor('PiPDU \\"pipdu\\" running: 0 of 16 sockets on');
  assert.match(d.output(), /try `npm run pipdu -- status`/);
  if (!free) {
    assert.match(
      d.output(),
      /the API cannot listen on 127\.0\.0\.1:8080: another program is using that port/,
    );
  } else {
    assert.match(d.output(), /"url":"http:\/\/127\.0\.0\.1:8080"/);
    const { PIPDU_URL: _url, ...env } = process.env;
    const cli = (...args: string[]) => pipduCli(args, { env });
    const on = await cli('on', '3');
    assert.match(on.stdout, /3/);
    const status = JSON.parse((await cli('status', '--json')).stdout) as {
      sockets: Array<{ number: number; on: boolean }>;
    };
    assert.equal(status.sockets.length, 16);
    assert.deepEqual(
      status.sockets.filter((socket) => socket.on).map((socket) => socket.number),
      [3],
    );
  }
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
});

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

test('a bad config stops the daemon before it opens the serial port', async () => {
  const sim = await startSimulator();
  cleanups.push(() => sim.stop());
  const file = await configFile(
    () =>
      `version: 1\nboard:\n  driver: prp1\n  port: ${sim.path}\nsockets:\n  - { number: 3, restore: sometimes }\n`,
  );
  const d = await daemon({ PIPDU_CONFIG: file });
  // 78 (EX_CONFIG): the unit's RestartPreventExitStatus, so systemd does not retry for ever.
  assert.equal(await d.exit, 78);
  assert.match(d.output(), /pipdu\.yaml:6:\d+ socket 3 restore: expected on \| off \| last/);
  assert.match(d.output(), /did not start/);
  // A daemon that had opened the port would have sent HELLO at once.
  await sim.command('delay 0'); // a round trip: the simulator's request log is up to date
  assert.deepEqual(sim.requests, []);
});

test('on a board over a pty: connects with HELLO and STATE only, and SIGTERM switches nothing', async () => {
  const sim = await startSimulator();
  cleanups.push(() => sim.stop());
  const file = await configFile(
    (dir) =>
      `version: 1\nboard: { driver: prp1, port: ${sim.path} }\nstate: { dir: ${join(dir, 'state')} }\n`,
  );
  const d = await daemon({ PIPDU_CONFIG: file });
  await d.waitFor('PiPDU \\"pipdu\\" running');
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
  await sim.command('delay 0'); // its reports (stdout) may trail what it answered on the pty
  assert.ok(sim.requests.some((line) => line.endsWith(' HELLO')));
  assert.ok(sim.requests.some((line) => line.endsWith(' STATE')));
  assert.deepEqual(
    sim.requests.filter((line) => / (SET|MASK) /.test(line)),
    [],
  );
});

test('a discord section without DISCORD_TOKEN: the daemon runs on and says the bot is off', async () => {
  const file = await configFile(
    (dir) =>
      `version: 1\nboard: { driver: simulator }\nstate: { dir: ${join(dir, 'state')} }\ndiscord: { guildId: "123456789012345678" }\n`,
  );
  const d = await daemon({ PIPDU_CONFIG: file });
  await d.waitFor('DISCORD_TOKEN is not set: the Discord bot is off');
  await d.waitFor('PiPDU \\"pipdu\\" running');
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
});

test('a controller section where there is no GPIO: the daemon warns once and runs on without the panel', async () => {
  const file = await configFile(
    (dir) =>
      `version: 1\nboard: { driver: simulator }\nstate: { dir: ${join(dir, 'state')} }\ncontroller: { buttons: [17, 27], leds: [5, 6], statusLed: 26 }\n`,
  );
  const d = await daemon({ PIPDU_CONFIG: file });
  await d.waitFor('PiPDU \\"pipdu\\" running');
  assert.equal(d.output().split('no usable GPIO here').length - 1, 1, 'warned once');
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
});

test('a state.dir that cannot be made is one line and exit 78, before anything is opened', async () => {
  const file = await configFile(
    (dir) =>
      `version: 1\nboard: { driver: simulator }\nstate: { dir: ${join(dir, 'pipdu.yaml', 'state')} }\n`,
  );
  const d = await daemon({ PIPDU_CONFIG: file });
  assert.equal(await d.exit, 78);
  const lines = d.output().trim().split('\n');
  assert.match(
    lines.at(-2) ?? '',
    /^state\.dir .*pipdu\.yaml\/state cannot be created: a part of the path is not a directory; set state\.dir to a directory the daemon's user may write \(under systemd: \/var\/lib\/pipdu\)$/,
  );
  assert.equal(lines.at(-1), 'PiPDU did not start.');
  assert.doesNotMatch(d.output(), /^\s+at /m, 'no stack trace');
});

test('under systemd: state in $STATE_DIRECTORY and the local socket in $RUNTIME_DIRECTORY, which the CLI uses', async () => {
  const file = await configFile(() => 'version: 1\nboard: { driver: simulator }\n');
  const runtime = await mkdtemp(join(tmpdir(), 'pipdu-run-'));
  const state = await mkdtemp(join(tmpdir(), 'pipdu-state-'));
  cleanups.push(() => rm(runtime, { recursive: true, force: true }));
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  const d = await daemon({ PIPDU_CONFIG: file, RUNTIME_DIRECTORY: runtime, STATE_DIRECTORY: state });
  await d.waitFor(/local control socket on /);
  await d.waitFor(/running: 0 of 16 sockets on/);
  const { PIPDU_URL: _url, ...env } = process.env;
  const on = await pipduCli(['on', '4'], { env: { ...env, PIPDU_SOCKET: join(runtime, 'pipdu.sock') } });
  assert.match(on.stdout, /^socket 4 switched on/);
  const audit = await readFile(join(state, 'audit.jsonl'), 'utf8');
  assert.match(audit, /"actor":\{"kind":"cli","id":"[^"]+","name":"[^"]+ \(uid \d+\)"\}/);
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
});

test('an api section starts the API with the daemon: loopback HTTP answers, and it stops with it', async () => {
  const file = await configFile(
    (dir) =>
      `version: 1\nboard: { driver: simulator }\nstate: { dir: ${join(dir, 'state')} }\napi: { listen: "127.0.0.1:0", loopbackRole: viewer }\n`,
  );
  const d = await daemon({ PIPDU_CONFIG: file });
  await d.waitFor(/"url":"http:\/\/127\.0\.0\.1:\d+"/);
  const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(d.output())![1]!;
  const reply = await fetch(`${url}/api/v1/sockets`);
  assert.equal(reply.status, 200);
  assert.equal(((await reply.json()) as { sockets: unknown[] }).sockets.length, 16);
  const metrics = await fetch(`${url}/metrics`);
  assert.match(await metrics.text(), /pipdu_board_online\{pdu="pipdu"\} 1/);
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
});

test('the pipdu CLI against a running daemon on a board behind a socat pty', async () => {
  const sim = await startSimulator();
  cleanups.push(() => sim.stop());
  const file = await configFile(
    (dir) =>
      `version: 1\nboard: { driver: prp1, port: ${sim.path} }\nstate: { dir: ${join(dir, 'state')} }\nsockets:\n  - { number: 3, name: nas }\napi: { listen: "127.0.0.1:0" }\n`,
  );
  const d = await daemon({ PIPDU_CONFIG: file });
  await d.waitFor(/"url":"http:\/\/127\.0\.0\.1:\d+"/);
  const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(d.output())![1]!;
  const cli = (...args: string[]) => pipduCli(['--url', url, ...args]);
  const on = await cli('on', 'nas');
  assert.match(on.stdout, /nas/);
  await sim.waitFor((event) => event.event === 'request' && / SET 2 1$/.test(String(event.line)), 5000, 0);
  const status = await cli('status');
  assert.match(status.stdout, /nas\s+on/);
  await assert.rejects(
    cli('off', '17'),
    (error: { code?: number; stderr?: string }) =>
      error.code === 1 && /UNKNOWN_SOCKET/.test(error.stderr ?? ''),
  );
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
});

test('the systemd unit runs the daemon with the node flags of `npm start`', async () => {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const unit = await readFile(join(root, 'deploy/pipdu.service'), 'utf8');
  const flags = (command: string) => command.split(/\s+/).filter((word) => word.startsWith('--'));
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  assert.ok(execStart, 'the unit has an ExecStart line');
  assert.ok(flags(pkg.scripts.start).length > 0);
  assert.deepEqual(flags(execStart), flags(pkg.scripts.start));
  assert.match(execStart, /\/dist\/src\/main\.js$/);
});

test('`npm start` twice on the built-in simulator: it is a board that stayed powered, the second start switches nothing', async () => {
  const port = await freePort();
  const file = await configFile(
    (dir) =>
      `version: 1\nboard: { driver: simulator }\nstate: { dir: ${join(dir, 'state')} }\napi: { listen: "127.0.0.1:${port}" }\n`,
  );
  const url = `http://127.0.0.1:${port}`;
  const first = await daemon({ PIPDU_CONFIG: file });
  await first.waitFor('running: 0 of 16 sockets on');
  assert.equal((await fetch(`${url}/api/v1/sockets/3/on`, { method: 'POST' })).status, 200);
  first.child.kill('SIGTERM');
  assert.equal(await first.exit, 0);

  const second = await daemon({ PIPDU_CONFIG: file });
  await second.waitFor('running: 1 of 16 sockets on');
  const socket = (await (await fetch(`${url}/api/v1/sockets/3`)).json()) as { on: boolean };
  assert.equal(socket.on, true, 'socket 3 is still on');
  assert.doesNotMatch(
    second.output(),
    /restore policies|first contact|socket 3 (on|off)/,
    'nothing switched',
  );
  second.child.kill('SIGTERM');
  assert.equal(await second.exit, 0);
});

test('a SET answered after the reply timeout: within a second the API, metrics and state.json show the board', async () => {
  // A slow board: it switches and answers SET only after 800 ms; the daemon waits 500 ms.
  const sim = await startSimulator({ args: ['--set-delay', '800'] });
  cleanups.push(() => sim.stop());
  const port = await freePort();
  let stateFile = '';
  const file = await configFile((dir) => {
    stateFile = join(dir, 'state', 'state.json');
    return `version: 1\nboard: { driver: prp1, port: ${sim.path}, replyTimeout: 500ms }\nstate: { dir: ${join(dir, 'state')} }\nsockets:\n  - { number: 11, name: lab }\napi: { listen: "127.0.0.1:${port}" }\n`;
  });
  const url = `http://127.0.0.1:${port}`;
  const d = await daemon({ PIPDU_CONFIG: file });
  await d.waitFor('running: 0 of 16 sockets on');
  const events = await fetch(`${url}/api/v1/events`);
  const shownOn = sseUntil(
    events,
    (name, data) => name === 'socketChanged' && /"number":11,"name":"lab"[^}]*"on":true/.test(data),
  );
  const reply = await fetch(`${url}/api/v1/sockets/lab/on`, { method: 'POST' });
  const failedAt = performance.now();
  assert.equal(reply.status, 503);
  const body = (await reply.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'BOARD_TIMEOUT');
  assert.match(body.error.message, /may have switched/);
  await shownOn;
  assert.ok(performance.now() - failedAt < 1000, 'the real state was shown within a second');
  const lab = (await (await fetch(`${url}/api/v1/sockets/lab`)).json()) as { on: boolean };
  assert.equal(lab.on, true);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /pipdu_socket_on\{socket="11",name="lab",pdu="pipdu"\} 1/);
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
  const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { sockets: Record<string, boolean> };
  assert.equal(saved.sockets['11'], true, 'state.json says on, so restore: last restores the truth');
});

/** Reads a server-sent event stream until `match` accepts an event; then closes it. */
async function sseUntil(response: Response, match: (name: string, data: string) => boolean): Promise<void> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the event stream ended');
    text += value;
    for (let end = text.indexOf('\n\n'); end !== -1; end = text.indexOf('\n\n')) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const name = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      if (match(name, data)) {
        await reader.cancel();
        return;
      }
    }
  }
}

test('after a power loss the daemon logs "running" once the restores have settled, and a power-up mask rewrite is a warning', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-main-restore-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const link = join(dir, 'ttyPDU');
  const eeprom = join(dir, 'board.eeprom'); // the same board across simulator processes
  const file = await configFile(
    () =>
      `version: 1\nboard: { driver: prp1, port: ${link}, switchSpacingMs: 50 }\nstate: { dir: ${join(dir, 'state')} }\nsockets:\n  - { number: 1, restore: on }\n  - { number: 2 }\n  - { number: 3 }\n`,
  );
  const first = await startSimulator({ path: link, args: ['--eeprom', eeprom] });
  const d1 = await daemon({ PIPDU_CONFIG: file });
  await d1.waitFor('running: 0 of 16 sockets on');
  assert.match(
    d1.output(),
    /"level":40[^\n]*rewrote the board's power-up mask from 0000 to 0001: it powers up with exactly the restore: on sockets \(1\) on/,
  );
  d1.child.kill('SIGTERM');
  assert.equal(await d1.exit, 0);
  // Sockets 2 and 3 (restore: last) are on when the power goes.
  const apiPort = await freePort();
  const file2 = await configFile(
    () =>
      `version: 1\nboard: { driver: prp1, port: ${link}, switchSpacingMs: 50 }\nstate: { dir: ${join(dir, 'state')} }\nsockets:\n  - { number: 1, restore: on }\n  - { number: 2 }\n  - { number: 3 }\napi: { listen: "127.0.0.1:${apiPort}" }\n`,
  );
  const d2 = await daemon({ PIPDU_CONFIG: file2 });
  await d2.waitFor('running: 0 of 16 sockets on');
  const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(d2.output())![1]!;
  for (const socket of [2, 3]) {
    assert.equal((await fetch(`${url}/api/v1/sockets/${socket}/on`, { method: 'POST' })).status, 200);
  }
  d2.child.kill('SIGTERM');
  assert.equal(await d2.exit, 0);
  await first.kill(); // the power goes: the board comes back with its power-up mask (socket 1 on)
  const again = await startSimulator({ path: link, args: ['--eeprom', eeprom] });
  cleanups.push(() => again.stop());
  const d3 = await daemon({ PIPDU_CONFIG: file });
  await d3.waitFor(/running: \d+ of 16 sockets on/);
  assert.match(d3.output(), /applying restore policies/);
  assert.match(d3.output(), /running: 3 of 16 sockets on/, 'counted after sockets 2 and 3 came back');
  d3.child.kill('SIGTERM');
  assert.equal(await d3.exit, 0);
});
