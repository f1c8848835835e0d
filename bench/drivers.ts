// Issue 18's driver figures: per relay board driver, the SET-equivalent round trip
// through the driver (ExchangeBoard + SerialTransport, as the daemon runs it) against a
// raw floor on the same pty and the same device model: write the protocol's switch
// bytes with serialport, wait for the reply bytes (LCUS answers nothing: until drained).
// The device models run as the simulator CLI in its own process (--pty: socat).
import { SerialPort } from 'serialport';
import { createRelayBoard } from '../hardware/index.js';
import { lcusFrame } from '../hardware/lcus-protocol.js';
import { modbusCrc } from '../hardware/modbus-protocol.js';
import type { BoardConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import { startSimulator } from '../test/helpers/simulator-process.js';

const ROUND_TRIPS = Number(process.env.BENCH_DRIVER_ROUND_TRIPS ?? 1000);
const WARM_UP = 100;

interface Protocol {
  driver: 'numato' | 'lcus' | 'modbus';
  channels: number;
  /** The switch request's bytes and the reply it waits for (null: none, wait for the drain). */
  request: (i: number) => { bytes: Buffer; done: ((received: Buffer) => boolean) | null };
}

const numato: Protocol = {
  driver: 'numato',
  channels: 16,
  request: (i) => ({
    bytes: Buffer.from(`relay ${on(i) ? 'on' : 'off'} ${(i % 16).toString(16).toUpperCase()}\r`, 'latin1'),
    done: (received) => received.includes(0x3e), // '>'
  }),
};

const lcus: Protocol = {
  driver: 'lcus',
  channels: 8,
  request: (i) => ({ bytes: Buffer.from(lcusFrame(i % 8, on(i)), 'latin1'), done: null }),
};

const modbus: Protocol = {
  driver: 'modbus',
  channels: 16,
  request: (i) => {
    const body = [1, 0x05, 0, i % 16, on(i) ? 0xff : 0, 0];
    const crc = modbusCrc(body);
    return { bytes: Buffer.from([...body, crc & 0xff, crc >> 8]), done: (received) => received.length >= 8 };
  },
};

function on(i: number): boolean {
  return Math.floor(i / 16) % 2 === 0;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** Raw serialport: the switch bytes out, the whole reply back (or the drain). */
async function rawFloor(path: string, protocol: Protocol): Promise<number[]> {
  const port = new SerialPort({ path, baudRate: 115200, hupcl: false, autoOpen: false });
  port.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  let received = Buffer.alloc(0);
  let check: (() => void) | null = null;
  port.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    check?.();
  });
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS + WARM_UP; i++) {
    const { bytes, done } = protocol.request(i);
    received = Buffer.alloc(0);
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      if (done) {
        check = () => {
          if (done(received)) resolve();
        };
        port.write(bytes);
      } else {
        port.write(bytes);
        port.drain((error) => (error ? reject(error) : resolve()));
      }
    });
    check = null;
    if (i >= WARM_UP) samples.push(performance.now() - started);
  }
  await new Promise<void>((resolve) => port.close(() => resolve()));
  return samples;
}

/** The driver's set() on the same link (waits for the module's answer; LCUS: for the drain). */
async function driverSet(path: string, protocol: Protocol): Promise<number[]> {
  const config = {
    driver: protocol.driver,
    port: path,
    baudRate: 115200,
    switchSpacingMs: 0,
    replyTimeout: 500,
    channels: protocol.channels,
  } satisfies BoardConfig;
  const board = createRelayBoard(config, { logger: silentLogger() });
  const online = new Promise((resolve) => board.once('connected', resolve));
  await board.start();
  await online;
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS + WARM_UP; i++) {
    const started = performance.now();
    // LCUS: the driver's promise settles once the frame has drained, as the floor's does.
    await board.set(i % protocol.channels, on(i), { onSent: () => {} });
    if (i >= WARM_UP) samples.push(performance.now() - started);
  }
  await board.stop();
  return samples;
}

const fmt = (ms: number) => `${ms.toFixed(3)} ms`.padStart(10);

export async function benchDrivers(): Promise<void> {
  console.log(
    `relay board drivers (issue 18): SET-equivalent round trip over a socat pty to the device model (simulator process), ${ROUND_TRIPS} each after ${WARM_UP} warm-up:`,
  );
  console.log(
    `  ${'driver'.padEnd(8)}${'raw median'.padStart(12)}${'raw p99'.padStart(10)}${'drv median'.padStart(12)}${'drv p99'.padStart(10)}${'p99 ratio'.padStart(11)}  (target <= 2x)`,
  );
  for (const protocol of [numato, modbus, lcus]) {
    const sim = await startSimulator({
      args: ['--board', protocol.driver, '--channels', String(protocol.channels)],
    });
    try {
      const raw = summary(await rawFloor(sim.path, protocol));
      const driver = summary(await driverSet(sim.path, protocol));
      console.log(
        `  ${protocol.driver.padEnd(8)}${fmt(raw.median).padStart(12)}${fmt(raw.p99)}${fmt(driver.median).padStart(12)}${fmt(driver.p99)}${`${(driver.p99 / raw.p99).toFixed(2)}x`.padStart(11)}`,
      );
    } finally {
      await sim.stop();
    }
  }
  console.log(
    '  (numato: `relay on|off N` to its `>`; modbus: function 05 to its 8-byte echo; lcus: the 4-byte frame until drained,\n' +
      '   it answers nothing; gpio has no serial link: a set() is one sysfs write)\n',
  );
}

if (process.argv[1]?.endsWith('drivers.ts')) {
  benchDrivers().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
