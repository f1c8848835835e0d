/**
 * Hostile config files (issue: "Hostile config files are unbounded") against
 * the real processes: `check-config`, the loader child behind
 * loadConfigIsolated (start-up and reloads) and the daemon's start. Each
 * answers with one located line, in seconds, within a memory bound, and the
 * daemon never opens the board's port.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '../src/config/config-error.js';
import { LOADER_MEMORY_MB, loadConfigIsolated } from '../src/config/load-isolated.js';
import { startSimulator } from './helpers/simulator-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsx = import.meta.resolve('tsx');

/** Before these limits, 100k brackets overflowed the stack and a 50 MB file took 130 s and 4.2 GB. */
const ANSWER_WITHIN_MS = 20_000;

interface Hostile {
  name: string;
  /** The file, with `board` as its second line. */
  body: (board: string) => string;
  /** The one line expected for `file` of `bytes` bytes. */
  line: (file: string, bytes: number) => string;
}

const HOSTILE: Hostile[] = [
  {
    name: 'an alias bomb',
    body: (board) =>
      [
        'version: 1',
        board,
        'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]',
        'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
        'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
        'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
        'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
        'f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]',
        '',
      ].join('\n'),
    line: (file) =>
      `${file}:6:8 d[0]: YAML: too many aliases: more than 100 once aliases inside aliases are counted`,
  },
  {
    name: 'a 50 MB file',
    body: (board) => `version: 1\n${board}\n# ${'x'.repeat(50 * 1024 * 1024)}\n`,
    line: (file, bytes) =>
      `${file}:1:1 the file is too large: a configuration may be at most 1 MiB (1048576 bytes), ` +
      `this one is ${bytes} bytes`,
  },
  {
    name: '100k nested brackets',
    body: (board) => `version: 1\n${board}\nname: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
    line: (file) =>
      `${file}:3:70 YAML: nested more than 64 levels deep (lists and mappings inside each other)`,
  },
];

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pipdu-hostile-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The hostile file written under `name`, and the one line it must get. */
async function hostileFile(
  hostile: Hostile,
  board: string,
  name: string,
): Promise<{ file: string; expected: string }> {
  const file = path.join(dir, `${name}.yaml`);
  const body = hostile.body(board);
  await writeFile(file, body);
  return { file, expected: hostile.line(file, Buffer.byteLength(body)) };
}

/** A process to its end: exit code, output, and how long it took. */
function runToEnd(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

for (const [index, hostile] of HOSTILE.entries()) {
  test(`check-config answers ${hostile.name} with one located line, in seconds, in 32 MB`, async () => {
    const { file, expected } = await hostileFile(hostile, 'board: { driver: simulator }', `check-${index}`);
    // Its own heap is capped here; the loader child runs under its own cap of 64 MB,
    // which a line about memory would report instead of the located one.
    const result = await runToEnd(
      ['--max-old-space-size=32', '--import', tsx, 'src/config/check-config.ts', file],
      {
        cwd: root,
      },
    );
    assert.equal(result.stderr, `${expected}\n`);
    assert.equal(result.stdout, '');
    assert.equal(result.code, 1);
    assert.ok(result.ms < ANSWER_WITHIN_MS, `took ${Math.round(result.ms)} ms`);
  });

  test(`loadConfigIsolated rejects ${hostile.name} with a located ConfigError, in a 32 MB loader`, async () => {
    const { file, expected } = await hostileFile(
      hostile,
      'board: { driver: simulator }',
      `isolated-${index}`,
    );
    const started = performance.now();
    await assert.rejects(loadConfigIsolated({ file, memoryMb: 32 }), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.format(), expected);
      return true;
    });
    const ms = performance.now() - started;
    assert.ok(ms < ANSWER_WITHIN_MS, `took ${Math.round(ms)} ms`);
  });
}

test('a loader over its time limit is stopped, with one line on the file', async () => {
  // A FIFO nobody writes to: opening it never returns, as with a hung network mount.
  const fifo = path.join(dir, 'stuck.yaml');
  await promisify(execFile)('mkfifo', [fifo]);
  const started = performance.now();
  await assert.rejects(loadConfigIsolated({ file: fifo, timeoutMs: 1000 }), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(
      error.format(),
      `${fifo}:1:1 loading this file took longer than 1 s, the config loader's limit; it was stopped`,
    );
    return true;
  });
  const ms = performance.now() - started;
  assert.ok(ms >= 1000 && ms < 10_000, `took ${Math.round(ms)} ms`);
});

test('a loader over its memory limit is stopped, with one line on the file', async () => {
  // Within every limit of load.ts (10000 keys and values, the most it takes): the default
  // heap limit is enough for it, a quarter of it is not.
  const file = path.join(dir, 'heavy.yaml');
  await writeFile(file, `version: 1\nboard: { driver: simulator }\nname: [${'{}, '.repeat(9991)}{}]\n`);
  await assert.rejects(loadConfigIsolated({ file }), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.format(), `${file}:3:1 name: expected text, got a list`);
    return true;
  });
  await assert.rejects(loadConfigIsolated({ file, memoryMb: LOADER_MEMORY_MB / 4 }), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(
      error.format(),
      `${file}:1:1 loading this file needed more than 16 MB of memory, the config loader's limit; it was stopped`,
    );
    return true;
  });
});

test('a daemon started on a hostile file exits 78 (EX_CONFIG) with the one line and never opens the board', async () => {
  const sim = await startSimulator();
  try {
    const { PIPDU_CONFIG: _config, DISCORD_TOKEN: _token, ...inherited } = process.env;
    const cwd = await mkdtemp(path.join(dir, 'daemon-'));
    for (const [index, hostile] of HOSTILE.entries()) {
      const { file, expected } = await hostileFile(
        hostile,
        `board: { driver: prp1, port: ${sim.path} }`,
        `daemon-${index}`,
      );
      const result = await runToEnd(['--import', tsx, path.join(root, 'src/main.ts')], {
        cwd,
        env: { ...inherited, PIPDU_LOG_FORMAT: 'json', PIPDU_CONFIG: file },
      });
      assert.equal(
        result.stderr,
        `${expected}\nPiPDU did not start: fix the configuration above.\n`,
        hostile.name,
      );
      assert.equal(result.stdout, '', hostile.name);
      assert.equal(result.code, 78, hostile.name);
      assert.ok(result.ms < ANSWER_WITHIN_MS, `${hostile.name} took ${Math.round(result.ms)} ms`);
    }
    // A daemon that had opened the port would have sent HELLO at once.
    await sim.command('delay 0'); // a round trip: the simulator's request log is up to date
    assert.deepEqual(sim.requests, []);
  } finally {
    await sim.stop();
  }
});

test('a daemon whose PIPDU_CONFIG names no file says so in one line, no stack trace', async () => {
  const { PIPDU_CONFIG: _config, DISCORD_TOKEN: _token, ...inherited } = process.env;
  const cwd = await mkdtemp(path.join(dir, 'daemon-'));
  const missing = path.join(dir, 'missing.yaml');
  const result = await runToEnd(['--import', tsx, path.join(root, 'src/main.ts')], {
    cwd,
    env: { ...inherited, PIPDU_LOG_FORMAT: 'json', PIPDU_CONFIG: missing },
  });
  assert.equal(result.stderr, `PIPDU_CONFIG names ${missing}, which does not exist\nPiPDU did not start.\n`);
  assert.equal(result.stdout, '');
  assert.equal(result.code, 78);
});
