/**
 * The board section for the numato, lcus, modbus and gpio drivers: each
 * driver's channel counts, sockets beyond them refused where they are
 * listed, the keys each driver takes, and the defaults.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRelayBoard } from '../hardware/index.js';
import { BOARD_DRIVER_INFO } from '../src/config/board-drivers.js';
import { ConfigError } from '../src/config/config-error.js';
import { parseConfig } from '../src/config/load.js';
import { boardChannelCount } from '../src/config/schema.js';
import { PduError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, 'pipdu.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.format().split('\n');
  }
  assert.fail('expected the config to be rejected');
}

const lines = (...text: string[]) => `${text.join('\n')}\n`;

describe('channel counts per driver', () => {
  const cases = [
    { driver: 'numato', board: 'port: /dev/ttyACM0, channels: 8', count: 8, bad: 'channels: 3' },
    { driver: 'lcus', board: 'port: /dev/ttyUSB0, channels: 4', count: 4, bad: 'channels: 16' },
    { driver: 'modbus', board: 'port: /dev/ttyUSB0, channels: 8', count: 8, bad: 'channels: 4' },
    { driver: 'gpio', board: 'lines: [5, 6]', count: 2, bad: null },
  ] as const;

  for (const { driver, board, count, bad } of cases) {
    test(`${driver}: ${count} channels; a listed socket beyond them is an error at that socket`, () => {
      const config = parseConfig(lines('version: 1', `board: { driver: ${driver}, ${board} }`), 'pipdu.yaml');
      assert.equal(boardChannelCount(config.board), count);
      // Unlisted sockets beyond the board are fine: they simply have no relay.
      assert.equal(config.sockets.length, 16);
      const plural = 's'; // every case here has more than one channel
      assert.deepEqual(
        problems(
          lines(
            'version: 1',
            `board: { driver: ${driver}, ${board} }`,
            'sockets:',
            '  - { number: 1, name: nas }',
            `  - { number: ${count + 1}, name: router }`,
            `  - { number: 2, channel: ${count + 1} }`,
            `  - { number: ${count + 2}, channel: 1 }`,
          ),
        ).sort(),
        [
          `pipdu.yaml:5:15 socket ${count + 1} (router) number: socket ${count + 1} uses channel ${count} (number - 1), but the ${driver} board has ${count} channel${plural} (0..${count - 1})`,
          `pipdu.yaml:6:27 socket 2 channel: socket 2 uses channel ${count + 1}, but the ${driver} board has ${count} channel${plural} (0..${count - 1})`,
        ],
      );
      if (bad !== null) {
        const allowed = BOARD_DRIVER_INFO[driver].channels!.join(', ');
        const [problem] = problems(
          lines('version: 1', `board: { driver: ${driver}, ${board.replace(/channels: \d+/, bad)} }`),
        );
        assert.match(
          problem!,
          new RegExp(`board.channels: a ${driver} board has ${allowed} channels, not \\d+$`),
        );
      }
    });
  }

  test('numato, lcus and modbus need channels and a port; gpio needs lines and takes no port', () => {
    assert.deepEqual(problems(lines('version: 1', 'board: { driver: numato }')), [
      'pipdu.yaml:2:1 board.port: required for driver numato: the serial device, like /dev/serial/by-id/usb-Numato_Systems_Pvt._Ltd._Numato_Lab_8_Channel_USB_Relay_Module...',
      "pipdu.yaml:2:1 board.channels: required for driver numato: the board's relay count, one of 1, 2, 4, 8, 16, 32",
    ]);
    assert.deepEqual(problems(lines('version: 1', 'board: { driver: gpio, port: /dev/ttyACM0 }')), [
      'pipdu.yaml:2:1 board.lines: required for driver gpio: the BCM line of each relay, like [5, 6, 13, 19]',
      'pipdu.yaml:2:30 board.port: not used by driver gpio: port is for prp1, legacy, simulator, numato, lcus, modbus',
    ]);
  });

  test('keys for other drivers are refused, naming the drivers that take them', () => {
    assert.deepEqual(
      problems(lines('version: 1', 'board: { driver: prp1, port: /dev/ttyACM0, slaveId: 3, channels: 8 }')),
      [
        'pipdu.yaml:2:53 board.slaveId: not used by driver prp1: slaveId is for modbus',
        'pipdu.yaml:2:66 board.channels: not used by driver prp1: channels is for numato, lcus, modbus',
      ],
    );
  });

  test('modbus: slave id 1..247, parity none|even|odd, 9600 baud by default', () => {
    const config = parseConfig(
      lines('version: 1', 'board: { driver: modbus, port: /dev/ttyUSB0, channels: 8, parity: even }'),
      'pipdu.yaml',
    );
    assert.equal(config.board.baudRate, 9600);
    assert.equal(config.board.parity, 'even');
    assert.deepEqual(
      problems(
        lines(
          'version: 1',
          'board: { driver: modbus, port: /dev/ttyUSB0, channels: 8, slaveId: 248, parity: mark }',
        ),
      ),
      [
        'pipdu.yaml:2:68 board.slaveId: a Modbus slave id is 1..247',
        'pipdu.yaml:2:81 board.parity: expected none | even | odd',
      ],
    );
  });

  test('gpio: lines must differ, and must not be the front panel’s', () => {
    assert.deepEqual(
      problems(
        lines('version: 1', 'board: { driver: gpio, lines: [5, 6, 5] }', 'controller: { buttons: [6] }'),
      ),
      [
        'pipdu.yaml:2:38 board.lines[2]: line 5 is already board.lines[0]',
        'pipdu.yaml:2:35 board.lines[1]: line 6 is already used by controller.buttons[0]',
      ].sort(),
    );
  });
});

describe('what each new driver can report', () => {
  test('state read back or assumed, and no current, as BOARD_DRIVER_INFO says', async () => {
    const boards = {
      numato: 'port: /dev/ttyACM0, channels: 8',
      lcus: 'port: /dev/ttyUSB0, channels: 4',
      modbus: 'port: /dev/ttyUSB0, channels: 8',
      gpio: 'lines: [5]',
    } as const;
    for (const [driver, keys] of Object.entries(boards)) {
      const config = parseConfig(lines('version: 1', `board: { driver: ${driver}, ${keys} }`), 'pipdu.yaml');
      // Built, not started: nothing is opened.
      const board = createRelayBoard(config.board, { logger: silentLogger() });
      const info = BOARD_DRIVER_INFO[driver as keyof typeof boards];
      assert.equal(board.reportsState, info.reportsState, driver);
      assert.equal(info.reportsCurrent, false);
      await assert.rejects(
        board.current(),
        (error: unknown) => error instanceof PduError && error.code === 'UNSUPPORTED',
      );
      await board.stop();
    }
  });
});
