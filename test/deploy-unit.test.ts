/**
 * The systemd unit's node flags (deploy/pipdu.service), read the way the
 * benchmarks read them (bench/support.ts): no cap on the old-generation heap
 * (a process that runs discord.js would only crash out of memory under a
 * burst), the young generation kept small. test/main.test.ts checks they
 * equal `npm start`'s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeFlags, unitFlags } from '../bench/support.js';

test('nodeFlags picks the -- words of a command line, in order', () => {
  assert.deepEqual(nodeFlags('/usr/bin/node --a=1  --b /opt/x.js -c'), ['--a=1', '--b']);
  assert.deepEqual(nodeFlags('node dist/src/main.js'), []);
});

test('the unit keeps the young generation small and does not cap the heap', async () => {
  const flags = await unitFlags();
  assert.ok(flags.includes('--max-semi-space-size=1'), flags.join(' '));
  assert.ok(flags.includes('--optimize-for-size'), flags.join(' '));
  assert.ok(!flags.some((flag) => flag.startsWith('--max-old-space-size')), flags.join(' '));
});
