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

test('a lone change is written at once; changes within the interval wait for it, and flush() writes them now', async () => {
  const store = new StateStore({ dir, logger: silentLogger(), minIntervalMs: 60_000 });
  const read = async () => JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).mask as number;
  await store.save({ bootId: 'A', mask: 1, sockets: {} });
  assert.equal(store.writeCount, 1);
  assert.equal(await read(), 1);

  // Within the interval: nothing is written until its slot (a minute away) or a flush.
  const second = store.save({ bootId: 'A', mask: 2, sockets: {} });
  const third = store.save({ bootId: 'A', mask: 3, sockets: {} });
  assert.equal(second, third, 'both wait for the same write');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(store.writeCount, 1);
  assert.equal(await read(), 1);

  await store.flush();
  await third;
  assert.equal(store.writeCount, 2, 'the two changes went out as one write');
  assert.equal(await read(), 3);
  assert.ok(!process.getActiveResourcesInfo().includes('Timeout'), 'no timer is left waiting once flushed');
});

test('with the default interval a steady stream of changes costs a handful of writes, the last state on disk', async () => {
  const store = new StateStore({ dir, logger: silentLogger() });
  // Each change waits for the previous one to be saved, as a daemon switching one socket after another does.
  let saved = 0;
  const until = performance.now() + 250;
  for (let mask = 0; performance.now() < until || mask < 5; mask++) {
    void store.save({ bootId: 'A', mask, sockets: {} });
    saved = mask;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await store.flush();
  assert.equal(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).mask, saved);
  assert.ok(store.writeCount <= 5, `${store.writeCount} writes for ${saved + 1} changes over 250 ms`);
});
