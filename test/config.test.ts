import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRelayBoard } from '../hardware/index.js';
import { BOARD_DRIVERS } from '../src/config/board-drivers.js';
import { ConfigError } from '../src/config/config-error.js';
import { parseDuration, tryParseByteSize, tryParseDuration } from '../src/config/duration.js';
import { isLoopbackHost, parseListen } from '../src/config/listen.js';
import { defaultConfig, loadConfig, parseConfig } from '../src/config/load.js';
import type { BoardConfig } from '../src/config/schema.js';
import { PduError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const examplePath = path.join(root, 'config/pipdu.example.yaml');

/** A YAML document, one argument per line, so line numbers in assertions are argument positions. */
const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

/** Every problem parseConfig reports, formatted as the daemon prints them. */
function problems(text: string): string[] {
  try {
    parseConfig(text, 'pipdu.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.format().split('\n');
  }
  assert.fail('expected the config to be rejected');
}

const HEADER = ['version: 1', 'board: { driver: simulator }'];

describe('config errors name file, line, column and key', () => {
  test('a bad enum value points at the value', () => {
    const text = yaml(
      ...HEADER,
      'sockets:',
      '  - number: 1',
      '  - number: 2',
      '  - number: 3',
      '    restore: maybe',
    );
    assert.deepEqual(problems(text), ['pipdu.yaml:7:14 socket 3 restore: expected on | off | last']);
  });

  test('durations need a unit and a known format', () => {
    const text = yaml(
      ...HEADER,
      'sockets:',
      '  - number: 1',
      '    offTime: 5',
      '    hookTimeout: 5 minutes',
      'board2: x',
    );
    assert.deepEqual(problems(text), [
      'pipdu.yaml:5:14 socket 1 offTime: a duration needs a unit: write 5ms or 5s, for example',
      'pipdu.yaml:6:18 socket 1 hookTimeout: expected a duration like 500ms, 30s, 2m or 1h, got "5 minutes"',
      'pipdu.yaml:7:1 board2: unknown key, did you mean `board`?',
    ]);
  });

  test('an unknown key points at the key and suggests a close one', () => {
    const text = yaml(...HEADER, 'sockets:', '  - number: 4', '    restor: on', '    colour: red');
    assert.deepEqual(problems(text), [
      'pipdu.yaml:5:5 socket 4 restor: unknown key, did you mean `restore`?',
      'pipdu.yaml:6:5 socket 4 colour: unknown key; expected one of number, name, channel, restore, protected, ' +
        'roles, offTime, onFailure, hookTimeout, preOff, postOff, preOn, postOn, powerFactor, alarms',
    ]);
  });

  test('duplicate names and numbers point at the second one', () => {
    const text = yaml(
      ...HEADER,
      'sockets:',
      '  - { number: 1, name: nas }',
      '  - { number: 2, name: nas }',
      '  - { number: 1, name: web }',
    );
    assert.deepEqual(problems(text), [
      'pipdu.yaml:5:24 socket 2 (nas) name: name "nas" is already used by socket 1',
      'pipdu.yaml:6:15 socket 1 (web) number: socket 1 is listed twice (entries 1 and 3 under sockets)',
    ]);
  });

  test('a channel taken twice, or taken from an unlisted socket, names both sockets', () => {
    const text = yaml(
      ...HEADER,
      'sockets:',
      '  - { number: 1, channel: 9 }',
      '  - { number: 2, channel: 9 }',
      '  - number: 3',
      '    channel: 6',
    );
    assert.deepEqual(problems(text), [
      "pipdu.yaml:5:27 socket 2 channel: sockets 1, 2 and 10 all use channel 9 (socket 10's default: number - 1)",
      "pipdu.yaml:7:14 socket 3 channel: sockets 3 and 7 both use channel 6 (socket 7's default: number - 1)",
    ]);
  });

  test('socket numbers are 1..16 and there are at most 16 sockets', () => {
    const text = yaml(...HEADER, 'sockets:', '  - number: 17', '  - number: 0');
    assert.deepEqual(problems(text), [
      'pipdu.yaml:4:13 socket 17 number: sockets are numbered 1..16',
      'pipdu.yaml:5:13 socket 0 number: sockets are numbered 1..16',
    ]);
    const many = yaml(
      ...HEADER,
      'sockets:',
      ...Array.from({ length: 17 }, (_, i) => `  - number: ${(i % 16) + 1}`),
    );
    assert.deepEqual(problems(many), ['pipdu.yaml:3:1 sockets: at most 16 sockets']);
  });

  test('a real board needs a port: the error points at the board key, or the top when board is missing', () => {
    assert.deepEqual(problems(yaml('version: 1', 'board:', '  driver: legacy')), [
      'pipdu.yaml:2:1 board.port: required for driver legacy: the serial device, like /dev/serial/by-id/usb-Arduino...',
    ]);
    assert.deepEqual(problems(yaml('# mine', 'version: 1')), [
      'pipdu.yaml:2:1 board.port: required for driver prp1: the serial device, like /dev/serial/by-id/usb-Arduino...',
    ]);
  });

  test('a Discord token in the file is refused, and ids must be quoted', () => {
    const text = yaml(...HEADER, 'discord:', '  guildId: 123456789012345678', '  token: abc.def');
    assert.deepEqual(problems(text), [
      'pipdu.yaml:4:12 discord.guildId: quote Discord ids ("123..."): as a YAML number it gets rounded',
      'pipdu.yaml:5:3 discord.token: no token here: the bot token comes from the DISCORD_TOKEN environment variable',
    ]);
  });

  test('an ssh step must pin the host key, one way only', () => {
    const text = yaml(
      ...HEADER,
      'sockets:',
      '  - number: 5',
      '    preOff:',
      '      - ssh: { host: 10.0.0.2, user: pi, key: /k, command: "sudo halt" }',
      '      - ssh: { host: 10.0.0.2, user: pi, key: /k, command: x, hostKey: "ssh-ed25519 AAAA", knownHosts: /kh }',
      '      - ssh: { host: 10.0.0.2, user: pi, key: /k, command: x, hostKey: "SHA256:abc" }',
    );
    assert.deepEqual(problems(text), [
      'pipdu.yaml:6:9 socket 5 preOff[0].ssh: pin the host key: set hostKey or knownHosts',
      'pipdu.yaml:7:104 socket 5 preOff[1].ssh.knownHosts: set hostKey or knownHosts, not both',
      'pipdu.yaml:8:72 socket 5 preOff[2].ssh.hostKey: expected a public key line, like "ssh-ed25519 AAAA..." ' +
        '(ssh-keyscan prints it)',
    ]);
  });

  test('hook steps have exactly one known kind', () => {
    const text = yaml(
      ...HEADER,
      'sockets:',
      '  - number: 5',
      '    postOn:',
      '      - waitHostup: { host: nas }',
      '      - { delay: 1s, exec: { argv: [/bin/true] } }',
      '      - sleep 5',
      '      - exec: { argv: [] }',
      '      - {}',
    );
    assert.deepEqual(problems(text), [
      'pipdu.yaml:6:9 socket 5 postOn[0].waitHostup: unknown key, did you mean `waitHostUp`?',
      'pipdu.yaml:7:9 socket 5 postOn[1]: one kind per step, got exec and delay: make them separate steps',
      'pipdu.yaml:8:9 socket 5 postOn[2]: expected a step: a mapping with one of ssh, exec, waitHostDown, ' +
        'waitHostUp, waitPowerBelow, delay',
      'pipdu.yaml:9:17 socket 5 postOn[3].exec.argv: expected the program and its arguments, ' +
        'like [/usr/local/bin/notify, nas]',
      'pipdu.yaml:10:9 socket 5 postOn[4]: expected one of ssh, exec, waitHostDown, waitHostUp, waitPowerBelow, delay',
    ]);
  });

  test('the API may leave loopback only with mutual TLS', () => {
    assert.deepEqual(problems(yaml(...HEADER, 'api:', '  listen: 0.0.0.0:8080')), [
      'pipdu.yaml:4:11 api.listen: listening on 0.0.0.0 requires api.tls (mutual TLS)',
    ]);
    assert.deepEqual(
      problems(yaml(...HEADER, 'api: { listen: "[::]:8080", pdudaemon: { listen: ":1", allow: [10/8] } }')),
      [
        'pipdu.yaml:3:16 api.listen: listening on :: requires api.tls (mutual TLS)',
        'pipdu.yaml:3:50 api.pdudaemon.listen: expected host:port, like 127.0.0.1:8080 or [::1]:8080',
        'pipdu.yaml:3:64 api.pdudaemon.allow[0]: expected an IP address or a CIDR block, like 192.168.1.0/24',
      ],
    );
  });

  test('the controller uses each GPIO line once', () => {
    const text = yaml(...HEADER, 'controller:', '  buttons: [17, 27]', '  leds: [5, 17]', '  statusLed: 5');
    assert.deepEqual(problems(text), [
      'pipdu.yaml:5:13 controller.leds[1]: line 17 is already used by controller.buttons[0]',
      'pipdu.yaml:6:14 controller.statusLed: line 5 is already used by controller.leds[0]',
    ]);
  });

  test('a YAML syntax error is reported with its position', () => {
    assert.deepEqual(problems(yaml('version: 1', 'board: { driver: simulator', 'sockets: []')), [
      'pipdu.yaml:3:1 YAML: Flow map in block collection must be sufficiently indented and end with a }',
    ]);
    assert.deepEqual(problems(yaml('version: 1', 'version: 1')), [
      'pipdu.yaml:2:1 YAML: Map keys must be unique',
    ]);
  });

  test('an empty file, a file of comments and a non-mapping are errors', () => {
    const empty = 'pipdu.yaml:1:1 the file is empty: a config needs at least `version: 1`';
    assert.deepEqual(problems(''), [empty]);
    assert.deepEqual(problems('# nothing yet\n'), [empty]);
    assert.deepEqual(problems(yaml('', '- version: 1')), [
      'pipdu.yaml:2:1 expected a mapping of keys at the top level (version, board, sockets, ...)',
    ]);
  });

  test('every problem in a file is reported at once, in file order', () => {
    const text = yaml(
      'version: 2',
      'board:',
      '  driver: prp1',
      '  replyTimeout: 500',
      'sockets:',
      '  - number: 3',
      '    name: Nas',
      '    restore: maybe',
      '  - number: 3',
      'log: { level: loud }',
      'api:',
    );
    const error = (() => {
      try {
        parseConfig(text, 'config/pipdu.yaml');
      } catch (caught) {
        return caught;
      }
    })();
    assert.ok(error instanceof ConfigError);
    assert.ok(error instanceof PduError);
    assert.equal(error.code, 'BAD_CONFIG');
    const expected = [
      'config/pipdu.yaml:1:10 version: expected 1',
      'config/pipdu.yaml:2:1 board.port: required for driver prp1: the serial device, like /dev/serial/by-id/usb-Arduino...',
      'config/pipdu.yaml:4:17 board.replyTimeout: a duration needs a unit: write 500ms or 500s, for example',
      'config/pipdu.yaml:7:11 socket 3 (Nas) name: expected lowercase letters, digits and "-", starting with a letter ' +
        '(like nas or core-switch)',
      'config/pipdu.yaml:8:14 socket 3 (Nas) restore: expected on | off | last',
      'config/pipdu.yaml:9:13 socket 3 number: socket 3 is listed twice (entries 1 and 2 under sockets)',
      'config/pipdu.yaml:10:15 log.level: expected trace | debug | info | warn | error',
      'config/pipdu.yaml:11:1 api: expected a mapping, got an empty value (write {} for the defaults)',
    ];
    assert.deepEqual(error.format().split('\n'), expected);
    assert.deepEqual(error.issues.map(({ line, column, path }) => `${line}:${column} ${path}`).slice(0, 2), [
      '1:10 version',
      '2:1 board.port',
    ]);
    assert.equal(error.message, `invalid configuration (8 problems):\n${expected.join('\n')}`);
  });
});

describe('resolved config', () => {
  test('sockets: all 16 in number order, defaults filled, durations in milliseconds', () => {
    const config = parseConfig(
      yaml(
        'version: 1',
        'board: { driver: legacy, port: /dev/ttyUSB0 }',
        'sockets:',
        '  - { number: 9, name: nas, channel: 15, offTime: 1.5s, hookTimeout: 1h }',
        '  - { number: 2, restore: last, protected: true, roles: [homelab] }',
        '  - number: 16',
        '    channel: 8',
      ),
      'pipdu.yaml',
    );
    assert.deepEqual(
      config.sockets.map((socket) => socket.number),
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      config.sockets.map((socket) => socket.channel),
      [0, 1, 2, 3, 4, 5, 6, 7, 15, 9, 10, 11, 12, 13, 14, 8],
    );
    assert.deepEqual(config.sockets[0], {
      number: 1,
      channel: 0,
      restore: 'last', // what was on comes back on after a mains outage
      protected: false,
      roles: [],
      offTime: 5000,
      onFailure: 'abort',
      hookTimeout: 300_000,
      preOff: [],
      postOff: [],
      preOn: [],
      postOn: [],
      powerFactor: 1,
      alarms: {},
    });
    assert.equal(config.sockets[8]?.name, 'nas');
    assert.equal(config.sockets[8]?.offTime, 1500);
    assert.equal(config.sockets[8]?.hookTimeout, 3_600_000);
    assert.equal(config.sockets[1]?.restore, 'last');
    assert.deepEqual(config.sockets[1]?.roles, ['homelab']);
    assert.notEqual(config.sockets[0]?.roles, config.sockets[2]?.roles, 'defaults are not shared objects');
    assert.deepEqual(config.board, {
      driver: 'legacy',
      port: '/dev/ttyUSB0',
      baudRate: 9600,
      switchSpacingMs: 250,
      replyTimeout: 500,
    });
  });

  test('top-level defaults; optional sections stay undefined', () => {
    const config = parseConfig(
      yaml('version: 1', 'board: { driver: prp1, port: /dev/ttyACM0 }'),
      'pipdu.yaml',
    );
    assert.equal(config.name, 'pipdu');
    assert.equal(config.mainsVoltage, 230);
    assert.equal(config.log.level, 'info');
    assert.equal(config.board.baudRate, 115200);
    assert.deepEqual(config.hooks, { allOffConcurrency: 4 });
    assert.deepEqual(config.state, { dir: './state', auditMaxBytes: 10 * 1024 * 1024 });
    assert.equal(config.discord, undefined);
    assert.equal(config.controller, undefined);
    assert.equal(config.api, undefined);
    assert.deepEqual(config.alarms, { hysteresis: 0.05 });
    assert.deepEqual(config.energy, { saveEvery: 300_000, maxGap: 5000 });
    assert.deepEqual(config.history, { enabled: true, flushEvery: 120_000 });
  });

  test('section defaults: discord, controller, api', () => {
    const config = parseConfig(
      yaml(
        ...HEADER,
        'discord: { guildId: "42" }',
        'controller: {}',
        'api: {}',
        'state: { auditMaxBytes: 512KB }',
      ),
      'pipdu.yaml',
    );
    assert.deepEqual(config.discord, {
      guildId: '42',
      api: 'https://discord.com/api',
      roles: { admin: [], operator: [], viewer: ['@everyone'] },
      alertRoleIds: [],
      confirmTimeout: 30_000,
    });
    assert.deepEqual(config.controller, {
      buttons: [],
      leds: [],
      buttonActiveLow: true,
      ledActiveLow: false,
      debounce: 30,
      longPress: 3000,
      shortPress: 'identify',
      longPressCancels: false,
      gpioChipBase: 'auto',
    });
    assert.deepEqual(config.api, { listen: '127.0.0.1:8080', clients: {}, loopbackRole: 'admin' });
    assert.equal(config.state.auditMaxBytes, 512 * 1024);
  });

  test('hook steps resolve to a union tagged by kind, with their defaults', () => {
    const config = parseConfig(
      yaml(
        ...HEADER,
        'sockets:',
        '  - number: 4',
        '    preOff:',
        '      - ssh: { host: h, user: u, key: /k, knownHosts: /kh, command: halt }',
        '      - waitHostDown: { host: h }',
        '      - waitPowerBelow: { watts: 12.5 }',
        '      - exec: { argv: [/bin/true] }',
        '      - delay: 250ms',
      ),
      'pipdu.yaml',
    );
    assert.deepEqual(config.sockets[3]?.preOff, [
      {
        kind: 'ssh',
        host: 'h',
        port: 22,
        user: 'u',
        key: '/k',
        knownHosts: '/kh',
        command: 'halt',
        timeout: 30_000,
        expectDisconnect: false,
        allowFailure: false,
      },
      { kind: 'waitHostDown', host: 'h', port: 22, interval: 1000, timeout: 120_000 },
      { kind: 'waitPowerBelow', watts: 12.5, for: 5000, timeout: 120_000 },
      { kind: 'exec', argv: ['/bin/true'], timeout: 30_000, allowFailure: false },
      { kind: 'delay', duration: 250 },
    ]);
  });

  test('the example config is valid and documents named sockets and every section', async () => {
    const config = parseConfig(await readFile(examplePath, 'utf8'), 'config/pipdu.example.yaml');
    assert.deepEqual(
      config.sockets.filter((socket) => socket.name).map((socket) => `${socket.number}:${socket.name}`),
      ['1:pi-self', '2:core-switch', '5:nas', '6:lab-server', '16:desk-lamp'],
    );
    assert.ok(config.sockets.some((socket) => socket.protected));
    assert.deepEqual(
      config.sockets[4]?.preOff.map((step) => step.kind),
      ['ssh', 'waitHostDown', 'waitPowerBelow', 'exec', 'delay'],
    );
    assert.deepEqual(
      config.sockets[4]?.postOn.map((step) => step.kind),
      ['waitHostUp'],
    );
    assert.ok(config.discord && config.api?.tls && config.api.pdudaemon);
    // A panel that fits a Pi's header: 8 buttons, 8 LEDs and a status LED, no line used twice.
    assert.equal(config.controller?.buttons.length, 8);
    assert.equal(config.controller?.leds.length, 8);
    const lines = [
      ...(config.controller?.buttons ?? []),
      ...(config.controller?.leds ?? []),
      config.controller?.statusLed,
    ];
    assert.ok(
      lines.every((line) => line !== undefined && line >= 2 && line <= 27),
      'header lines BCM 2-27',
    );
  });

  test('defaultConfig runs the simulator and the loopback API with every default', () => {
    const config = defaultConfig();
    assert.equal(config.board.driver, 'simulator');
    assert.equal(config.board.port, undefined);
    assert.equal(config.sockets.length, 16);
    // The API on loopback only, where the CLI looks by default.
    assert.deepEqual(config.api, { listen: '127.0.0.1:8080', clients: {}, loopbackRole: 'admin' });
    assert.equal(config.discord, undefined);
    assert.equal(config.controller, undefined);
  });
});

describe('durations, sizes and addresses', () => {
  test('durations', () => {
    assert.equal(tryParseDuration('500ms'), 500);
    assert.equal(tryParseDuration('30s'), 30_000);
    assert.equal(tryParseDuration('1.5s'), 1500);
    assert.equal(tryParseDuration('2m'), 120_000);
    assert.equal(tryParseDuration('1h'), 3_600_000);
    assert.equal(tryParseDuration('30'), undefined);
    assert.equal(tryParseDuration('-1s'), undefined);
    assert.equal(tryParseDuration('1d'), undefined);
    assert.throws(() => parseDuration('soon'), { code: 'BAD_DURATION' });
    assert.throws(() => parseDuration('1000h'), { code: 'BAD_DURATION' });
  });

  test('byte sizes', () => {
    assert.equal(tryParseByteSize('10MB'), 10_485_760);
    assert.equal(tryParseByteSize('512KB'), 524_288);
    assert.equal(tryParseByteSize('1GB'), 1_073_741_824);
    assert.equal(tryParseByteSize('1MiB'), 1_048_576);
    assert.equal(tryParseByteSize('4096'), 4096);
    assert.equal(tryParseByteSize(4096), 4096);
    assert.equal(tryParseByteSize('10 parsecs'), undefined);
    assert.equal(tryParseByteSize(-1), undefined);
  });

  test('listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen('[::1]:8443'), { host: '::1', port: 8443 });
    assert.equal(parseListen('::1:8443'), undefined);
    assert.equal(parseListen('host:99999'), undefined);
    assert.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('::1') && isLoopbackHost('localhost'));
    assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('::'));
  });
});

