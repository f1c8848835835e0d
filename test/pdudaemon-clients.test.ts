import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PdudaemonListener } from '../src/api/pdudaemon.js';
import { silentLogger } from '../src/log.js';
import { ALICE, PduFixture } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// pdudaemon's own clients, as Debian ships them (pdudaemon-client's pduclient,
// python3-labgrid's PDUDaemonDriver), against the pdudaemon listener with the
// simulated board behind it. Debian's python, not whatever python3 is first on PATH.

const PYTHON = '/usr/bin/python3';
const PDUCLIENT = fileURLToPath(new URL('./helpers/pduclient-on-port.py', import.meta.url));
const LABGRID = fileURLToPath(new URL('./helpers/labgrid-pdudaemon.py', import.meta.url));
/** Generous: labgrid sleeps a second after each request, and its cycle the delay and a second more. */
const CLIENT_TIMEOUT_MS = 30_000;

let fixture: PduFixture;
let listener: PdudaemonListener;
let port: number;
let dir: string;

beforeEach(async () => {
  fixture = await PduFixture.create('sockets:\n  - { number: 1, protected: true }\n');
  await fixture.startDaemon();
  listener = new PdudaemonListener({
    config: { listen: '127.0.0.1:0', allow: ['127.0.0.1'], role: 'operator' },
    service: fixture.service,
    logger: silentLogger(),
  });
  port = Number(new URL((await listener.start()).url).port);
  dir = await mkdtemp(join(tmpdir(), 'pipdu-pdudaemon-clients-'));
});

afterEach(async () => {
  await listener.stop();
  await fixture.dispose();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [file, ...args],
      { env: { ...process.env, ...env }, timeout: CLIENT_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/** pduclient, as LAVA device dictionaries call it, aimed at the listener's port. */
function pduclient(command: string, socket: string, extra: string[] = []): Promise<Run> {
  return run(
    PDUCLIENT,
    ['--daemon', '127.0.0.1', '--hostname', 'pipdu', '--port', socket, '--command', command, ...extra],
    { PDUCLIENT_PORT: String(port) },
  );
}

/** What the board was told since `from`: `SET <relay> <0|1>`. */
function sets(from = 0): string[] {
  return fixture.switchingLines(from).map((line) => line.split(' ').slice(1).join(' '));
}

for (const protocol of ['TCP', 'HTTP'] as const) {
  const extra = protocol === 'HTTP' ? ['--http'] : [];

  test(`pduclient over ${protocol}: on, off and reboot switch the board`, async () => {
    const on = await pduclient('on', '5', extra);
    assert.deepEqual(on, { code: 0, stdout: 'Command sent successfully.\n', stderr: '' });
    assert.equal(fixture.service.info(5).on, true);
    assert.deepEqual(sets(), ['SET 4 1']);

    const off = await pduclient('off', '5', extra);
    assert.equal(off.code, 0, off.stdout);
    assert.equal(fixture.service.info(5).on, false);
    assert.deepEqual(sets(), ['SET 4 1', 'SET 4 0']);

    await requests(fixture.service).on(5, ALICE);
    const from = fixture.received.length;
    const reboot = await pduclient('reboot', '5', [...extra, '--delay', '1']);
    assert.equal(reboot.code, 0, reboot.stdout);
    assert.deepEqual(sets(from), ['SET 4 0', 'SET 4 1']);
    assert.equal(fixture.service.info(5).on, true);
    const [entry] = await fixture.service.auditLog(1);
    assert.deepEqual([entry?.actor.kind, entry?.action, entry?.result], ['pdudaemon', 'cycle', 'ok']);
  });

  test(`pduclient over ${protocol}: a bad socket, PDU or forbidden switch exits non-zero and switches nothing`, async () => {
    for (const [command, socket, hostname] of [
      ['on', '17', 'pipdu'],
      ['on', '0', 'pipdu'],
      ['on', '5', 'other-pdu'],
      ['off', '1', 'pipdu'], // protected: the listener's operator role may not switch it off
    ] as const) {
      const answer = await run(
        PDUCLIENT,
        ['--daemon', '127.0.0.1', '--hostname', hostname, '--port', socket, '--command', command, ...extra],
        { PDUCLIENT_PORT: String(port) },
      );
      assert.equal(answer.code, 127, `${command} ${socket}@${hostname}: ${answer.stdout}`);
      assert.match(
        answer.stdout,
        protocol === 'TCP'
          ? /^Error sending command! 127\.0\.0\.1 replied: nack$/m
          : /^Error sending command! 127\.0\.0\.1 replied: <Response \[500\]>$/m,
      );
    }
    assert.deepEqual(sets(), []);
  });
}

async function labgridEnv(socket: number, delay = 1.0): Promise<string> {
  const file = join(dir, `env-${socket}.yaml`);
  await writeFile(
    file,
    [
      'targets:',
      '  main:',
      '    resources:',
      '      PDUDaemonPort:',
      `        host: 127.0.0.1:${port}`,
      '        pdu: pipdu',
      `        index: ${socket}`,
      '    drivers:',
      '      PDUDaemonDriver:',
      `        delay: ${delay.toFixed(1)}`,
      '',
    ].join('\n'),
  );
  return file;
}

test("labgrid's PDUDaemonDriver: on, off and cycle switch the board", async () => {
  const result = await run(LABGRID, [await labgridEnv(6), 'on', 'off', 'on', 'cycle']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, 'on done\noff done\non done\ncycle done\n');
  assert.deepEqual(sets(), ['SET 5 1', 'SET 5 0', 'SET 5 1', 'SET 5 0', 'SET 5 1']);
  assert.equal(fixture.service.info(6).on, true);
  const entries = await fixture.service.auditLog(4);
  assert.deepEqual(
    entries.map((entry) => [entry.actor.kind, entry.action, entry.result]),
    [
      ['pdudaemon', 'on', 'ok'],
      ['pdudaemon', 'off', 'ok'],
      ['pdudaemon', 'on', 'ok'],
      ['pdudaemon', 'cycle', 'ok'],
    ],
  );
});

test("labgrid's PDUDaemonDriver: a bad socket raises and switches nothing", async () => {
  const result = await run(LABGRID, [await labgridEnv(17), 'on']);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^on failed: 500 Server Error/m);
  assert.deepEqual(sets(), []);
});
