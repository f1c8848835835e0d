import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { silentLogger } from '../src/log.js';
import { StateStore } from '../src/state/state-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipdu-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('no state file means first contact (null)', async () => {
  const store = new StateStore({ dir, logger: silentLogger() });
  assert.equal(await store.load(), null);
});

test('a saved state is read back, and no temp file is left behind', async () => {
  const store = new StateStore({ dir, logger: silentLogger() });
  await store.save({ bootId: '3F2A91C0', mask: 0x00ef, sockets: { 1: true, 5: false } });
  const again = new StateStore({ dir, logger: silentLogger() });
  const loaded = await again.load();
  assert.equal(loaded?.bootId, '3F2A91C0');
  assert.equal(loaded?.mask, 0x00ef);
  assert.deepEqual(loaded?.sockets, { 1: true, 5: false });
  assert.deepEqual(await readdir(dir), ['state.json']);
});

test('a burst of saves is coalesced: fewer writes than saves, and the last state wins', async () => {
  const store = new StateStore({ dir, logger: silentLogger() });
  const saves = Array.from({ length: 20 }, (_, n) => store.save({ bootId: 'A', mask: n, sockets: {} }));
  await Promise.all(saves);
  assert.ok(store.writeCount < 20, `expected coalescing, got ${store.writeCount} writes`);
  assert.equal(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).mask, 19);
});

test('a corrupt state file is treated as first contact, not a crash', async () => {
  await writeFile(join(dir, 'state.json'), '{"version":1,"mask":');
  const store = new StateStore({ dir, logger: silentLogger() });
  assert.equal(await store.load(), null);
});