describe('loading a file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pipdu-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('no file at all means the built-in simulator defaults', async () => {
    const loaded = await loadConfig({ env: {}, cwd: dir });
    assert.equal(loaded.file, null);
    assert.deepEqual(loaded.config, defaultConfig());
  });

  test('PIPDU_CONFIG naming a missing file is an error, not a fallback', async () => {
    await assert.rejects(loadConfig({ env: { PIPDU_CONFIG: 'nope.yaml' }, cwd: dir }), (error: unknown) => {
      assert.ok(error instanceof PduError && !(error instanceof ConfigError));
      assert.equal(error.code, 'BAD_CONFIG');
      assert.equal(error.message, 'PIPDU_CONFIG names nope.yaml, which does not exist');
      return true;
    });
  });

  test('PIPDU_CONFIG, then config/pipdu.yaml; issues name the file relative to cwd', async () => {
    await mkdir(path.join(dir, 'config'), { recursive: true });
    await writeFile(
      path.join(dir, 'config/pipdu.yaml'),
      yaml('version: 1', 'board: { driver: simulator }', 'name: rack-b'),
    );
    await writeFile(
      path.join(dir, 'other.yaml'),
      yaml('version: 1', 'board: { driver: simulator }', 'nam: x'),
    );
    const loaded = await loadConfig({ env: {}, cwd: dir });
    assert.equal(loaded.file, path.join(dir, 'config/pipdu.yaml'));
    assert.equal(loaded.config.name, 'rack-b');
    await assert.rejects(loadConfig({ env: { PIPDU_CONFIG: 'other.yaml' }, cwd: dir }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.format(), 'other.yaml:3:1 nam: unknown key, did you mean `name`?');
      return true;
    });
  });

  test('check-config exits 0 on the example, 1 on a bad file, 2 on a missing one', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(
      bad,
      yaml('version: 1', 'board: { driver: simulator }', 'sockets: [{ number: 1, restore: maybe }]'),
    );
    const run = (file: string, ...flags: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/config/check-config.ts', file, ...flags], {
        cwd: root,
        encoding: 'utf8',
      });

    // The example names files of a Pi (certificates, the serial port): not checked here.
    const ok = run('config/pipdu.example.yaml', '--no-files');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'config/pipdu.example.yaml: OK (5 sockets named, driver prp1)\n');

    const failed = run(bad);
    assert.equal(failed.status, 1);
    assert.equal(failed.stdout, '');
    assert.equal(failed.stderr, `${bad}:3:33 socket 1 restore: expected on | off | last\n`);

    const missing = run(path.join(dir, 'missing.yaml'));
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, `no configuration file at ${path.join(dir, 'missing.yaml')}\n`);
  });
});

