import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildVendor, LEFT_OUT } from '../scripts/build-vendor.js';
import { loadMqtt } from '../src/mqtt/load-mqtt.js';
import { type Mosquitto, startMosquitto, USERS } from './helpers/mosquitto.js';

// The build's one-file mqtt bundle (scripts/build-vendor.ts), which the
// compiled daemon loads through loadMqtt: it must be the working mqtt client,
// against a real broker, with the left-out transports really out.

const ROOT = join(fileURLToPath(import.meta.url), '../..');
let dir: string;
let bundle: string;
let broker: Mosquitto;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipdu-vendor-'));
  bundle = await buildVendor(dir);
  broker = await startMosquitto();
});

after(async () => {
  await broker?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('the bundled client connects, subscribes and receives what it publishes, through a real broker', async () => {
  const mqtt = await loadMqtt(pathToFileURL(bundle));
  const fromPackage = await import('mqtt');
  assert.notEqual(mqtt.connect, fromPackage.connect, 'loaded from the bundle, not from node_modules');
  const client = mqtt.connect(broker.url, {
    username: USERS.daemon.username,
    password: USERS.daemon.password,
    reconnectPeriod: 0,
    writeCache: false,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const topic = 'pipdu/vendor-test/echo';
    await client.subscribeAsync(topic, { qos: 1 });
    const received = new Promise<string>((resolve) =>
      client.on('message', (at, payload) => at === topic && resolve(payload.toString())),
    );
    await client.publishAsync(topic, 'hello from the bundle', { qos: 1 });
    assert.equal(await received, 'hello from the bundle');
  } finally {
    await client.endAsync();
  }
});

test('the left-out transports are not in the bundle', async () => {
  const text = await readFile(bundle, 'utf8');
  assert.deepEqual(Object.keys(LEFT_OUT).sort(), ['socks', 'ws']);
  // A string from ws's handshake and one from the socks package's errors;
  // each check first shows the package really holds its string.
  const marks: Record<string, [file: string, mark: string]> = {
    ws: ['ws/lib/websocket.js', 'Sec-WebSocket-Key'],
    socks: ['socks/build/common/constants.js', 'Invalid SOCKS proxy details'],
  };
  for (const [name, [file, mark]] of Object.entries(marks)) {
    const source = await readFile(join(ROOT, 'node_modules', file), 'utf8');
    assert.ok(source.includes(mark), `${file} has "${mark}"`);
    assert.ok(!text.includes(mark), `${name} is not in the bundle`);
  }
});

test('no bundle: the package from node_modules; a file that is not mqtt: a clear error', async () => {
  const fromPackage = await import('mqtt');
  const missing = await loadMqtt(pathToFileURL(join(dir, 'absent.cjs')));
  assert.equal(missing.connect, fromPackage.connect);
  const wrong = join(dir, 'wrong.cjs');
  await writeFile(wrong, 'module.exports = {};');
  await assert.rejects(loadMqtt(pathToFileURL(wrong)), /is not an mqtt bundle \(no connect\)/);
});
