import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The install's steps in a scratch copy (build, then `npm prune --omit=dev`): every command the
// README documents must then run from dist/, with no tsx or tsc left.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const run = promisify(execFile);

describe('after npm prune --omit=dev', { timeout: 600_000 }, () => {
  let copy: string;
  const npm = (args: string[], env: Record<string, string> = {}) =>
    run('npm', ['run', '--silent', ...args], {
      cwd: copy,
      env: { ...process.env, PIPDU_CONFIG: '', PIPDU_SOCKET: '', PIPDU_URL: '', ...env },
    });

  before(async () => {
    copy = await mkdtemp(join(tmpdir(), 'pipdu-pruned-'));
    await run(
      'sh',
      [
        '-c',
        `tar -c --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude=./state . | tar -x -C "${copy}"`,
      ],
      { cwd: root },
    );
    await run('cp', ['-a', await realpath(join(root, 'node_modules')), join(copy, 'node_modules')]);
    await run('npm', ['run', '--silent', 'build'], { cwd: copy });
    await run('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: copy });
  });
  after(async () => {
    if (copy) await rm(copy, { recursive: true, force: true });
  });

  test('tsx and tsc are gone; the CLI keeps its execute bit', async () => {
    await assert.rejects(stat(join(copy, 'node_modules/.bin/tsx')));
    await assert.rejects(stat(join(copy, 'node_modules/.bin/tsc')));
    const { stdout } = await run(join(copy, 'dist/src/cli/pipdu.js'), ['help']);
    assert.match(stdout, /^usage: pipdu/);
  });

  test('check-config, pipdu, simulator and deploy-commands run from dist', async () => {
    const check = await npm(['check-config', '--', '--no-files', 'config/pipdu.example.yaml']);
    assert.equal(check.stdout, 'config/pipdu.example.yaml: OK (5 sockets named, driver prp1)\n');
    assert.match((await npm(['pipdu', '--', 'help'])).stdout, /^usage: pipdu/);
    assert.match((await npm(['simulator', '--', '--help'])).stdout, /usage: simulator-cli/);
    await assert.rejects(npm(['deploy-commands', '--', 'nope.yaml']), (error: { stderr: string }) => {
      assert.equal(error.stderr, 'no configuration file at nope.yaml\n');
      return true;
    });
  });

  test('npm start runs the daemon (no build step without tsc)', async () => {
    const state = await mkdtemp(join(tmpdir(), 'pipdu-pruned-state-'));
    const child = spawn('npm', ['start'], {
      cwd: copy,
      env: { ...process.env, PIPDU_CONFIG: '', STATE_DIRECTORY: state, PIPDU_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: npm, sh and node are stopped together
    });
    let output = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not running after 60 s:\n${output}`)), 60_000);
        const onData = (chunk: Buffer): void => {
          output += chunk.toString();
          if (/running: 0 of 16 sockets on/.test(output)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', () => {
          clearTimeout(timer);
          reject(new Error(`npm start exited:\n${output}`));
        });
      });
      assert.doesNotMatch(output, /tsc: not found|tsx: not found/);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGTERM');
      await exited;
      // npm exits before the daemon it started has saved its state and exited: wait for the whole group.
      await groupGone(child.pid as number);
      await rm(state, { recursive: true, force: true });
    }
  });
});

/** Resolves once no process of group `pgid` is left (there is no event for processes that are not our children). */
async function groupGone(pgid: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`process group ${pgid} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
