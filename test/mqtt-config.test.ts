import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../src/config/config-error.js';
import { parseConfig } from '../src/config/load.js';

// The mqtt config section: its defaults and the one-line errors for what it refuses.

const HEADER = 'version: 1\nname: rack-a\nboard: { driver: simulator }\n';

function problems(mqtt: string): string[] {
  try {
    parseConfig(`${HEADER}mqtt:\n${mqtt}`, 'pipdu.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.format().split('\n');
  }
  assert.fail('expected the config to be rejected');
}

test('the mqtt section: only url is required, the rest has the documented defaults', () => {
  const config = parseConfig(`${HEADER}mqtt:\n  url: mqtt://192.168.1.2:1883\n`, 'pipdu.yaml');
  assert.deepEqual(config.mqtt, {
    url: 'mqtt://192.168.1.2:1883',
    discovery: { enabled: true, prefix: 'homeassistant' },
    role: 'operator',
    commands: true,
  });
  assert.equal(parseConfig(HEADER, 'pipdu.yaml').mqtt, undefined, 'no section: no MQTT');
});

test('every key of the mqtt section', () => {
  const config = parseConfig(
    `${HEADER}mqtt:
  url: mqtts://broker.lan:8883
  tls: { ca: /etc/pipdu/mqtt-ca.crt, cert: /etc/pipdu/mqtt.crt, key: /etc/pipdu/mqtt.key }
  username: pipdu
  passwordEnv: PIPDU_MQTT_PASSWORD
  clientId: pipdu-rack-a
  baseTopic: lab/pdus/rack-a
  discovery: { enabled: false, prefix: ha }
  role: admin
  commands: false
`,
    'pipdu.yaml',
  );
  assert.equal(config.mqtt?.tls?.key, '/etc/pipdu/mqtt.key');
  assert.equal(config.mqtt?.baseTopic, 'lab/pdus/rack-a');
  assert.deepEqual(config.mqtt?.discovery, { enabled: false, prefix: 'ha' });
  assert.equal(config.mqtt?.role, 'admin');
});

test('refused: another URL scheme, a password in the file, a bad variable name, wildcards in topics', () => {
  assert.deepEqual(problems('  url: http://broker:1883\n'), [
    'pipdu.yaml:5:8 mqtt.url: expected an mqtt:// or mqtts:// URL, like mqtt://192.168.1.2:1883',
  ]);
  assert.deepEqual(problems('  url: mqtt://b\n  username: u\n  password: hunter2\n'), [
    'pipdu.yaml:7:3 mqtt.password: no password here: name the environment variable holding it with passwordEnv',
  ]);
  assert.deepEqual(problems('  url: mqtt://b\n  username: u\n  passwordEnv: my-password\n'), [
    'pipdu.yaml:7:16 mqtt.passwordEnv: expected the name of an environment variable',
  ]);
  assert.deepEqual(problems('  url: mqtt://b\n  baseTopic: pipdu/#\n'), [
    'pipdu.yaml:6:14 mqtt.baseTopic: a topic must not contain +, # or NUL',
  ]);
  assert.deepEqual(problems('  url: mqtt://b\n  tls: { ca: /ca.crt }\n'), [
    'pipdu.yaml:6:3 mqtt.tls: tls needs an mqtts:// url',
  ]);
  assert.deepEqual(problems('  url: mqtts://b\n  tls: { cert: /c.crt }\n'), [
    'pipdu.yaml:6:3 mqtt.tls: a client certificate needs both cert and key',
  ]);
  assert.deepEqual(problems('  url: mqtt://b\n  passwordEnv: PW\n'), [
    'pipdu.yaml:6:16 mqtt.passwordEnv: a password needs a username: set mqtt.username',
  ]);
  assert.deepEqual(problems('  url: mqtt://b\n  role: root\n'), [
    'pipdu.yaml:6:9 mqtt.role: expected viewer | operator | admin',
  ]);
});
