import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { type AuditEntry, AuditLog } from '../src/audit/audit-log.js';
import { silentLogger } from '../src/log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipdu-audit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(n: number): AuditEntry {
  return {
    time: new Date(1_700_000_000_000 + n).toISOString(),
    actor: { kind: 'api', id: 'ci-runner' },
    action: 'on',
    socket: (n % 16) + 1,
    result: 'ok',
    durationMs: n,
  };
}

test('entries are appended one JSON object per line and read back oldest first', async () => {
  const log = new AuditLog({ dir, maxBytes: 1_000_000, logger: silentLogger() });
  await log.start();
  for (let n = 0; n < 5; n++) await log.append(entry(n));
  const lines = (await readFile(log.file, 'utf8')).trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.deepEqual(JSON.parse(lines[4] ?? ''), entry(4));
  assert.deepEqual(
    (await log.read(3)).map((e) => e.durationMs),
    [2, 3, 4],
  );
  await log.stop();
});

test('a last line cut by a crash is skipped on read and the next entry starts a new line', async () => {
  const file = join(dir, 'audit.jsonl');
  await appendFile(file, `${JSON.stringify(entry(1))}\n{"time":"2024-01-01T00:00:00.000Z","act`);
  const log = new AuditLog({ dir, maxBytes: 1_000_000, logger: silentLogger() });
  await log.start();
  await log.append(entry(2));
  const entries = await log.read(10);
  assert.deepEqual(
    entries.map((e) => e.durationMs),
    [1, 2],
  );
  const text = await readFile(file, 'utf8');
  assert.ok(text.endsWith(`\n${JSON.stringify(entry(2))}\n`), 'the new entry is on its own line');
  await log.stop();
});

test('the log rotates to audit.1.jsonl past maxBytes and read() spans both files', async () => {
  const lineBytes = Buffer.byteLength(`${JSON.stringify(entry(10))}\n`);
  const log = new AuditLog({ dir, maxBytes: lineBytes * 4, logger: silentLogger() });
  await log.start();
  for (let n = 10; n < 20; n++) await log.append(entry(n));
  const current = await stat(join(dir, 'audit.jsonl'));
  const rotated = await stat(join(dir, 'audit.1.jsonl'));
  assert.ok(current.size <= lineBytes * 4, 'the current file stays under maxBytes');
  assert.ok(rotated.size <= lineBytes * 4);
  const latest = await log.read(6);
  assert.deepEqual(
    latest.map((e) => e.durationMs),
    [14, 15, 16, 17, 18, 19],
  );
  await log.stop();
});

test('concurrent appends are all kept, in call order', async () => {
  const log = new AuditLog({ dir, maxBytes: 1_000_000, logger: silentLogger() });
  await log.start();
  await Promise.all(Array.from({ length: 50 }, (_, n) => log.append(entry(n))));
  const entries = await log.read(100);
  assert.deepEqual(
    entries.map((e) => e.durationMs),
    Array.from({ length: 50 }, (_, n) => n),
  );
  await log.stop();
});
