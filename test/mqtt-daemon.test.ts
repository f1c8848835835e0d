import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Mosquitto, startMosquitto, USERS, Watcher } from './helpers/mosquitto.js';
import { freePort } from './helpers/ports.js';

// The daemon as `npm start` runs it (src/main.ts, a child process) with an mqtt section.

const root = dirname(dirname(fileURLToPath(import.meta.url)));
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

interface Daemon {
  child: ChildProcess;
  waitFor: (pattern: RegExp) => Promise<void>;
  exit: Promise<number | null>;
}

/** The daemon on the built-in simulator with `mqtt` as its mqtt section. */
async function daemon(name: string, mqtt: string): Promise<Daemon> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-mqtt-daemon-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'pipdu.yaml');
  await writeFile(
    file,
    `version: 1\nname: ${name}\nboard:\n  driver: simulator\nstate:\n  dir: ${join(dir, 'state')}\nmqtt:\n${mqtt}`,
  );
  const { PIPDU_CONFIG: _config, DISCORD_TOKEN: _token, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'src/main.ts')], {
    cwd: dir,
    env: {
      ...inherited,
      PIPDU_CONFIG: file,
      PIPDU_LOG_FORMAT: 'json',
      PIPDU_MQTT_PASSWORD: USERS.daemon.password,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    text += chunk.toString();
    for (const check of [...waiters]) check();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
  });
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${pattern}; output:\n${text}`));
      }, 20_000);
      const check = () => {
        if (!pattern.test(text)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return { child, waitFor, exit };
}

const section = () =>
  `  url: ${broker.url}\n  username: ${USERS.daemon.username}\n  passwordEnv: PIPDU_MQTT_PASSWORD\n`;

test('SIGKILL of the daemon: the broker publishes offline by its last will', async () => {
  const ha = await Watcher.connect(broker.url);
  cleanups.push(() => ha.close());
  await ha.subscribe('pipdu/killed/availability');
  const d = await daemon('killed', section());
  await ha.until(() => ha.latest('pipdu/killed/availability') === 'online', 20_000);
  d.child.kill('SIGKILL');
  await d.exit;
  await ha.until(() => ha.latest('pipdu/killed/availability') === 'offline');
});

test('SIGTERM: the daemon says offline itself and exits cleanly', async () => {
  const ha = await Watcher.connect(broker.url);
  cleanups.push(() => ha.close());
  await ha.subscribe('pipdu/stopped/availability');
  const d = await daemon('stopped', section());
  await ha.until(() => ha.latest('pipdu/stopped/availability') === 'online', 20_000);
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
  // A clean disconnect fires no will: this offline is the daemon's own.
  await ha.until(() => ha.latest('pipdu/stopped/availability') === 'offline');
});

test('an unreachable broker never stops the daemon', async () => {
  const port = await freePort(); // nothing listens there
  const d = await daemon('lonely', `  url: mqtt://127.0.0.1:${port}\n`);
  await d.waitFor(/MQTT connection failed/);
  await d.waitFor(/PiPDU \\"lonely\\" running/);
  d.child.kill('SIGTERM');
  assert.equal(await d.exit, 0);
});

test('mqtts with a CA and a client certificate: the daemon connects and publishes', async () => {
  const secure = await startMosquitto({ tls: true });
  cleanups.push(() => secure.stop());
  const tls = secure.tls;
  assert.ok(tls);
  // The TLS listener shares the broker's users and ACL; the watcher reads on its plain listener.
  const watcher = await Watcher.connect(secure.url);
  cleanups.push(() => watcher.close());
  await watcher.subscribe('pipdu/secure/availability', 'pipdu/secure/socket/1/state');
  await daemon(
    'secure',
    `  url: ${tls.url}\n  tls: { ca: ${tls.ca}, cert: ${tls.cert}, key: ${tls.key} }\n  username: ${USERS.daemon.username}\n  passwordEnv: PIPDU_MQTT_PASSWORD\n`,
  );
  await watcher.until(() => watcher.latest('pipdu/secure/availability') === 'online', 20_000);
  await watcher.until(() => watcher.latest('pipdu/secure/socket/1/state') === 'OFF');
});
