import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type FakeDiscord, startFakeDiscord } from './helpers/fake-discord.js';
import { freePort } from './helpers/ports.js';

// Reload belongs to the daemon: SIGHUP, `/pdu reload` (the real bot against a
// fake Discord), `pipdu reload` and POST /api/v1/reload all call one reload,
// and every interface reads the new name, clients and roles. A file that
// fails validation changes nothing and says why, with its location.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const run = promisify(execFile);

let dir: string;
let file: string;
let fake: FakeDiscord;
let child: ChildProcess;
let output = '';
let url: string;
const waiters = new Set<() => void>();

/** The config, with what each step changes. */
function config(options: {
  name: string;
  loopbackRole?: string;
  discordAdmins?: string;
  restore?: string;
}): string {
  return `version: 1
name: ${options.name}
board: { driver: simulator }
state: { dir: ${join(dir, 'state')} }
sockets:
  - { number: 3, name: nas, restore: ${options.restore ?? 'last'} }
api:
  listen: "127.0.0.1:${new URL(url).port}"
  loopbackRole: ${options.loopbackRole ?? 'admin'}
discord:
  guildId: "${fake.guild.id}"
  api: ${fake.api}
  roles: { admin: [${options.discordAdmins ?? 'Admins'}], operator: [Homelab], viewer: ["@everyone"] }
`;
}

function waitFor(pattern: RegExp, since = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; output:\n${output}`)),
      15_000,
    );
    const check = (): void => {
      if (!pattern.test(output.slice(since))) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
}

function pipdu(...args: string[]) {
  return run(process.execPath, [
    '--import',
    import.meta.resolve('tsx'),
    join(root, 'src/cli/pipdu.ts'),
    '--url',
    url,
    ...args,
  ]);
}

async function metricsName(): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /pipdu_board_online\{pdu="([^"]+)"\}/.exec(text)?.[1] ?? '(none)';
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipdu-reload-'));
  file = join(dir, 'pipdu.yaml');
  fake = await startFakeDiscord();
  url = `http://127.0.0.1:${await freePort()}`;
  await writeFile(file, config({ name: 'rack-a' }));
  const { PIPDU_CONFIG: _config, DISCORD_TOKEN: _token, ...inherited } = process.env;
  child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'src/main.ts')], {
    cwd: dir,
    env: { ...inherited, PIPDU_CONFIG: file, DISCORD_TOKEN: fake.token, PIPDU_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const check of [...waiters]) check();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await waitFor(/Discord bot online/);
  await waitFor(/running/);
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

test('SIGHUP reloads: the metrics and the pdudaemon route follow the new name', async () => {
  assert.equal(await metricsName(), 'rack-a');
  await writeFile(file, config({ name: 'rack-b' }));
  const since = output.length;
  child.kill('SIGHUP');
  await waitFor(/configuration reloaded/, since);
  assert.equal(await metricsName(), 'rack-b');
  const pdudaemon = await fetch(`${url}/power/control/on?hostname=rack-b&port=3`);
  assert.equal(pdudaemon.status, 200);
  const old = await fetch(`${url}/power/control/off?hostname=rack-a&port=3`);
  assert.equal(old.status, 500, 'the old name is no longer this PDU');
});

test('POST /api/v1/reload reloads, and a bad file changes nothing and says where', async () => {
  await writeFile(file, config({ name: 'rack-c' }));
  const good = await fetch(`${url}/api/v1/reload`, { method: 'POST' });
  assert.equal(good.status, 200);
  assert.match(((await good.json()) as { summary: string }).summary, /configuration reloaded/);
  assert.equal(await metricsName(), 'rack-c');

  await writeFile(file, config({ name: 'rack-d', restore: 'sometimes' }));
  const bad = await fetch(`${url}/api/v1/reload`, { method: 'POST' });
  const body = (await bad.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'BAD_CONFIG');
  assert.match(body.error.message, /pipdu\.yaml:6:\d+ socket 3 \(nas\) restore: expected on \| off \| last/);
  assert.match(body.error.message, /nothing was changed/);
  assert.equal(await metricsName(), 'rack-c', 'the running config stays');

  // A hostile file: an alias bomb is one located line, at once, and changes nothing.
  const bomb = ['version: 1', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (let level = 1; level <= 9; level++) {
    const previous = String.fromCharCode(96 + level);
    const name = String.fromCharCode(97 + level);
    bomb.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
  }
  await writeFile(file, `${bomb.join('\n')}\n`);
  const refused = await fetch(`${url}/api/v1/reload`, { method: 'POST' });
  const answer = (await refused.json()) as { error: { code: string; message: string } };
  assert.equal(refused.status, 422);
  assert.equal(answer.error.code, 'BAD_CONFIG');
  assert.match(answer.error.message.split('\n')[0] ?? '', /pipdu\.yaml:\d+:\d+ .*alias/);
  assert.equal(await metricsName(), 'rack-c', 'the running config stays');
});

test('/pdu reload through the real bot: the new Discord roles apply to the next command', async () => {
  const olly = fake.user('olly', ['Homelab']);
  const alice = fake.user('alice', ['Admins']);
  const before = await fake.command({ user: olly, name: 'pdu', subcommand: 'log' }).callback();
  assert.match(before.data.content, /admin/, 'an operator may not read the log yet');
  // Homelab becomes an admin role; a restart-only change (a board) would be refused.
  await writeFile(file, config({ name: 'rack-c', discordAdmins: 'Admins, Homelab' }));
  const reload = fake.command({ user: alice, name: 'pdu', subcommand: 'reload' });
  // Deferred at once (privately): loading the file may outlast Discord's 3 s to answer.
  const deferred = await reload.callback();
  assert.equal(deferred.type, 5);
  assert.equal(deferred.data?.flags, 64);
  const reloaded = await reload.waitForOriginal((message) =>
    /configuration reloaded/.test(message.content ?? ''),
  );
  assert.match(reloaded.content ?? '', /configuration reloaded/);
  const afterReload = await fake.command({ user: olly, name: 'pdu', subcommand: 'log' }).callback();
  assert.doesNotMatch(afterReload.data.content, /^🚫/, 'not refused: the log itself');
  assert.match(afterReload.data.content, /✅ \*\*alice\*\* reloaded the config/, 'the log shows the reload');
});

test('pipdu reload: the loopback role changes with it; a viewer may then neither switch nor reload', async () => {
  await writeFile(file, config({ name: 'rack-e', loopbackRole: 'viewer' }));
  const reloaded = await pipdu('reload');
  assert.match(reloaded.stdout, /configuration reloaded/);
  assert.equal(await metricsName(), 'rack-e');
  await assert.rejects(pipdu('on', 'nas'), (error: { code?: number; stderr?: string }) => {
    return error.code === 1 && /FORBIDDEN/.test(error.stderr ?? '');
  });
  await assert.rejects(pipdu('reload'), (error: { code?: number; stderr?: string }) => {
    return (
      error.code === 1 &&
      /FORBIDDEN: reloading the configuration needs the admin role/.test(error.stderr ?? '')
    );
  });
});