describe('the board driver list', () => {
  test('the schema, the type and the board factory all take it from BOARD_DRIVERS', () => {
    assert.deepEqual(problems(yaml('version: 1', 'board: { driver: nonsense }')), [
      `pipdu.yaml:2:18 board.driver: expected ${BOARD_DRIVERS.join(' | ')}`,
    ]);
    // What each driver needs besides its name (the drivers' own config tests: test/board-config.test.ts).
    const needs: Partial<Record<string, string>> = {
      numato: 'port: /dev/ttyACM0, channels: 8',
      lcus: 'port: /dev/ttyUSB0, channels: 4',
      modbus: 'port: /dev/ttyUSB0, channels: 8',
      gpio: 'lines: [5, 6]',
    };
    for (const driver of BOARD_DRIVERS) {
      const text = yaml(
        'version: 1',
        `board: { driver: ${driver}, ${needs[driver] ?? 'port: /dev/ttyACM0'} }`,
      );
      assert.equal(parseConfig(text, 'pipdu.yaml').board.driver, driver);
    }
    // A config that bypassed the schema still gets a one-line answer naming the same list.
    const board = { ...defaultConfig().board, driver: 'nonsense' } as unknown as BoardConfig;
    assert.throws(
      () => createRelayBoard(board, { logger: silentLogger() }),
      (error: unknown) =>
        error instanceof PduError &&
        error.code === 'BAD_CONFIG' &&
        error.message === `unknown board driver "nonsense": valid drivers are ${BOARD_DRIVERS.join(', ')}`,
    );
  });
});

