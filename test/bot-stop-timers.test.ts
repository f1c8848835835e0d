/**
 * stop() of the status message and of the audit channel leaves no timer
 * behind, even with a write waiting a minute for its turn on the limiter:
 * the process that ran them exits by itself at once (test/fixtures/bot-stop-exit.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/bot-stop-exit.ts', import.meta.url));

/** Runs the fixture; resolves with its exit code, the requests it printed and how long it lived. */
async function run(
  mode: string,
): Promise<{ code: number | null; requests: Array<{ method: string }>; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  // A timer left behind keeps it alive for 60 s: kill it well before the test times out.
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(guard);
  const ms = performance.now() - started;
  return { code, requests: code === 0 ? JSON.parse(stdout) : [], ms };
}

test('StatusMessage.stop() drops the write waiting for its turn, and no timer keeps the process alive', async () => {
  const { code, requests, ms } = await run('status');
  assert.equal(code, 0, `exited with ${code} after ${Math.round(ms)} ms`);
  assert.deepEqual(
    requests.map((r) => r.method),
    ['GET', 'POST'],
    'searched the history, posted the message; the waiting edit was dropped',
  );
});

test('AuditChannel.stop() posts the line waiting for its round at once, and no timer keeps the process alive', async () => {
  const { code, requests, ms } = await run('audit');
  assert.equal(code, 0, `exited with ${code} after ${Math.round(ms)} ms`);
  assert.deepEqual(
    requests.map((r) => r.method),
    ['POST', 'POST'],
  );
});
