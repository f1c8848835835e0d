import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AlertChannel } from '../src/bot/alert-channel.js';
import { alarmMessage, energyText, socketInfoEmbed, sparkline, statusEmbed } from '../src/bot/embeds.js';
import { parseConfig } from '../src/config/load.js';
import { Energy } from '../src/energy/energy.js';
import { BoardOfflineError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import type { Alarm, PduEvents, SocketInfo } from '../src/pdu/types.js';
import { loggedInClient, startFakeDiscord } from './helpers/fake-discord.js';

const GENERAL = '1180000000000000021';
const HOMELAB_ROLE = '1180000000000000012';

function sockets(currentMa: number): SocketInfo[] {
  return Array.from({ length: 16 }, (_, i) => ({
    number: i + 1,
    name: i === 4 ? 'nas' : null,
    channel: i,
    on: i === 4,
    assumed: false,
    protected: false,
    restore: 'last',
    pending: null,
    currentMa: i === 4 ? currentMa : 0,
    watts: null,
    apparentVa: null,
    powerFactor: 1,
    realWatts: i === 4 ? (currentMa / 1000) * 230 : 0,
    changedAt: null,
  }));
}

test('an alarm reaches the alert channel mentioning the configured roles, and its message is edited when it clears', async () => {
  const fake = await startFakeDiscord();
  const client = await loggedInClient(fake);
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-alerts-'));
  const config = parseConfig(
    'version: 1\nboard: { driver: simulator }\nhistory: { enabled: false }\nsockets:\n  - number: 5\n    name: nas\n    alarms: { overCurrent: { amps: 2, for: 1s } }\n',
    't.yaml',
  );
  const events = new EventEmitter<PduEvents>();
  let now = Date.UTC(2026, 5, 10, 12);
  const audited: string[] = [];
  const energy = new Energy({
    service: { events, config, recordAction: (_actor, action) => void audited.push(action) },
    logger: silentLogger(),
    dir,
    now: () => now,
  });
  const alerts = new AlertChannel({
    client,
    channelId: GENERAL,
    roleIds: [HOMELAB_ROLE],
    events,
    logger: silentLogger(),
  });
  try {
    await energy.start();
    alerts.start();
    const feed = (ma: number, seconds: number) => {
      for (let t = 0; t < seconds * 2; t++) {
        now += 500;
        events.emit('telemetry', { sockets: sockets(ma), totalWatts: 0 });
      }
    };
    feed(1000, 2);
    feed(3000, 3); // over 2 A for 3 s: one alarm
    const raised = await fake.waitForChannelMessage(GENERAL, (m) => m.content.includes('Alarm'));
    assert.match(raised.content, /🚨 \*\*Alarm\*\* socket 5 \(nas\) draws 3 A, over its limit of 2 A/);
    assert.match(raised.content, new RegExp(`<@&${HOMELAB_ROLE}>`));
    const post = fake.requests.find((r) => r.method === 'POST' && r.path === `/channels/${GENERAL}/messages`);
    assert.deepEqual(post?.body.allowed_mentions, { parse: [], roles: [HOMELAB_ROLE] });
    feed(1000, 2); // below 1.9 A for 1 s: cleared
    const cleared = await fake.waitForChannelMessage(
      GENERAL,
      (m) => m.id === raised.id && m.content.includes('Cleared'),
    );
    assert.match(cleared.content, /✅ \*\*Cleared\*\* .*~~socket 5 \(nas\) draws 3 A.*~~ \(worst 3 A/);
    assert.doesNotMatch(cleared.content, /<@&/);
    assert.equal(
      fake
        .channelMessages(GENERAL)
        .filter((m) => m.content.includes('Alarm') || m.content.includes('Cleared')).length,
      1,
    );
    assert.deepEqual(audited, ['alarm-raised', 'alarm-cleared']);
  } finally {
    await alerts.stop();
    await energy.stop();
    await client.destroy();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('embeds say which power they show, and show energy, the last 24 h and alarms', () => {
  assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7]), '▁▂▃▄▅▆▇█');
  assert.equal(sparkline([5, 5, 5]), '▁▁▁');
  assert.equal(sparkline(Array.from({ length: 96 }, (_, i) => i)).length, 48);
  const energy = { todayKwh: 0.4234, monthKwh: 12.345, totalKwh: 1234.5, gaps: 2 };
  assert.equal(energyText(energy), '0.42 kWh today · 12.3 kWh this month · 1235 kWh in all');
  const config = parseConfig(
    'version: 1\nboard: { driver: simulator }\nsockets:\n  - { number: 5, name: nas, powerFactor: 0.8 }\n',
    't.yaml',
  );
  const info: SocketInfo = {
    ...sockets(1000)[4]!,
    watts: 230,
    apparentVa: 230,
    powerFactor: 0.8,
    realWatts: 184,
    energy,
  };
  const alarm: Alarm = {
    id: 'overCurrent:5',
    kind: 'overCurrent',
    severity: 'critical',
    socket: 5,
    socketName: 'nas',
    unit: 'A',
    limit: 2,
    value: 3,
    worst: 3.2,
    since: '2026-06-10T12:00:00.000Z',
    message: 'socket 5 (nas) draws 3 A, over its limit of 2 A',
  };
  const embed = socketInfoEmbed(info, config.sockets[4]!, { history: [10, 20, 230], alarms: [alarm] });
  const all = JSON.stringify(embed);
  assert.match(all, /230 W · 1\.00 A\\napparent \(A × V\)\\n≈ 184 W real \(power factor 0\.8\)/);
  assert.match(all, /0\.42 kWh today/);
  assert.match(all, /Last 24 h/);
  assert.match(all, /▁▁█/);
  assert.match(all, /🚨 socket 5 \(nas\) draws 3 A/);
  const status = statusEmbed(
    {
      name: 'rack-a',
      mainsVoltage: 230,
      board: { driver: 'simulator', online: true, reportsState: true, identity: null, stats: {} as never },
      sockets: sockets(1000),
      totalWatts: 230,
    },
    { energy, history: [1, 2], alarms: [alarm] },
  );
  assert.match(status.description!, /^\*\*230 W\*\* · 1 of 16 on\n/, 'the first line says what matters now');
  assert.match(status.footer!.text, /230 V · apparent power \(A × V\)/, 'which power it shows');
  assert.match(status.description!, /\*\*Energy\*\* 0\.42 kWh today/);
  assert.match(status.description!, /\*\*Last 24 h\*\* `▁█` peak 2\.0 W/);
  assert.match(alarmMessage(alarm, 'cleared', '2026-06-10T12:05:00.000Z', []), /worst 3\.2 A/);
});

test('alerts as new messages: board offline and back, a failed pipeline, power on an off socket, a reset and what was restored', async () => {
  const fake = await startFakeDiscord();
  const client = await loggedInClient(fake);
  const events = new EventEmitter<PduEvents>();
  const alerts = new AlertChannel({
    client,
    channelId: GENERAL,
    roleIds: [HOMELAB_ROLE],
    events,
    logger: silentLogger(),
    link: () => 'https://discord.com/channels/1/2/3',
    restoreWindowMs: 50,
  });
  const posts = () =>
    fake.requests.filter((r) => r.method === 'POST' && r.path === `/channels/${GENERAL}/messages`);
  try {
    alerts.start();
    const now = sockets(1000).map((s) => ({ ...s, watts: s.on ? 230 : 0 }));
    events.emit('telemetry', { sockets: now, totalWatts: 230 });
    events.emit('boardOnline', { identity: {} as never, reconnect: false });
    events.emit('boardOffline', { reason: new BoardOfflineError() });
    const offline = await fake.waitForChannelMessage(GENERAL, (m) => m.content.includes('offline'));
    assert.match(
      offline.content,
      /^🔴 \*\*Relay board offline\*\* <t:\d+:R>: nothing can be switched until it is back\.\nLast known: 1 of 16 on \(nas\), 230 W\.\n\[Status\]\(<https:\/\/discord\.com\/channels\/1\/2\/3>\)\n<@&\d+>$/,
    );
    events.emit('boardOnline', { identity: {} as never, reconnect: true });
    const back = await fake.waitForChannelMessage(GENERAL, (m) => m.content.includes('back online'));
    assert.doesNotMatch(back.content, /<@&/, 'good news pings nobody');
    assert.deepEqual(posts().at(-1)?.body.allowed_mentions, { parse: [], roles: [] });

    events.emit('action', {
      time: new Date().toISOString(),
      actor: { kind: 'discord', id: '9', name: 'olly' },
      action: 'off',
      socket: 5,
      socketName: 'nas',
      result: 'error',
      code: 'SSH_UNREACHABLE',
      message:
        'preOff step 1 of 2 (ssh root@10.0.0.5: sudo poweroff) failed: ssh root@10.0.0.5: cannot connect: connection refused',
      durationMs: 3000,
      details: {
        steps: [
          {
            phase: 'preOff',
            index: 1,
            total: 2,
            kind: 'ssh',
            label: 'ssh root@10.0.0.5: sudo poweroff',
            status: 'failed',
            startedAt: null,
            durationMs: 3000,
            error: {
              code: 'SSH_UNREACHABLE',
              message: 'ssh root@10.0.0.5: cannot connect: connection refused',
            },
          },
        ],
      },
    });
    const failed = await fake.waitForChannelMessage(GENERAL, (m) => m.content.includes("Couldn't"));
    assert.match(
      failed.content,
      /^❌ \*\*Couldn't switch off 5 · nas\*\* \(asked by olly <t:\d+:R>\)\nCouldn't SSH to root@10\.0\.0\.5 \(connection refused\)\.\n\*\*nas is on, 230 W\*\*; the relay was not touched\./,
    );
    events.emit('action', {
      time: new Date().toISOString(),
      actor: { kind: 'discord', id: '9' },
      action: 'off',
      socket: 5,
      result: 'error',
      code: 'FORBIDDEN',
      message: 'no',
      durationMs: 0,
    });

    const drawing = now.map((s) => (s.number === 12 ? { ...s, name: 'printer', watts: 580 } : s));
    events.emit('telemetry', { sockets: drawing, totalWatts: 810 });
    events.emit('telemetry', { sockets: drawing, totalWatts: 810 });
    const draws = await fake.waitForChannelMessage(GENERAL, (m) => m.content.includes('shown off'));
    assert.match(draws.content, /^⚠️ \*\*12 · printer draws 580 W but is shown off\.\*\*/);

    events.emit('boardReset', { mask: 0, detectedBy: 'boot-event', resetOnOpen: false });
    events.emit('action', {
      time: new Date().toISOString(),
      actor: { kind: 'system', id: 'pipdu' },
      action: 'on',
      socket: 5,
      socketName: 'nas',
      result: 'ok',
      durationMs: 5,
      details: { restore: 'last', changed: true },
    });
    const reset = await fake.waitForChannelMessage(GENERAL, (m) => m.content.includes('reset'));
    assert.match(
      reset.content,
      /^⚠️ \*\*Relay board reset\*\* <t:\d+:R> \(power loss, watchdog or reset\): every relay went off\.\nRestored: 5 · nas on\./,
    );
    await alerts.stop();
    assert.equal(
      posts().length,
      5,
      'one message each; no alert for a refusal, none for the first connect, one for the drawing socket',
    );
  } finally {
    await alerts.stop();
    await client.destroy();
    await fake.close();
  }
});
