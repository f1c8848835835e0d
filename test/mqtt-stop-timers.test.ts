/**
 * MqttBridge.stop() leaves no timer, limiter or socket behind: the process
 * that ran it (test/fixtures/mqtt-stop-exit.ts) exits by itself at once,
 * whether a throttled telemetry message waited a minute for its turn or a
 * reconnect was a minute away.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';
import { freePort } from './helpers/ports.js';

const fixture = fileURLToPath(new URL('./fixtures/mqtt-stop-exit.ts', import.meta.url));
let broker: Mosquitto;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker?.stop();
});

async function run(mode: string, url: string): Promise<{ code: number | null; stdout: string; ms: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode, url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  let stoppedAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes('stopped') && stoppedAt === 0) stoppedAt = performance.now();
  });
  // A timer left behind keeps it alive for 60 s: kill it well before the test times out.
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(guard);
  return { code, stdout, ms: stoppedAt === 0 ? Number.NaN : performance.now() - stoppedAt };
}

test('stop() with a telemetry message waiting a minute on its limiter: the process ends at once', async () => {
  const { code, stdout, ms } = await run('throttled', broker.url);
  assert.equal(stdout, 'stopped\n');
  assert.equal(code, 0, `exited with ${code}`);
  assert.ok(ms < 5000, `lived ${Math.round(ms)} ms after stop()`);
});

test('stop() with a reconnect a minute away: the process ends at once', async () => {
  const { code, stdout, ms } = await run('reconnecting', `mqtt://127.0.0.1:${await freePort()}`);
  assert.equal(stdout, 'stopped\n');
  assert.equal(code, 0, `exited with ${code}`);
  assert.ok(ms < 5000, `lived ${Math.round(ms)} ms after stop()`);
});
