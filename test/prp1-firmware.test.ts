/**
 * The daemon's prp1 driver tests against the real firmware binary in the
 * emulator (firmware/build/pipdu-sim on a pty), through the real
 * SerialTransport/Prp1Board and, for restart safety and `! BOOT` restore, the
 * real PduService: the same cases prp1-serial.test.ts and pdu-serial.test.ts
 * run against the simulator (helpers/prp1-driver-cases.ts). Relay pins are
 * checked from the runner's `relays` events, what reached the board from its
 * `request` events.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { buildFirmware } from './helpers/firmware-process.js';
import {
  badChannelCase,
  bootRestoreCase,
  connectCase,
  DriverRig,
  daemonRestartCase,
  driverRestartCase,
  powerLossCase,
  type SerialBoardUnderTest,
  startFirmwareUnderTest,
  switchCase,
} from './helpers/prp1-driver-cases.js';

/** PRP/1's reply timeout: the emulator shares two cores with the rest of the test run. */
const REPLY_TIMEOUT_MS = 500;

before(() => buildFirmware());

describe('the prp1 driver against the firmware in the emulator', () => {
  let rig: DriverRig | undefined;

  before(async () => {
    rig = new DriverRig(await startFirmwareUnderTest(), REPLY_TIMEOUT_MS);
    await rig.connect();
  });

  after(() => rig?.stop());

  test('connect sends exactly HELLO then STATE and adopts the reply', async () => {
    await connectCase(rig!);
    // The CPU starts when the port is opened: the power-up `! BOOT` came during the handshake (or was flushed).
    const boot = rig!.connected.bootDuringConnect;
    if (boot) assert.equal(boot.mask, 0, 'nothing stored in a fresh EEPROM: all off');
    assert.equal(rig!.target.process.events.filter((e) => e.event === 'boot').length, 1);
  });

  test('set, mask, current, default, ping: the relay pins follow every reply', async () => {
    const currents = await switchCase(rig!);
    for (const channel of [0, 1, 2, 3, 8, 9, 10, 11])
      assert.ok(Math.abs(currents[channel]! - 1000) <= 50, `channel ${channel}: ${currents[channel]} mA`);
  });

  test('BADCH replies become typed errors', () => badChannelCase(rig!));

  test('reset (SIGUSR1): boot with the stored power-up mask, identity re-read with the new boot id', async () => {
    await powerLossCase(rig!);
    const boot = rig!.target.process.events.findLast((e) => e.event === 'boot');
    assert.equal(boot?.cause, 'reset');
  });

  test('restart: a new driver on the same port sends HELLO and STATE only and switches nothing', () =>
    driverRestartCase(rig!));
});

describe('the daemon on the prp1 driver against the firmware in the emulator', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  async function firmware(): Promise<SerialBoardUnderTest> {
    const board = await startFirmwareUnderTest();
    cleanups.push(() => board.stop());
    return board;
  }

  test('restart safety: a daemon restart switches nothing; state.json on, board off: the board wins', async () =>
    daemonRestartCase(await firmware(), cleanups));

  test('`! BOOT` restores restore: on/last sockets and leaves restore: off ones off', async () =>
    bootRestoreCase(await firmware(), cleanups, 40));
});
