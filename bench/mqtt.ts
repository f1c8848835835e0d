// MQTT figures (issue 16, "Benchmarks"), through a local Mosquitto (Debian's, started
// here on a free loopback port with a password file and an ACL, as the tests do):
//
// - An MQTT command → the SET at the board: a subscriber-side client publishes `set`
//   ON/OFF on one socket, one after another (each result awaited), switchSpacingMs 0;
//   timed from the publish to the line received by the in-process board simulator.
// - A change at the board → the state message at a subscriber: the service switches
//   the socket (an API request); timed from the SET received by the simulator to the
//   `state` message received by the subscriber.
// - Messages per second the bridge publishes with 16 loaded sockets and telemetry at
//   2 Hz, default throttle and deadband: steady loads (the sensors' noise only), and
//   loads that change at every report (the worst case).
// - Idle RSS of the compiled daemon (`npm start`'s flags, built-in simulator) with
//   the mqtt section against without it.
//
// `npx tsx bench/mqtt.ts` runs it alone; `npm run bench` runs it too. Without
// /usr/sbin/mosquitto it prints one line and skips.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SimulatedBoard } from '../hardware/simulated-board.js';
import { silentLogger } from '../src/log.js';
import { MqttBridge } from '../src/mqtt/mqtt-bridge.js';
import {
  type Mosquitto,
  mosquittoAvailable,
  startMosquitto,
  USERS,
  Watcher,
} from '../test/helpers/mosquitto.js';
import { PduFixture } from '../test/helpers/pdu-fixture.js';
import { requests } from '../test/helpers/requests.js';
import { idleDaemonMemory, residentMb, startFlags } from './support.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const COMMANDS = Number(process.env.BENCH_MQTT_COMMANDS ?? 1000);
const RATE_MS = Number(process.env.BENCH_MQTT_RATE_MS ?? 20_000);
const IDLE_MS = Number(process.env.BENCH_MQTT_IDLE_MS ?? 5000);
const WARM_UP = 50;
const ENV = { PIPDU_MQTT_PASSWORD: USERS.daemon.password };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `median ${percentile(sorted, 50).toFixed(3)} ms  p99 ${percentile(sorted, 99).toFixed(3)} ms`;
}

/** A PDU on the in-process simulator with its bridge connected (ready). */
async function pduOn(
  broker: Mosquitto,
  name: string,
  telemetryIntervalMs: number,
): Promise<{ fixture: PduFixture; bridge: MqttBridge }> {
  const fixture = await PduFixture.create(
    `name: ${name}\nmqtt:\n  url: ${broker.url}\n  username: ${USERS.daemon.username}\n  passwordEnv: PIPDU_MQTT_PASSWORD\n`,
    { sim: { telemetryIntervalMs } },
  );
  // Benchmarks switch without spacing (docs/decisions.md #11).
  fixture.config.board.switchSpacingMs = 0;
  await fixture.startDaemon();
  const bridge = new MqttBridge({ service: fixture.service, logger: silentLogger(), env: ENV });
  const ready = once(bridge.events, 'ready');
  await bridge.start();
  await ready;
  return { fixture, bridge };
}

async function latency(broker: Mosquitto): Promise<void> {
  const { fixture, bridge } = await pduOn(broker, 'bench-latency', 60_000);
  const client = await Watcher.connect(broker.url);
  try {
    await client.subscribe('pipdu/bench-latency/socket/3/result', 'pipdu/bench-latency/socket/3/state');
    const toSet: number[] = [];
    for (let i = 0; i < COMMANDS + WARM_UP; i++) {
      const from = fixture.received.length;
      const since = client.messages.length;
      const started = performance.now();
      await client.publish('pipdu/bench-latency/socket/3/set', i % 2 === 0 ? 'ON' : 'OFF');
      await client.next((m) => m.topic.endsWith('/result'), since);
      const set = fixture.received.slice(from).find((entry) => / SET 2 /.test(entry.line));
      if (!set) throw new Error('the command did not reach the board');
      if (i >= WARM_UP) toSet.push(set.at - started);
    }
    const toState: number[] = [];
    for (let i = 0; i < COMMANDS + WARM_UP; i++) {
      const from = fixture.received.length;
      const since = client.messages.length;
      const on = i % 2 === 0;
      await requests(fixture.service)[on ? 'on' : 'off'](3, { kind: 'api', id: 'bench' });
      const message = await client.next(
        (m) => m.topic.endsWith('/state') && m.payload === (on ? 'ON' : 'OFF'),
        since,
      );
      const set = fixture.received.slice(from).find((entry) => / SET 2 /.test(entry.line));
      if (!set) throw new Error('no SET at the board');
      if (i >= WARM_UP) toState.push(message.at - set.at);
    }
    console.log(
      `MQTT through a local Mosquitto (${COMMANDS} each, in-process board simulator, switchSpacingMs 0):`,
    );
    console.log(`  command → SET at the board      ${summary(toSet)}  (target p99 <= 10 ms)`);
    console.log(`  SET at the board → state message ${summary(toState)}  (target p99 <= 10 ms)`);
  } finally {
    await client.close();
    await bridge.stop();
    await fixture.dispose();
  }
}

