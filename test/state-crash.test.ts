import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

/** Starts the burst writer and SIGKILLs it once it has made `changes` switch-state changes. */
async function killDuringBurst(dir: string, changes: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/state-burst.ts', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    let text = '';
    let checking = false;
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const last = Number(text.trimEnd().split('\n').pop());
      if (last < changes || checking) return;
      // In the middle of the burst, and once a state.json has landed (the first write can lag the first changes).
      checking = true;
      access(join(dir, 'state.json')).then(resolve, () => {
        checking = false;
      });
    });
    child.once('exit', () => reject(new Error(`the burst writer exited early:\n${stderr}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
}

test('a daemon killed with SIGKILL in the middle of a burst of changes leaves a valid state.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-crash-'));
  try {
    for (const changes of [40, 120, 300]) {
      await killDuringBurst(dir, changes);
      const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
      assert.equal(state.version, 1);
      assert.equal(typeof state.mask, 'number');
      assert.match(state.bootId, /^[0-9A-F]{1,8}$/);
      assert.equal(Object.keys(state.sockets).length, 16);
      for (let socket = 1; socket <= 16; socket++) {
        assert.equal(
          state.sockets[socket],
          (state.mask & (1 << (socket - 1))) !== 0,
          'sockets agree with the mask',
        );
      }
      // The audit log survives too: every complete (newline-terminated) line parses.
      const complete = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).split('\n').slice(0, -1);
      assert.ok(complete.length > 0, 'the audit log has entries');
      for (const line of complete) JSON.parse(line);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
