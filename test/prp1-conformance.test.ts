/**
 * The PRP/1 conformance suite (helpers/prp1-conformance.ts) against the
 * project's simulator and against the real firmware in the emulator, so the
 * two can never drift apart; plus the suite's own parsers and line client.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  buildActiveLowFirmware,
  mispairedReplies,
  replyTimings,
  startFirmwareBoard,
} from './helpers/firmware-process.js';
import {
  type BoardUnderTest,
  describeConformance,
  expectedReplyId,
  Prp1LineClient,
  parseCurrents,
  parseEvent,
  parseHello,
  parseMask,
  parseReply,
} from './helpers/prp1-conformance.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

/** The simulator CLI as a BoardUnderTest, with a fresh EEPROM file (so DEFAULT is stored across resets). */
async function simulatorBoard(
  name: string,
  args: string[],
): Promise<BoardUnderTest & { sim: SimulatorProcess }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-conformance-'));
  let sim: SimulatorProcess;
  try {
    sim = await startSimulator({ args: ['--eeprom', path.join(dir, 'eeprom'), ...args] });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    name,
    path: sim.path,
    sim,
    reset: () => sim.command('reset'),
    setLoad: (channel, mA) => sim.command(`load ${channel} ${mA}`),
    relays() {
      const latest = sim.events.findLast((event) => event.event === 'boot' || event.event === 'relays');
      return typeof latest?.mask === 'string' ? latest.mask : null;
    },
    // The simulator reports pin changes on stdout before it even queues the reply; a control
    // line acknowledged after the reply arrived is reported after them. `unmute` changes nothing here.
    observed: () => sim.command('unmute'),
    async stop() {
      try {
        await sim.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

describeConformance(
  'the simulator (hardware/simulator-cli.ts)',
  () => simulatorBoard('simulator', ['--telemetry', '1000']),
  { channels: 16, features: ['current', 'persist'] },
);

describeConformance(
  'a 14-channel simulator without features, and without serial= (an older firmware)',
  () =>
    simulatorBoard('simulator, 14 channels, no features, no serial', [
      '--channels',
      '14',
      '--features',
      '',
      '--no-serial',
    ]),
  { channels: 14, features: [], serial: false },
);

describeConformance('the firmware in the emulator (firmware/build/pipdu-sim)', () => startFirmwareBoard(), {
  channels: 16,
  features: ['current', 'persist'],
  timing: true,
  watchdog: true,
});

// Active-low relay modules: the build option and the runner's matching flag. The whole suite
// again, so "relay pins equal the reported mask" holds with inverted pins too.
describeConformance(
  'the active-low firmware build in the emulator (RELAY_ACTIVE_LOW=1, --active-low)',
  async () =>
    startFirmwareBoard({
      name: 'active-low firmware',
      args: ['--elf', await buildActiveLowFirmware(), '--active-low'],
    }),
  { channels: 16, features: ['current', 'persist'] },
);

test('an active-low board never drives a relay on while it powers up with nothing stored', async () => {
  const elf = await buildActiveLowFirmware();
  const board = await startFirmwareBoard({
    name: 'active-low firmware',
    args: ['--elf', elf, '--active-low'],
  });
  let client: Prp1LineClient | null = null;
  try {
    client = await Prp1LineClient.open(board.path);
    await board.opened?.();
    assert.deepEqual(await client.request('1 STATE'), { id: 1, ok: true, text: '0000' });
    const relays = board.process.events.filter((event) => event.event === 'relays');
    assert.deepEqual(
      relays.filter((event) => event.on === true),
      [],
      'a relay pin was driven to its on level during power-up',
    );
  } finally {
    await client?.close();
    await board.stop();
  }
});

describe('the conformance parsers', () => {
  test('replies: OK and ERR with every code, FAULT included; malformed ones are refused', () => {
    assert.deepEqual(parseReply('7 OK 00FF'), { id: 7, ok: true, text: '00FF' });
    assert.deepEqual(parseReply('65535 OK PONG'), { id: 65535, ok: true, text: 'PONG' });
    for (const code of ['BADREQ', 'BADCH', 'UNSUPPORTED', 'FAULT']) {
      assert.deepEqual(parseReply(`9 ERR ${code} some free text`), {
        id: 9,
        ok: false,
        code,
        text: 'some free text',
      });
    }
    assert.deepEqual(parseReply('0 ERR BADREQ line too long'), {
      id: 0,
      ok: false,
      code: 'BADREQ',
      text: 'line too long',
    });
    for (const bad of [
      '7 ERR FAULT', // no free text
      '7 ERR FAULTY relay',
      '7 ERR fault relay welded',
      '7 OK',
      '7 OK ',
      '7  OK 00FF',
      '7 OK 00FF ',
      '0 OK PONG',
      '65536 OK PONG',
      '007 OK PONG',
      'x OK PONG',
      '7 NAK 00FF',
      '7 OK 00\tFF',
      `7 OK ${'0'.repeat(124)}`,
    ]) {
      assert.throws(() => parseReply(bad), /malformed/, bad);
    }
  });

  test('HELLO: the defined keys, unknown key=value pairs tolerated', () => {
    assert.deepEqual(
      parseHello('PIPDU/1 channels=16 fw=1.0.0 features=current,persist boot=3F2A91C0 color=blue x='),
      {
        protocol: 'PIPDU/1',
        channels: 16,
        firmware: '1.0.0',
        features: ['current', 'persist'],
        bootId: '3F2A91C0',
        serial: null,
        extra: { color: 'blue', x: '' },
      },
    );
    assert.equal(
      parseHello('PIPDU/1 channels=4 fw=1.0.0 features= boot=1 serial=00C0FFEE').serial,
      '00C0FFEE',
    );
    assert.equal(
      parseHello('PIPDU/1 channels=4 fw=1.0.0 features= boot=1 serial=0123456789ABCDEF').serial,
      '0123456789ABCDEF',
    );
    assert.deepEqual(parseHello('PIPDU/1 boot=1 features= fw=2.10.3-sim channels=4').features, []);
    for (const bad of [
      'PIPDU/2 channels=16 fw=1.0.0 features= boot=1',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=3f2a',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=123456789',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=',
      'PIPDU/1 channels=16 fw=1.0 features= boot=1',
      'PIPDU/1 channels=0 fw=1.0.0 features= boot=1',
      'PIPDU/1 channels=33 fw=1.0.0 features= boot=1',
      'PIPDU/1 fw=1.0.0 features= boot=1',
      'PIPDU/1 channels=16 fw=1.0.0 features=current,,persist boot=1',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=1 boot=2',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=1 extra',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=1 serial=00c0ffee',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=1 serial=C0FFEE',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=1 serial=0123456789ABCDEF0',
      'PIPDU/1 channels=16 fw=1.0.0 features= boot=1 serial=',
    ]) {
      assert.throws(() => parseHello(bad), /malformed/, bad);
    }
  });

  test('masks, currents, events and the id a reply must carry', () => {
    assert.equal(parseMask('00FF', 16), 0xff);
    assert.equal(parseMask('3FFF', 14), 0x3fff);
    for (const [bad, n] of [
      ['00ff', 16],
      ['0FF', 16],
      ['000FF', 16],
      ['4000', 14],
    ] as const) {
      assert.throws(() => parseMask(bad, n), /not|above/, bad);
    }
    assert.deepEqual(parseCurrents('0,1000,25', 3), [0, 1000, 25]);
    for (const bad of ['0,1000', '0,,1', '0,-1,2', '0,1.5,2', '0,01,2']) {
      assert.throws(() => parseCurrents(bad, 3), /currents/, bad);
    }
    assert.deepEqual(parseEvent('! BOOT 00A5', 16), { kind: 'BOOT', mask: '00A5' });
    assert.deepEqual(parseEvent('! CURRENT 1,2', 2), { kind: 'CURRENT', values: [1, 2] });
    assert.deepEqual(parseEvent('! FAULT relay 7 welded'), { kind: 'FAULT', text: 'relay 7 welded' });
    assert.deepEqual(parseEvent('! WEATHER sunny'), { kind: 'OTHER', name: 'WEATHER', text: 'sunny' });
    for (const bad of ['! BOOT', '! BOOT 00a5', '!BOOT 00A5', '! FAULT', '! CURRENT 1', '!  BOOT 0000']) {
      assert.throws(() => parseEvent(bad, 2), /malformed|mask|currents/, bad);
    }
    assert.equal(expectedReplyId('12 PING'), 12);
    assert.equal(expectedReplyId('12 PING\r'), 12);
    for (const line of ['0 PING', '65536 PING', 'PING', ' 1 PING', `1 ${'x'.repeat(126)}`])
      assert.equal(expectedReplyId(line), 0, line);
  });

  test('reply timings from the emulator runner: events already on the wire do not count', () => {
    const timings = replyTimings([
      { event: 'request', line: '1 PING', t_us: 1000 },
      { event: 'output', line: '1 OK PONG', t_first_us: 1300, t_us: 2000 },
      { event: 'output', line: '! CURRENT 1,2,3', t_first_us: 5000, t_us: 12_000 },
      { event: 'request', line: '2 STATE', t_us: 6000 },
      { event: 'output', line: '2 OK 0000', t_first_us: 12_100, t_us: 13_000 },
      { event: 'request', line: '3 PING', t_us: 20_000 },
      { event: 'boot', cause: 'reset', t_us: 20_100 },
      { event: 'request', line: `4 SET ${'0'.repeat(130)} 1`, t_us: 30_000 },
      { event: 'output', line: '0 ERR BADREQ line too long', t_first_us: 31_000, t_us: 32_000 },
    ]);
    assert.deepEqual(
      timings.map((timing) => [timing.request.slice(0, 6), timing.heldByEventUs, timing.latencyUs]),
      [
        ['1 PING', 0, 300],
        ['2 STAT', 6000, 100],
        ['4 SET ', 0, 1000],
      ],
    );
    assert.deepEqual(mispairedReplies(timings), []);
  });
});

describe('the conformance line client', () => {
  let sim: SimulatorProcess;
  let client: Prp1LineClient;

  before(async () => {
    sim = await startSimulator({ args: ['--telemetry', '0'] });
    client = await Prp1LineClient.open(sim.path, { channels: 16 });
  });

  after(async () => {
    await client?.close();
    await sim?.stop();
  });

  test('events between replies are taken as events, unknown ones too', async () => {
    await sim.command('event WEATHER sunny');
    await sim.command('event CURRENT 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16');
    const reply = await client.request('1 PING');
    assert.deepEqual(reply, { id: 1, ok: true, text: 'PONG' });
    assert.deepEqual(
      client.events.map((event) => event.event.kind),
      ['OTHER', 'CURRENT'],
    );
    assert.deepEqual(client.takeProblems(), []);
  });

  test('a reply with another id fails the outstanding request', async () => {
    await sim.command('mute');
    const pending = client.request('2 STATE');
    await sim.waitFor((event) => event.event === 'request' && event.line === '2 STATE');
    // Handled before the stale reply goes out: it may reach the pty before the control acknowledgement.
    const rejected = assert.rejects(pending, /mismatched reply "1 OK 0000" to "2 STATE" \(expected id 2\)/);
    await sim.command('garbage 1 OK 0000');
    await rejected;
    assert.equal(client.takeProblems().length, 1);
    await sim.command('unmute');
  });

  test('a reply with nothing outstanding, or a malformed line, is a problem that fails the next request unsent', async () => {
    const since = client.lines.length;
    await sim.command('garbage 3 OK PONG');
    await sim.command('garbage 4 ERR FAULT');
    await client.nextLine((line) => line === '4 ERR FAULT', 3000, since);
    const sentBefore = sim.requests.length;
    await assert.rejects(client.request('5 PING'), /not sent: pending problems/);
    const problems = client.takeProblems();
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /unexpected reply "3 OK PONG" with no request outstanding/);
    assert.match(problems[1]!, /malformed line "4 ERR FAULT"/);
    assert.deepEqual(await client.request('6 PING'), { id: 6, ok: true, text: 'PONG' });
    assert.equal(sim.requests.length, sentBefore + 1, '5 PING was never sent');
  });

  test('no reply within 2 s fails the request clearly; the client goes on', async () => {
    await sim.command('mute');
    const started = performance.now();
    await assert.rejects(client.request('7 STATE'), /no reply to "7 STATE" \(id 7\) within 2000 ms/);
    const waited = performance.now() - started;
    assert.ok(waited >= 1990 && waited < 2500, `failed after ${waited} ms`);
    await sim.command('unmute');
    assert.deepEqual(await client.request('8 STATE'), { id: 8, ok: true, text: '0000' });
    assert.deepEqual(client.takeProblems(), []);
  });

  test('a cut line followed by ! BOOT is taken as the ! BOOT only after expectReset()', async () => {
    const since = client.lines.length;
    await sim.command('garbage ! CURRENT 1,2! BOOT 0000');
    await client.nextLine((line) => line.endsWith('! BOOT 0000'), 3000, since);
    assert.equal(client.takeProblems().length, 1);
    client.expectReset();
    const eventsSince = client.events.length;
    await sim.command('garbage ! CURRENT 1,2! BOOT 00A5');
    const boot = await client.nextEvent((event) => event.event.kind === 'BOOT', 3000, eventsSince);
    assert.deepEqual([boot.line, boot.afterCutLine], ['! BOOT 00A5', true]);
    assert.deepEqual(client.takeProblems(), []);
  });
});