async function rate(broker: Mosquitto, changing: boolean): Promise<number> {
  const name = changing ? 'bench-rate-changing' : 'bench-rate-steady';
  const { fixture, bridge } = await pduOn(broker, name, 500);
  const sim = fixture.sim as SimulatedBoard;
  const counter = await Watcher.connect(broker.url);
  try {
    for (let channel = 0; channel < 16; channel++) sim.setLoad(channel, 500 + 100 * channel);
    await requests(fixture.service).allOn({ kind: 'api', id: 'bench' });
    let flip = 0;
    const onTelemetry = () => {
      if (!changing) return;
      flip++;
      for (let channel = 0; channel < 16; channel++) {
        sim.setLoad(channel, (500 + 100 * channel) * (flip % 2 === 0 ? 1 : 1.5));
      }
    };
    fixture.service.events.on('telemetry', onTelemetry);
    await counter.subscribe(`pipdu/${name}/#`);
    // Let the switching and the first readings settle, then count.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const from = counter.messages.length;
    await new Promise((resolve) => setTimeout(resolve, RATE_MS));
    fixture.service.events.off('telemetry', onTelemetry);
    return (counter.messages.length - from) / (RATE_MS / 1000);
  } finally {
    await counter.close();
    await bridge.stop();
    await fixture.dispose();
  }
}

/** RSS of the compiled daemon on the built-in simulator after IDLE_MS, with and without the mqtt section. */
async function idleRss(broker: Mosquitto, mqtt: boolean): Promise<number> {
  const name = mqtt ? 'bench-idle-mqtt' : 'bench-idle';
  const memory = await idleDaemonMemory({
    config: (dir) =>
      `version: 1\nname: ${name}\nboard: { driver: simulator }\nstate: { dir: ${join(dir, 'state')} }\n${
        mqtt
          ? `mqtt:\n  url: ${broker.url}\n  username: ${USERS.daemon.username}\n  passwordEnv: PIPDU_MQTT_PASSWORD\n`
          : ''
      }`,
    idleMs: IDLE_MS,
    env: ENV,
    ...(mqtt ? { readyText: 'MQTT connected' } : {}),
  });
  return memory.rss;
}

/** RSS of a bare node (npm start's flags) that loaded `modules` and idled a moment: what the packages cost alone. */
async function moduleRss(modules: string[]): Promise<number> {
  const script = `${modules.map((m) => `require(${JSON.stringify(m)});`).join('')}setTimeout(() => {}, 60000);`;
  const child = spawn(process.execPath, [...(await startFlags()), '-e', script], {
    cwd: root,
    stdio: 'ignore',
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return (await residentMb(child.pid ?? 0)).rss;
  } finally {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  }
}

export async function benchMqtt(): Promise<void> {
  if (!(await mosquittoAvailable())) {
    console.log('MQTT: skipped, /usr/sbin/mosquitto is not installed (apt-get install mosquitto)\n');
    return;
  }
  const broker = await startMosquitto();
  try {
    await latency(broker);
    const steady = await rate(broker, false);
    const changing = await rate(broker, true);
    console.log(`  messages/s, 16 loaded sockets, telemetry at 2 Hz, over ${RATE_MS / 1000} s:`);
    console.log(
      `    steady loads ${steady.toFixed(2)}/s, loads changing at every report ${changing.toFixed(2)}/s  (target <= 16)`,
    );
    const without = await idleRss(broker, false);
    const withMqtt = await idleRss(broker, true);
    console.log(
      `  idle daemon RSS after ${IDLE_MS / 1000} s: without MQTT ${without.toFixed(1)} MB, with ${withMqtt.toFixed(1)} MB, growth ${(withMqtt - without).toFixed(1)} MB  (target <= 8 MB)`,
    );
    const bare = await moduleRss([]);
    const cost = async (module: string) => `+${((await moduleRss([module])) - bare).toFixed(1)} MB`;
    console.log(
      `    what the packages cost alone in a bare node: mqtt's files ${await cost('mqtt')}, the build's mqtt bundle ${await cost(join(root, 'dist/vendor/mqtt.cjs'))}; bottleneck ${await cost('bottleneck')}, its light build (used) ${await cost('bottleneck/light')}\n`,
    );
  } finally {
    await broker.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchMqtt().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
