import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_COMMAND_BYTES, parseCommand } from '../src/mqtt/command.js';
import { moved } from '../src/mqtt/readings.js';
import { Topics } from '../src/mqtt/topics.js';

// The MQTT bridge's pure parts: command payloads, the readings deadband, the topic layout.

test('set takes ON, OFF and TOGGLE in any case; anything else is one clear refusal', () => {
  assert.deepEqual(parseCommand('set', Buffer.from('ON')), { ok: true, action: 'on' });
  assert.deepEqual(parseCommand('set', Buffer.from(' off\n')), { ok: true, action: 'off' });
  assert.deepEqual(parseCommand('set', Buffer.from('Toggle')), { ok: true, action: 'toggle' });
  for (const payload of ['', '1', 'true', 'ONN', '{"state":"ON"}']) {
    const parsed = parseCommand('set', Buffer.from(payload));
    assert.ok(!parsed.ok);
    assert.equal(parsed.error.code, 'BAD_REQUEST');
    assert.equal(parsed.error.message, 'expected ON, OFF or TOGGLE; nothing was switched');
  }
});

test('cycle takes nothing, PRESS or an off-time with a unit', () => {
  assert.deepEqual(parseCommand('cycle', Buffer.from('')), { ok: true, action: 'cycle' });
  assert.deepEqual(parseCommand('cycle', Buffer.from('PRESS')), { ok: true, action: 'cycle' });
  assert.deepEqual(parseCommand('cycle', Buffer.from('10s')), {
    ok: true,
    action: 'cycle',
    offTimeMs: 10_000,
  });
  assert.deepEqual(parseCommand('cycle', Buffer.from('500ms')), {
    ok: true,
    action: 'cycle',
    offTimeMs: 500,
  });
  const bare = parseCommand('cycle', Buffer.from('10'));
  assert.ok(!bare.ok);
  assert.equal(bare.error.code, 'BAD_DURATION');
  const long = parseCommand('set', Buffer.alloc(MAX_COMMAND_BYTES + 1, 'O'));
  assert.ok(!long.ok);
  assert.match(long.error.message, /at most 256 bytes/);
});

test('the deadband: 5% and at least 1 VA or 10 mA; appearing and vanishing readings always count', () => {
  const sent = { va: 230, currentMa: 1000 };
  assert.equal(moved(sent, { watts: 235, currentMa: 1020 }), false, 'sensor noise');
  assert.equal(moved(sent, { watts: 230, currentMa: 1050 }), true, '5% more current');
  assert.equal(moved(sent, { watts: 242, currentMa: 1000 }), true, '5% more power');
  assert.equal(
    moved({ va: 0, currentMa: 0 }, { watts: 0.5, currentMa: 5 }),
    false,
    'below the absolute floor',
  );
  assert.equal(moved({ va: 0, currentMa: 0 }, { watts: 2.3, currentMa: 10 }), true);
  assert.equal(moved({ va: null, currentMa: null }, { watts: 0, currentMa: 0 }), true);
  assert.equal(moved(sent, { watts: null, currentMa: null }), true);
});

test('topics: one tree per PDU, commands by socket number, a node id Home Assistant accepts', () => {
  const topics = new Topics('lab/pdus/rack-a');
  assert.equal(topics.nodeId, 'lab_pdus_rack-a');
  assert.equal(topics.socket(5, 'state'), 'lab/pdus/rack-a/socket/5/state');
  assert.deepEqual(topics.parseCommand('lab/pdus/rack-a/socket/5/set'), { socket: '5', verb: 'set' });
  assert.deepEqual(topics.parseCommand('lab/pdus/rack-a/socket/12/cycle'), { socket: '12', verb: 'cycle' });
  assert.equal(topics.parseCommand('lab/pdus/rack-a/socket/5/state'), null);
  assert.equal(topics.parseCommand('lab/pdus/rack-b/socket/5/set'), null);
  assert.equal(topics.parseCommand('lab/pdus/rack-a/socket/5/x/set'), null);
});
