import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type FakeDiscord, startFakeDiscord } from './helpers/fake-discord.js';

// `npm run deploy-commands` as a process: which config it reads, and what it says when
// something is missing or Discord refuses the token.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
let fake: FakeDiscord;
let dir: string;

before(async () => {
  fake = await startFakeDiscord();
  dir = await mkdtemp(join(tmpdir(), 'pipdu-deploy-'));
});
after(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

function deploy(args: string[], env: Record<string, string> = {}) {
  const { PIPDU_CONFIG: _config, DISCORD_TOKEN: _token, ...inherited } = process.env;
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(root, 'deploy-commands.ts'), ...args],
    { cwd: dir, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

const withDiscord = () =>
  `version: 1\nboard: { driver: simulator }\ndiscord:\n  guildId: "${fake.guild.id}"\n  api: ${fake.api}\n`;

test('no config file at all is said so, with the path to give', async () => {
  const result = await deploy([], { DISCORD_TOKEN: fake.token });
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    'no configuration file: config/pipdu.yaml does not exist and PIPDU_CONFIG is not set; name it: npm run deploy-commands -- /etc/pipdu/pipdu.yaml\n',
  );
});

test('a file without a discord section is named', async () => {
  const file = join(dir, 'plain.yaml');
  await writeFile(file, 'version: 1\nboard: { driver: simulator }\n');
  const result = await deploy([file], { DISCORD_TOKEN: fake.token });
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    'plain.yaml has no discord section: add discord.guildId (see config/pipdu.example.yaml)\n',
  );
});

test('a bad PIPDU_CONFIG is one line', async () => {
  const result = await deploy([], { PIPDU_CONFIG: join(dir, 'nope.yaml'), DISCORD_TOKEN: fake.token });
  assert.equal(result.code, 1);
  // Named relative to the working directory, as the daemon names it.
  assert.equal(result.stderr, 'PIPDU_CONFIG names nope.yaml, which does not exist\n');
});

test('without DISCORD_TOKEN it says where the token comes from on the Pi', async () => {
  const file = join(dir, 'discord.yaml');
  await writeFile(file, withDiscord());
  const result = await deploy([file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^DISCORD_TOKEN is not set: .*\/etc\/pipdu\/secrets\.env.*\n$/);
});

test('a rejected token gets a 401 with the fix; the path argument is the config it registers for', async () => {
  const file = join(dir, 'discord.yaml');
  await writeFile(file, withDiscord());
  const refused = await deploy([file], { DISCORD_TOKEN: 'not-the-token' });
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^Discord refused the token \(401 Unauthorized\): DISCORD_TOKEN must be the bot token/,
  );
  assert.equal(fake.commands(fake.guild.id).length, 0);

  const done = await deploy([file], { DISCORD_TOKEN: fake.token });
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, new RegExp(`Registered slash commands for guild ${fake.guild.id}`));
  assert.ok(fake.commands(fake.guild.id).length > 0);
});