describe('hostile files are refused with one located line, before yaml or zod can blow up', () => {
  const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

  test('nesting: 64 levels are fine, the 65th is refused where it opens, 100k brackets too', () => {
    // The top-level mapping is level 1: 63 brackets make 64 levels.
    assert.deepEqual(problems(yaml(...HEADER, `name: ${nested(63)}`)), [
      'pipdu.yaml:3:1 name: expected text, got a list',
    ]);
    const tooDeep = 'YAML: nested more than 64 levels deep (lists and mappings inside each other)';
    assert.deepEqual(problems(yaml(...HEADER, `name: ${nested(64)}`)), [`pipdu.yaml:3:70 ${tooDeep}`]);
    assert.deepEqual(problems(yaml(...HEADER, `name: ${nested(100_000)}`)), [`pipdu.yaml:3:70 ${tooDeep}`]);
    // Block lists nest as deep in two characters a level, and are counted the same way.
    assert.deepEqual(problems(yaml(...HEADER, 'name:', `  ${'- '.repeat(100_000)}x`)), [
      `pipdu.yaml:4:129 ${tooDeep}`,
    ]);
  });

  test('more than 10000 keys and values is refused at the one over', () => {
    const list = (count: number) => `name: [${Array.from({ length: count }, () => '1').join(',')}]`;
    // HEADER has 6 keys and values (`{` counts), `name: [` 2: 9992 items make 10000.
    assert.deepEqual(problems(yaml(...HEADER, list(9992))), [
      'pipdu.yaml:3:1 name: expected text, got a list',
    ]);
    assert.deepEqual(problems(yaml(...HEADER, list(9993))), [
      `pipdu.yaml:3:${8 + 2 * 9992} YAML: more than 10000 keys and values; a configuration has a few hundred`,
    ]);
  });

  test('an alias bomb is refused at the alias where it goes over, with its key path', () => {
    const bomb = yaml(
      ...HEADER,
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
    );
    // b: 9 uses; c: 9 x (1 + 9) = 90 (99 in all); d's first *c is 91 more.
    assert.deepEqual(problems(bomb), [
      'pipdu.yaml:6:8 d[0]: YAML: too many aliases: more than 100 once aliases inside aliases are counted',
    ]);
    const big = `[${Array.from({ length: 4000 }, (_, i) => i).join(', ')}]`;
    assert.deepEqual(problems(yaml(...HEADER, `a: &big ${big}`, 'b: [*big, *big, *big]')), [
      'pipdu.yaml:4:17 b[2]: YAML: aliases add more than 10000 values to the file once expanded',
    ]);
  });

  test('an alias without an anchor before it, or inside what it names, is located (no ReferenceError)', () => {
    assert.deepEqual(problems(yaml(...HEADER, 'name: *nope', 'x: &nope 1')), [
      'pipdu.yaml:3:7 name: YAML: alias *nope has no anchor &nope before it',
    ]);
    assert.deepEqual(problems(yaml(...HEADER, 'x: &loop [1, *loop]')), [
      'pipdu.yaml:3:14 x[1]: YAML: alias *loop is inside the value it names',
    ]);
  });

  test('aliases a real config would use still work', () => {
    const config = parseConfig(
      yaml(
        ...HEADER,
        'sockets:',
        '  - { number: 1, restore: &restore on, roles: &ops [ops] }',
        '  - { number: 2, restore: *restore, roles: *ops }',
      ),
      'pipdu.yaml',
    );
    assert.equal(config.sockets[1]?.restore, 'on');
    assert.deepEqual(config.sockets[1]?.roles, ['ops']);
  });

  test('a file over 1 MiB is refused before it is read whole; text over 1 MiB before it is parsed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pipdu-config-size-'));
    try {
      const limit = 1024 * 1024;
      const file = path.join(dir, 'pipdu.yaml');
      const padded = (bytes: number) => {
        const head = `${yaml(...HEADER)}# `;
        return `${head}${'x'.repeat(bytes - head.length - 1)}\n`;
      };
      await writeFile(file, padded(limit));
      assert.equal(
        (await loadConfig({ env: { PIPDU_CONFIG: file }, cwd: dir })).config.board.driver,
        'simulator',
      );
      await writeFile(file, padded(limit + 1));
      const tooLarge =
        'pipdu.yaml:1:1 the file is too large: a configuration may be at most 1 MiB (1048576 bytes), this one is';
      await assert.rejects(loadConfig({ env: { PIPDU_CONFIG: file }, cwd: dir }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.format(), `${tooLarge} 1048577 bytes`);
        return true;
      });
      assert.deepEqual(problems(padded(limit + 1)), [`${tooLarge} 1048577 bytes`]);
      // A device has no size to check first: it is read only up to the limit.
      await assert.rejects(loadConfig({ env: { PIPDU_CONFIG: '/dev/zero' }, cwd: dir }), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.format(), `/dev/zero${tooLarge.slice('pipdu.yaml'.length)} larger than that`);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
