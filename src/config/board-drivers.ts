/**
 * The relay board drivers, listed once: the config schema's `board.driver`
 * enum, the `BoardDriverName` type and `createRelayBoard()`'s message all
 * come from here. Zod-free, so hardware code can import it without the
 * validator. A new name also needs its case in `createRelayBoard()`
 * (hardware/index.ts), or the type-check fails.
 */
export const BOARD_DRIVERS = ['prp1', 'legacy', 'simulator', 'numato', 'lcus', 'modbus', 'gpio'] as const;

export type BoardDriverName = (typeof BOARD_DRIVERS)[number];

/** What a driver's board has and can tell: the config check and the docs read it. */
export interface BoardDriverInfo {
  /**
   * The channel counts `board.channels` may take; `null`: the board says
   * (PRP/1: HELLO; legacy: 16) or, for `gpio`, one per `board.lines` entry.
   */
  channels: readonly number[] | null;
  /** The channels when `board.channels` is absent (null: the key is required, or not used). */
  defaultChannels: number | null;
  /** false: the relays are *assumed* (what this host last sent). */
  reportsState: boolean;
  /** RMS current per channel. */
  reportsCurrent: boolean;
  /** The baud rate when `board.baudRate` is absent. */
  defaultBaudRate: number;
}

export const BOARD_DRIVER_INFO: Readonly<Record<BoardDriverName, BoardDriverInfo>> = {
  prp1: {
    channels: null,
    defaultChannels: null,
    reportsState: true,
    reportsCurrent: true,
    defaultBaudRate: 115200,
  },
  legacy: {
    channels: null,
    defaultChannels: null,
    reportsState: false,
    reportsCurrent: true,
    defaultBaudRate: 9600,
  },
  simulator: {
    channels: null,
    defaultChannels: null,
    reportsState: true,
    reportsCurrent: true,
    defaultBaudRate: 115200,
  },
  // A CDC device: the baud rate is not used on the wire.
  numato: {
    channels: [1, 2, 4, 8, 16, 32],
    defaultChannels: null,
    reportsState: true,
    reportsCurrent: false,
    defaultBaudRate: 19200,
  },
  lcus: {
    channels: [1, 2, 4, 8],
    defaultChannels: null,
    reportsState: false,
    reportsCurrent: false,
    defaultBaudRate: 9600,
  },
  modbus: {
    channels: [8, 16, 32],
    defaultChannels: null,
    reportsState: true,
    reportsCurrent: false,
    defaultBaudRate: 9600,
  },
  gpio: {
    channels: null,
    defaultChannels: null,
    reportsState: true,
    reportsCurrent: false,
    defaultBaudRate: 9600,
  },
};

/** Drivers whose relay channel count comes from `board.channels`. */
export const CHANNEL_COUNT_DRIVERS: readonly BoardDriverName[] = ['numato', 'lcus', 'modbus'];
