import { BOARD_DRIVER_INFO, BOARD_DRIVERS } from '../src/config/board-drivers.js';
import type { BoardConfig } from '../src/config/schema.js';
import { PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { ExchangeBoard } from './exchange-board.js';
import { findGpioChipBase } from './gpio-chip-base.js';
import { GpioRelayBoard } from './gpio-relay-board.js';
import { createOnoffRelayLines, type RelayLines } from './gpio-relay-lines.js';
import { LcusProtocol } from './lcus-protocol.js';
import { LegacyBoard } from './legacy-board.js';
import type { BackoffOptions } from './line-transport.js';
import { MemoryTransport } from './memory-transport.js';
import { ModbusProtocol } from './modbus-protocol.js';
import { NumatoProtocol } from './numato-protocol.js';
import { Prp1Board } from './prp1-board.js';
import type { RelayBoard } from './relay-board.js';
import { SerialTransport } from './serial-transport.js';
import { SimulatedBoard } from './simulated-board.js';

export { BOARD_DRIVERS } from '../src/config/board-drivers.js';
export type { BoardDriverName, RelayBoard } from './relay-board.js';

export interface RelayBoardDeps {
  logger: Logger;
  /** Legacy firmware: the relays as last saved, since the board cannot say (default all off). */
  assumedMask?: number;
  /** Reopen back-off (default 100 ms doubling to 5 s); tests shorten it. */
  backoff?: BackoffOptions;
  /**
   * The built-in simulator's state file (the daemon passes `<state dir>/simulator.json`):
   * it keeps the simulated board's relays, power-up mask, boot id and serial, so a
   * restarted daemon finds the same board as it left it, as with a board that stayed
   * powered. Absent: a brand-new board at every start. Only the `simulator` driver uses it.
   */
  simulatorStateFile?: string;
  /** The `gpio` driver's lines (default: onoff on the Pi's header chip); tests pass fakes. */
  relayLines?: () => Promise<RelayLines>;
}

/** The one place that knows the concrete relay board drivers. */
export function createRelayBoard(config: BoardConfig, deps: RelayBoardDeps): RelayBoard {
  switch (config.driver) {
    case 'prp1':
      return new Prp1Board({
        transport: new SerialTransport({
          path: requirePort(config),
          baudRate: config.baudRate,
          logger: deps.logger,
        }),
        logger: deps.logger,
        driver: 'prp1',
        replyTimeoutMs: config.replyTimeout,
        backoff: deps.backoff,
      });
    case 'legacy':
      return new LegacyBoard({
        transport: new SerialTransport({
          path: requirePort(config),
          baudRate: config.baudRate,
          logger: deps.logger,
        }),
        logger: deps.logger,
        assumedMask: deps.assumedMask,
        backoff: deps.backoff,
      });
    case 'simulator': {
      const device = new SimulatedBoard(
        deps.simulatorStateFile === undefined ? {} : { stateFile: deps.simulatorStateFile },
      );
      device.on('stateFileError', (error) =>
        deps.logger.warn(
          { file: deps.simulatorStateFile },
          `built-in simulator state file: ${error.message}`,
        ),
      );
      return new Prp1Board({
        transport: new MemoryTransport({ device, ownDevice: true, description: 'built-in simulator' }),
        logger: deps.logger,
        driver: 'simulator',
        replyTimeoutMs: config.replyTimeout,
        backoff: deps.backoff,
        // The simulator powers up as the daemon opens it: a real reset, but no DTR to blame.
        warnResetOnOpen: false,
      });
    }
    case 'numato':
    case 'lcus':
    case 'modbus': {
      const channels = requireChannels(config);
      const transport = new SerialTransport({
        path: requirePort(config),
        baudRate: config.baudRate,
        parity: config.driver === 'modbus' ? (config.parity ?? 'none') : 'none',
        logger: deps.logger,
      });
      const protocol =
        config.driver === 'numato'
          ? new NumatoProtocol(channels)
          : config.driver === 'lcus'
            ? new LcusProtocol(channels)
            : new ModbusProtocol({ channels, slaveId: config.slaveId ?? 1 });
      return new ExchangeBoard({
        driver: config.driver,
        transport,
        protocol,
        logger: deps.logger,
        channels,
        reportsState: BOARD_DRIVER_INFO[config.driver].reportsState,
        assumedMask: deps.assumedMask,
        replyTimeoutMs: config.replyTimeout,
        backoff: deps.backoff,
      });
    }
    case 'gpio': {
      if (!config.lines?.length) {
        throw new PduError(
          'BAD_CONFIG',
          'board.lines is required for the gpio driver (the BCM line of each relay)',
        );
      }
      const { gpioChipBase = 'auto' } = config;
      return new GpioRelayBoard({
        lines:
          deps.relayLines ??
          (async () =>
            createOnoffRelayLines({ chipBase: await findGpioChipBase({ override: gpioChipBase }) })),
        channels: config.lines,
        activeLow: config.activeLow ?? false,
        logger: deps.logger,
      });
    }
    default: {
      // `never`: a driver in BOARD_DRIVERS without a case above fails the type-check.
      const unknown: never = config.driver;
      throw new PduError(
        'BAD_CONFIG',
        `unknown board driver "${String(unknown)}": valid drivers are ${BOARD_DRIVERS.join(', ')}`,
      );
    }
  }
}

function requireChannels(config: BoardConfig): number {
  if (config.channels === undefined) {
    throw new PduError(
      'BAD_CONFIG',
      `board.channels is required for the ${config.driver} driver (its relay count)`,
    );
  }
  return config.channels;
}

function requirePort(config: BoardConfig): string {
  if (!config.port) {
    throw new PduError(
      'BAD_CONFIG',
      `board.port is required for the ${config.driver} driver (a serial device path)`,
    );
  }
  return config.port;
}
