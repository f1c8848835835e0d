import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, test } from 'node:test';
import type { SimulatedBoard } from '../hardware/simulated-board.js';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { MqttBridge, type MqttBridgeDeps, type MqttTiming } from '../src/mqtt/mqtt-bridge.js';
import type { Alarm } from '../src/pdu/types.js';
import { checkDiscovery } from './helpers/ha-discovery.js';
import { type Mosquitto, startMosquitto, USERS, Watcher } from './helpers/mosquitto.js';
import { PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// The MQTT bridge against Debian's mosquitto (password file, ACL), on the in-process board simulator.

const ENV = { PIPDU_MQTT_PASSWORD: USERS.daemon.password };
const FAST: Partial<MqttTiming> = { backoffInitialMs: 50, backoffMaxMs: 200 };

let broker: Mosquitto;
const cleanups: Array<() => Promise<unknown>> = [];
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker?.stop();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Pdu {
  fixture: PduFixture;
  bridge: MqttBridge;
  base: string;
}

/** A PDU named `name` on the simulator with the bridge connected to the broker (ready: state published, commands subscribed). */
async function pdu(
  name: string,
  extra = '',
  options: {
    mqtt?: string;
    timing?: Partial<MqttTiming>;
    env?: NodeJS.ProcessEnv;
    wait?: boolean;
    energy?: MqttBridgeDeps['energy'];
  } = {},
): Promise<Pdu> {
  const fixture = await PduFixture.create(
    `name: ${name}\n${extra}mqtt:\n  url: ${broker.url}\n  username: ${USERS.daemon.username}\n  passwordEnv: PIPDU_MQTT_PASSWORD\n${options.mqtt ?? ''}`,
  );
  cleanups.push(() => fixture.dispose());
  await fixture.startDaemon();
  const bridge = new MqttBridge({
    service: fixture.service,
    logger: silentLogger(),
    env: options.env ?? ENV,
    timing: { ...FAST, ...options.timing },
    ...(options.energy ? { energy: options.energy } : {}),
  });
  cleanups.push(() => bridge.stop());
  const ready = once(bridge.events, 'ready');
  await bridge.start();
  if (options.wait !== false) await ready;
  return { fixture, bridge, base: `pipdu/${name}` };
}

async function watcher(...filters: string[]): Promise<Watcher> {
  const w = await Watcher.connect(broker.url);
  cleanups.push(() => w.close());
  if (filters.length > 0) await w.subscribe(...filters);
  return w;
}

const SOCKETS = `sockets:
  - { number: 1, name: pi-self, protected: true, restore: on }
  - { number: 4, name: lamp, restore: off }
  - { number: 5, name: nas }
`;

describe('MQTT bridge with a real broker', () => {
  test('Home Assistant finds one device with 16 switches, their meters and cycle buttons, every config valid', async () => {
    const { fixture } = await pdu('disco', SOCKETS);
    const ha = await watcher('homeassistant/+/pipdu_disco/+/config', 'pipdu/disco/#');
    // 1 board sensor + per socket a switch, power, current, cycle button.
    await ha.until(
      () => new Set(ha.messages.filter((m) => m.topic.endsWith('/config')).map((m) => m.topic)).size === 65,
    );
    const configs = ha.messages.filter((m) => m.topic.endsWith('/config') && m.retain);
    const problems = configs.flatMap((m) =>
      checkDiscovery(m.topic, JSON.parse(m.payload)).map((p) => `${m.topic}: ${p}`),
    );
    assert.deepEqual(problems, []);
    const parsed = configs.map((m) => ({
      topic: m.topic,
      config: JSON.parse(m.payload) as Record<string, unknown>,
    }));
    const ids = parsed.map((entry) => entry.config.unique_id);
    assert.equal(new Set(ids).size, ids.length, 'unique_ids are unique');
    const byComponent = (component: string) =>
      parsed.filter((entry) => entry.topic.split('/')[1] === component);
    assert.equal(byComponent('switch').length, 16);
    assert.equal(byComponent('button').length, 16);
    assert.equal(byComponent('sensor').length, 32);
    assert.equal(byComponent('binary_sensor').length, 1);
    for (const { config } of byComponent('switch')) {
      assert.equal(config.optimistic, false, 'state from the board, never optimistic');
      assert.equal(config.availability_mode, 'all');
      assert.deepEqual(
        (config.availability as Array<{ topic: string }>).map((a) => a.topic),
        ['pipdu/disco/availability', 'pipdu/disco/board/availability'],
      );
    }
    const nas = byComponent('switch').find((entry) => entry.topic.includes('/s5_nas_switch/'));
    assert.equal(nas?.config.name, 'nas (socket 5)');
    assert.equal(nas?.config.command_topic, 'pipdu/disco/socket/5/set');
    const power = byComponent('sensor').find((entry) => entry.topic.includes('/s5_nas_power/'));
    assert.deepEqual(
      [power?.config.device_class, power?.config.unit_of_measurement, power?.config.state_class],
      ['apparent_power', 'VA', 'measurement'],
    );
    const board = byComponent('binary_sensor')[0]?.config;
    assert.equal(board?.device_class, 'connectivity');
    const device = board?.device as Record<string, unknown>;
    assert.equal(
      device.serial_number,
      (fixture.sim as SimulatedBoard).serial,
      'the board identity (serial) is on the device',
    );
    // The state as retained messages, before any command.
    await ha.until(() => ha.latest('pipdu/disco/socket/16/state') !== undefined);
    assert.equal(ha.latest('pipdu/disco/availability'), 'online');
    assert.equal(ha.latest('pipdu/disco/board/availability'), 'online');
    assert.equal(
      JSON.parse(ha.latest('pipdu/disco/board') ?? '{}').identity.serial,
      (fixture.sim as SimulatedBoard).serial,
    );
    assert.equal(ha.latest('pipdu/disco/socket/5/state'), 'OFF');
  });

  test("with the energy part: each socket's kWh (total_increasing), and the alarms as problem sensors", async () => {
    // The counters and alarms themselves are the energy tests' (test/energy*.test.ts): fixed figures stand in.
    let raised: Alarm[] = [
      {
        id: 'overCurrent:5',
        kind: 'overCurrent',
        severity: 'critical',
        socket: 5,
        socketName: 'nas',
        unit: 'A',
        limit: 2,
        value: 2.4,
        worst: 2.6,
        since: new Date().toISOString(),
        message: 'nas (socket 5) draws 2.4 A, over its 2 A limit',
      },
    ];
    const energy: NonNullable<MqttBridgeDeps['energy']> = {
      withEnergy: (socket) => ({
        ...socket,
        energy: { todayKwh: 0.1, monthKwh: 0.5, totalKwh: socket.number * 1.5, gaps: 0 },
      }),
      activeAlarms: () => raised,
    };
    const { fixture } = await pdu('metered', SOCKETS, { energy });
    const ha = await watcher('homeassistant/+/pipdu_metered/+/config', 'pipdu/metered/#');
    await ha.until(() => ha.latest('pipdu/metered/socket/5/energy') === '7.5000');
    for (const object of ['s5_nas_alarm', 's5_nas_energy', 'pdu_alarm']) {
      await ha.until(() => ha.messages.some((m) => m.topic.includes(`/${object}/`)));
    }
    const config = (object: string) => {
      const message = ha.messages.find((m) => m.topic.includes(`/${object}/`));
      const parsed = JSON.parse(message?.payload ?? '{}') as Record<string, unknown>;
      assert.deepEqual(checkDiscovery(message?.topic ?? '', parsed), [], `${object} is a valid config`);
      return parsed;
    };
    const kwh = config('s5_nas_energy');
    assert.deepEqual(
      [kwh.device_class, kwh.unit_of_measurement, kwh.state_class, kwh.state_topic],
      ['energy', 'kWh', 'total_increasing', 'pipdu/metered/socket/5/energy'],
    );
    const alarm = config('s5_nas_alarm');
    assert.deepEqual([alarm.device_class, alarm.state_topic], ['problem', 'pipdu/metered/socket/5/alarm']);
    assert.equal(config('pdu_alarm').device_class, 'problem');
    await ha.until(() => ha.latest('pipdu/metered/socket/5/alarm') === 'ON');
    assert.equal(ha.latest('pipdu/metered/socket/4/alarm'), 'OFF');
    assert.equal(ha.latest('pipdu/metered/alarm'), 'OFF');
    assert.match(ha.latest('pipdu/metered/socket/5/alarm/attributes') ?? '', /over its 2 A limit/);
    // Cleared: the service's alarm event, and the problem sensor goes OFF.
    const cleared = raised[0] as Alarm;
    raised = [];
    fixture.service.events.emit('alarm', { alarm: cleared, state: 'cleared', at: new Date().toISOString() });
    await ha.until(() => ha.latest('pipdu/metered/socket/5/alarm') === 'OFF');
  });

  test('a set by MQTT reaches the board as a SET, and the result, state and audit come back', async () => {
    const { fixture } = await pdu('switching', SOCKETS);
    const ha = await watcher('pipdu/switching/#');
    await ha.until(() => ha.latest('pipdu/switching/socket/5/state') === 'OFF');
    const from = fixture.received.length;
    const since = ha.messages.length;
    await ha.publish('pipdu/switching/socket/5/set', 'ON');
    const result = await ha.next((m) => m.topic === 'pipdu/switching/socket/5/result', since);
    const body = JSON.parse(result.payload);
    assert.equal(body.ok, true);
    assert.equal(body.state, 'ON');
    assert.equal(result.retain, false);
    assert.deepEqual(
      fixture.switchingLines(from).map((line) => line.replace(/^\d+ /, '')),
      ['SET 4 1'],
    );
    await ha.until(() => ha.latest('pipdu/switching/socket/5/state') === 'ON');
    const audit = await ha.next((m) => m.topic === 'pipdu/switching/audit', since);
    const entry = JSON.parse(audit.payload);
    assert.deepEqual(entry.actor, { kind: 'mqtt', id: 'pipdu-switching' });
    assert.equal(entry.action, 'on');
    assert.equal(audit.retain, false);
    // A cycle with an off-time, and a malformed command that changes nothing.
    const before = fixture.received.length;
    const mark = ha.messages.length;
    await ha.publish('pipdu/switching/socket/5/set', 'sideways');
    const bad = await ha.next((m) => m.topic === 'pipdu/switching/socket/5/result', mark);
    assert.equal(JSON.parse(bad.payload).code, 'BAD_REQUEST');
    await ha.publish('pipdu/switching/socket/5/cycle', '50ms');
    const cycled = await ha.next(
      (m) => m.topic === 'pipdu/switching/socket/5/result' && JSON.parse(m.payload).action === 'cycle',
      mark,
    );
    assert.equal(JSON.parse(cycled.payload).ok, true);
    assert.deepEqual(
      fixture.switchingLines(before).map((line) => line.replace(/^\d+ /, '')),
      ['SET 4 0', 'SET 4 1'],
    );
  });

  test('readings: a steady load sends nothing more, a change goes out, a fast-changing one at most every throttleMs', async () => {
    const throttleMs = 400;
    const { fixture } = await pdu('readings', SOCKETS, { timing: { throttleMs, refreshMs: 600_000 } });
    const sim = fixture.sim as SimulatedBoard;
    const topic = 'pipdu/readings/socket/5/current';
    const ha = await watcher(topic, 'pipdu/readings/socket/5/power');
    sim.setLoad(4, 1000);
    await requests(fixture.service).on(5, { kind: 'api', id: 'test' });
    await ha.until(() => Math.abs(Number(ha.latest(topic)) - 1) < 0.05);
    // Steady (the simulator's ±2% noise is inside the deadband): 20 reports, not one message.
    const steady = ha.messages.length;
    let reports = 0;
    await until(fixture.service, 'telemetry', () => ++reports >= 20);
    assert.deepEqual(
      ha.messages.slice(steady).filter((m) => m.topic === topic),
      [],
    );
    // A load that changes at every report: the messages are spaced by the throttle.
    const busy = ha.messages.length;
    const started = performance.now();
    let flips = 0;
    await until(fixture.service, 'telemetry', () => {
      sim.setLoad(4, flips++ % 2 === 0 ? 2000 : 1000);
      return performance.now() - started > 3 * throttleMs;
    });
    const elapsed = performance.now() - started;
    const sent = ha.messages.slice(busy).filter((m) => m.topic === topic);
    assert.ok(sent.length >= 2, `changes went out (${sent.length})`);
    // Unthrottled, every one of the ~25 changes would be a message.
    assert.ok(
      sent.length <= Math.floor(elapsed / throttleMs) + 2,
      `${sent.length} messages in ${elapsed.toFixed(0)} ms`,
    );
    for (let i = 1; i < sent.length; i++) {
      const gap = (sent[i] as { at: number }).at - (sent[i - 1] as { at: number }).at;
      // Times as received: the broker's delivery jitter (a loaded machine) is allowed for.
      assert.ok(gap >= throttleMs / 2, `messages ${gap.toFixed(0)} ms apart`);
    }
    assert.ok(flips >= 20, `the load changed at every report (${flips})`);
  });

  test('a change at the board reaches the state topic', async () => {
    const { fixture } = await pdu('board-change', SOCKETS);
    const ha = await watcher('pipdu/board-change/socket/4/state');
    await requests(fixture.service).on(4, { kind: 'api', id: 'test' });
    await ha.until(() => ha.latest('pipdu/board-change/socket/4/state') === 'ON');
    // A power loss at the board: socket 4 (restore: off) comes back off, and nobody asked.
    fixture.sim.reset();
    await ha.until(() => ha.latest('pipdu/board-change/socket/4/state') === 'OFF');
  });

  test('the board unplugged: its availability goes offline (socket entities unavailable), and back online', async () => {
    const { fixture } = await pdu('unplugged', SOCKETS);
    const ha = await watcher('pipdu/unplugged/board/availability', 'pipdu/unplugged/board');
    await ha.until(() => ha.latest('pipdu/unplugged/board/availability') === 'online');
    fixture.transport.unplug();
    await ha.until(() => ha.latest('pipdu/unplugged/board/availability') === 'offline');
    // The board's JSON is its own message, published beside the availability.
    await ha.until(() => JSON.parse(ha.latest('pipdu/unplugged/board') ?? '{}').online === false);
    fixture.transport.plug();
    await ha.until(() => ha.latest('pipdu/unplugged/board/availability') === 'online', 10_000);
  });

  test('a retained set published before the daemon starts switches nothing, and is refused and audited', async () => {
    const ha = await watcher('pipdu/retained/#');
    await ha.publish('pipdu/retained/socket/5/set', 'ON', true);
    const since = ha.messages.length;
    const { fixture } = await pdu('retained', SOCKETS);
    const refused = await ha.next((m) => m.topic === 'pipdu/retained/socket/5/result', since);
    const body = JSON.parse(refused.payload);
    assert.equal(body.ok, false);
    assert.match(body.message, /retained command is never executed/);
    assert.deepEqual(fixture.switchingLines(), []);
    assert.equal(fixture.service.info(5).on, false);
    const audit = await fixture.service.auditLog(5);
    assert.ok(
      audit.some((entry) => entry.actor.kind === 'mqtt' && entry.socket === 5 && entry.result === 'error'),
    );
    // A retained command while connected is refused too (retain-as-published keeps the flag).
    const mark = ha.messages.length;
    await ha.publish('pipdu/retained/socket/4/set', 'ON', true);
    await ha.next(
      (m) => m.topic === 'pipdu/retained/socket/4/result' && JSON.parse(m.payload).ok === false,
      mark,
    );
    assert.deepEqual(fixture.switchingLines(), []);
    await ha.publish('pipdu/retained/socket/4/set', '', true);
    await ha.publish('pipdu/retained/socket/5/set', '', true);
  });

  test('an operator-role MQTT cannot cut a protected socket: FORBIDDEN, published and audited', async () => {
    const { fixture } = await pdu('protected', SOCKETS);
    await requests(fixture.service).on(1, { kind: 'api', id: 'test' });
    const ha = await watcher('pipdu/protected/#');
    const from = fixture.received.length;
    const since = ha.messages.length;
    await ha.publish('pipdu/protected/socket/1/set', 'OFF');
    const result = await ha.next((m) => m.topic === 'pipdu/protected/socket/1/result', since);
    assert.equal(JSON.parse(result.payload).code, 'FORBIDDEN');
    assert.deepEqual(fixture.switchingLines(from), []);
    assert.equal(fixture.service.info(1).on, true);
    const audit = await ha.next(
      (m) => m.topic === 'pipdu/protected/audit' && JSON.parse(m.payload).code === 'FORBIDDEN',
      since,
    );
    assert.equal(JSON.parse(audit.payload).actor.kind, 'mqtt');
  });

  test('with role admin the same command cuts the protected socket; with commands off nothing is subscribed', async () => {
    const { fixture } = await pdu('admin', SOCKETS, { mqtt: '  role: admin\n' });
    await requests(fixture.service).on(1, { kind: 'api', id: 'test' });
    const ha = await watcher('pipdu/admin/#', 'pipdu/readonly/#');
    const since = ha.messages.length;
    const from = fixture.received.length;
    await ha.publish('pipdu/admin/socket/1/set', 'OFF');
    const result = await ha.next((m) => m.topic === 'pipdu/admin/socket/1/result', since);
    assert.equal(JSON.parse(result.payload).ok, true);
    assert.deepEqual(
      fixture.switchingLines(from).map((line) => line.replace(/^\d+ /, '')),
      ['SET 0 0'],
    );
    // commands: false: the set is not subscribed to. The broker passes the two sets on in
    // order, so by the time the admin PDU's result is back the other one had its turn.
    const readonly = await pdu('readonly', SOCKETS, { mqtt: '  commands: false\n' });
    const mark = ha.messages.length;
    await ha.publish('pipdu/readonly/socket/5/set', 'ON');
    await ha.publish('pipdu/admin/socket/5/set', 'ON');
    await ha.next((m) => m.topic === 'pipdu/admin/socket/5/result', mark);
    assert.deepEqual(readonly.fixture.switchingLines(), []);
    assert.equal(
      ha.messages.slice(mark).filter((m) => m.topic === 'pipdu/readonly/socket/5/result').length,
      0,
    );
  });

  test('a broker restart is survived: reconnect, state published again, nothing switched', async () => {
    const { fixture, bridge } = await pdu('restart', SOCKETS);
    await requests(fixture.service).on(4, { kind: 'api', id: 'test' });
    const ha = await watcher('pipdu/restart/socket/4/state');
    await ha.until(() => ha.latest('pipdu/restart/socket/4/state') === 'ON');
    const from = fixture.received.length;
    const gone = once(bridge.events, 'disconnected');
    await broker.halt();
    await gone;
    // While the broker is away the board loses power: socket 4 (restore: off) is off.
    fixture.sim.reset();
    await until(fixture.service, 'socketChanged', () => fixture.service.info(4).on === false);
    const back = once(bridge.events, 'ready');
    await broker.start();
    await back;
    const fresh = await watcher('pipdu/restart/socket/4/state', 'pipdu/restart/availability');
    await fresh.until(() => fresh.latest('pipdu/restart/socket/4/state') === 'OFF');
    // Retained messages come back in no set order.
    await fresh.until(() => fresh.latest('pipdu/restart/availability') === 'online');
    assert.deepEqual(fixture.switchingLines(from), [], 'the bridge switched nothing');
  });

  test('two PDUs on one broker keep apart', async () => {
    const a = await pdu('rack-a', SOCKETS);
    const b = await pdu('rack-b', SOCKETS);
    const ha = await watcher(
      'pipdu/+/socket/+/result',
      'homeassistant/+/pipdu_rack-a/+/config',
      'homeassistant/+/pipdu_rack-b/+/config',
    );
    await ha.until(() => ha.messages.filter((m) => m.topic.includes('/pipdu_rack-b/')).length >= 65, 15_000);
    const since = ha.messages.length;
    await ha.publish('pipdu/rack-a/socket/5/set', 'ON');
    await ha.next((m) => m.topic === 'pipdu/rack-a/socket/5/result', since);
    assert.equal(a.fixture.switchingLines().length, 1);
    assert.deepEqual(b.fixture.switchingLines(), []);
    const idsOf = (node: string) =>
      new Set(
        ha.messages
          .filter((m) => m.topic.includes(`/${node}/`) && m.payload)
          .map((m) => JSON.parse(m.payload).unique_id as string),
      );
    const idsA = idsOf('pipdu_rack-a');
    const idsB = idsOf('pipdu_rack-b');
    assert.equal(idsA.size, 65);
    assert.equal(idsB.size, 65);
    assert.equal([...idsA].filter((id) => idsB.has(id)).length, 0);
  });

  test('a renamed socket removes its old entities; Home Assistant coming online gets discovery again', async () => {
    const { fixture } = await pdu('rename', SOCKETS);
    const ha = await watcher('homeassistant/+/pipdu_rename/+/config');
    const old = 'homeassistant/switch/pipdu_rename/s5_nas_switch/config';
    await ha.until(() => ha.latest(old) !== undefined);
    const next = parseConfig(
      `version: 1\nname: rename\nboard:\n  driver: simulator\n  port: /dev/null\n  switchSpacingMs: 30\nstate:\n  dir: ${fixture.dir}\n${SOCKETS.replace('name: nas', 'name: backup')}mqtt:\n  url: ${broker.url}\n  username: pipdu\n  passwordEnv: PIPDU_MQTT_PASSWORD\n`,
      'test.yaml',
    );
    const summary = fixture.service.reconfigure(next);
    fixture.service.events.emit('reloaded', { config: next, summary });
    await ha.until(
      () => ha.latest(old) === '' && ha.latest(old.replace('s5_nas', 's5_backup')) !== undefined,
    );
    // Home Assistant restarts: its birth message brings every config again.
    const since = ha.messages.length;
    await ha.publish('homeassistant/status', 'online');
    await ha.next((m) => m.topic === 'homeassistant/switch/pipdu_rename/s5_backup_switch/config', since);
  });

  test('an entity left by an earlier run is removed when the daemon starts with another name for the socket', async () => {
    const first = await pdu('restart-rename', SOCKETS);
    const ha = await watcher('homeassistant/+/pipdu_restart-rename/+/config');
    const old = 'homeassistant/switch/pipdu_restart-rename/s5_nas_switch/config';
    await ha.until(() => ha.latest(old) !== undefined);
    await first.bridge.stop();
    await first.fixture.service.stop();
    await pdu('restart-rename', SOCKETS.replace('name: nas', 'name: files'));
    await ha.until(() => ha.latest(old) === '');
    assert.ok(ha.latest(old.replace('s5_nas', 's5_files')));
  });

  test('wrong credentials: one clear error, no retry storm', async () => {
    const lines: string[] = [];
    const fixture = await PduFixture.create(
      `name: wrong-password\nmqtt:\n  url: ${broker.url}\n  username: pipdu\n  passwordEnv: PIPDU_MQTT_PASSWORD\n`,
    );
    cleanups.push(() => fixture.dispose());
    await fixture.startDaemon();
    const { pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const bridge = new MqttBridge({
      service: fixture.service,
      logger,
      env: { PIPDU_MQTT_PASSWORD: 'not-the-password' },
      timing: { backoffInitialMs: 20, authRetryMs: 600_000 },
    });
    cleanups.push(() => bridge.stop());
    const refused = once(bridge.events, 'disconnected');
    await bridge.start();
    const [event] = (await refused) as [{ retryInMs: number; refused: boolean }];
    assert.deepEqual(event, { retryInMs: 600_000, refused: true });
    const errors = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level >= 50);
    assert.equal(errors.length, 1);
    assert.match(errors[0].msg, /refused the connection \(not authorized\).*passwordEnv/);
    assert.ok(!lines.join('').includes('not-the-password'), 'the password is never logged');
  });

  test('a missing password variable is one error and changes nothing', async () => {
    const fixture = await PduFixture.create(
      `name: no-password\nmqtt:\n  url: ${broker.url}\n  username: pipdu\n  passwordEnv: PIPDU_MQTT_PASSWORD\n`,
    );
    cleanups.push(() => fixture.dispose());
    await fixture.startDaemon();
    const bridge = new MqttBridge({ service: fixture.service, logger: silentLogger(), env: {} });
    await assert.rejects(bridge.start(), {
      code: 'BAD_CONFIG',
      message: 'mqtt.passwordEnv names PIPDU_MQTT_PASSWORD, which is not set: MQTT is off',
    });
    assert.equal(bridge.connected, false);
    await bridge.stop();
  });
});
