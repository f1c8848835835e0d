import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { addressKey, LoginThrottle } from '../src/api/login-throttle.js';

test('addresses are counted as IPv4, or by their IPv6 /64', () => {
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7', 'IPv4-mapped is the IPv4 address');
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0000:0002::1'), '2001:db8:0:2::/64');
  assert.equal(addressKey('2001:db8:0:2:ffff::9'), addressKey('2001:db8::2:1:2:3:4'), 'one /64, one key');
  assert.notEqual(addressKey('2001:db8:0:2::1'), addressKey('2001:db8:0:3::1'));
});

test('take() spends per address and per user, refund() gives back, a refusal spends nothing; stop() leaves no timer', async () => {
  // bottleneck's timers are unref'd (getActiveResourcesInfo() does not list them): follow them by hook.
  const live = new Set<number>();
  const hook = createHook({
    init: (id, type) => {
      if (type === 'Timeout') live.add(id);
    },
    destroy: (id) => live.delete(id),
  }).enable();
  const throttle = new LoginThrottle({ perAddress: 4, perUser: 2, refillMs: 60_000 });
  const take = async (address: string, user: string) => (await throttle.take(address, user)).ok;
  assert.deepEqual(
    [await take('a', 'bob'), await take('a', 'Bob')],
    [true, true],
    'names count case-insensitively',
  );
  const refused = await throttle.take('a', 'bob');
  assert.deepEqual(refused, { ok: false, retryAfterS: 75 }, 'bob has none left');
  await throttle.refund('a', 'bob');
  assert.equal(await take('a', 'bob'), true, 'a refund gives one back');
  // The address has 2 of 4 left (the refund gave one back, the refusal cost nothing): two more names, then none.
  assert.deepEqual([await take('a', 'x'), await take('a', 'y'), await take('a', 'z')], [true, true, false]);
  assert.equal(await take('b', 'y'), true, 'another address, a user with tries left');
  assert.ok(live.size >= 4, `bottleneck's timers run (${live.size}): two groups, four limiters`);
  await throttle.stop();
  await nextTurn();
  hook.disable();
  assert.equal(live.size, 0, 'stop() cleared them all');
});
