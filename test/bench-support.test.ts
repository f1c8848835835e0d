import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { descendants, endLeftovers, pdudaemonSkip } from '../bench/support.js';

// What `npm run bench` relies on to leave nothing running and to skip what is not installed.

test('endLeftovers ends every process started under this one, grandchildren too', async () => {
  // A shell with two sleeping children, as a bench leaves a daemon with its simulator.
  const shell = spawn('sh', ['-c', 'sleep 300 & sleep 300 & echo started; wait'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise((resolve) => shell.once('exit', resolve));
  await new Promise((resolve) => shell.stdout.once('data', resolve));
  const before = await descendants();
  assert.ok(before.includes(shell.pid as number));
  assert.ok(before.length >= 3, `the shell and its two sleeps: ${before.join(' ')}`);
  const ended = await endLeftovers(2000);
  assert.deepEqual([...ended].sort(), [...before].sort());
  await exited;
  for (const pid of before) assert.throws(() => process.kill(pid, 0), 'gone');
  assert.deepEqual(await descendants(), []);
});

test('the pdudaemon comparison is skipped with one line when pdudaemon is missing', async () => {
  assert.equal(
    await pdudaemonSkip('/nonexistent/pdudaemon'),
    'pdudaemon peer comparison skipped: /nonexistent/pdudaemon is not installed (Debian: sudo apt-get install pdudaemon)\n',
  );
  assert.equal(await pdudaemonSkip(process.execPath), null);
});
