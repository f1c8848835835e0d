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
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { buildFirmware, startFirmware } from './helpers/firmware-process.js';
import { Prp1LineClient, parseHello } from './helpers/prp1-conformance.js';
import {
  badChannelCase,
  bootRestoreCase,
  connectCase,
  DriverRig,
  daemonRestartCase,
  driverRestartCase,
  lateSetCase,
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

  test('a SET answered late (the runner holds the reply): STATE re-read at once, its mask emitted', () =>
    lateSetCase(rig!));

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

describe('the firmware serial (HELLO serial=)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-fw-serial-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Runs the firmware on `eeprom` (a file kept between runs) and resolves with HELLO's serial after each step. */
  async function run(eeprom: string, steps: Array<'hello' | 'reset'>): Promise<Array<string | null>> {
    const runner = await startFirmware({ path: path.join(dir, 'board'), args: ['--eeprom', eeprom] });
    let client: Prp1LineClient | null = null;
    const serials: Array<string | null> = [];
    try {
      client = await Prp1LineClient.open(runner.path);
      const booted = (since: number) =>
        runner.waitFor((e) => e.event === 'output' && String(e.line).startsWith('! BOOT '), 10_000, since);
      await booted(0);
      let id = 1;
      for (const step of steps) {
        if (step === 'reset') {
          const since = runner.events.length;
          // From before the reset: the pty may deliver `! BOOT` before the runner's report of it.
          const clientSince = client.events.length;
          client.expectReset();
          await runner.command('reset');
          await booted(since);
          await client.nextEvent((event) => event.event.kind === 'BOOT', 5000, clientSince);
          continue;
        }
        const reply = await client.request(`${id} HELLO`, id);
        id++;
        assert.ok(reply.ok, reply.text);
        serials.push(parseHello(reply.text).serial);
      }
      assert.deepEqual(client.takeProblems(), []);
    } finally {
      await client?.close();
      await runner.stop();
    }
    return serials;
  }

  test('generated at the first HELLO, stored in the EEPROM, the same after resets and runner restarts', async () => {
    const eeprom = path.join(dir, 'eeprom.bin');
    const first = await run(eeprom, ['hello', 'hello', 'reset', 'hello']);
    const serial = first[0];
    assert.match(serial ?? '', /^[0-9A-F]{16}$/, 'serial= is 16 upper-case hex digits');
    assert.deepEqual(first, [serial, serial, serial], 'the same before and after a reset');
    // The EEPROM image holds it at 0x20, most significant byte first (firmware/README.md).
    const image = await readFile(eeprom);
    assert.equal(image.subarray(0x20, 0x28).toString('hex').toUpperCase(), serial);
    assert.deepEqual(
      await run(eeprom, ['hello', 'reset', 'hello']),
      [serial, serial],
      'a new runner, the same chip',
    );
  });
});
