import assert from 'node:assert/strict';
import { request } from 'node:http';
import { afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PDUDAEMON_INVALID, PDUDAEMON_OK, PdudaemonListener } from '../src/api/pdudaemon.js';
import { silentLogger } from '../src/log.js';
import { ALICE, PduFixture } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// pdudaemon's HTTP interface as LAVA and labgrid call it; the answers are
// pdudaemon's own (httplistener.py in Debian's pdudaemon 0.0.8 package).

let fixture: PduFixture | null = null;
let listener: PdudaemonListener | null = null;
afterEach(async () => {
  await listener?.stop();
  await fixture?.dispose();
  listener = null;
  fixture = null;
});

async function start(
  allow = ['127.0.0.1'],
  role: 'viewer' | 'operator' | 'admin' = 'operator',
): Promise<string> {
  fixture = await PduFixture.create('sockets:\n  - { number: 1, protected: true }\n');
  await fixture.startDaemon();
  listener = new PdudaemonListener({
    config: { listen: '127.0.0.1:0', allow, role },
    service: fixture.service,
    logger: silentLogger(),
  });
  return (await listener.start()).url;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      let body = '';
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('on, off and reboot as pdudaemon answers them, and only after the switch happened', async () => {
  const base = await start();
  const on = await get(`${base}/power/control/on?hostname=pipdu&port=5`);
  assert.deepEqual(on, { status: 200, body: PDUDAEMON_OK });
  assert.equal(fixture!.service.info(5).on, true, 'switched before the answer');
  const off = await get(`${base}/power/control/off?hostname=pipdu&port=5`);
  assert.deepEqual(off, { status: 200, body: PDUDAEMON_OK });
  assert.equal(fixture!.service.info(5).on, false);
  await requests(fixture!.service).on(5, ALICE);
  const from = fixture!.received.length;
  const reboot = await get(`${base}/power/control/reboot?hostname=pipdu&port=5&delay=0`);
  assert.deepEqual(reboot, { status: 200, body: PDUDAEMON_OK });
  assert.deepEqual(
    fixture!.switchingLines(from).map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 4 0', 'SET 4 1'],
  );
  const [entry] = await fixture!.service.auditLog(1);
  assert.deepEqual([entry?.actor.kind, entry?.action], ['pdudaemon', 'cycle']);
});

test('bad requests get pdudaemon\'s 500 "Invalid request" and switch nothing', async () => {
  const base = await start();
  for (const bad of [
    '/power/control/on?hostname=other-pdu&port=5',
    '/power/control/on?hostname=pipdu&port=17',
    '/power/control/on?hostname=pipdu',
    '/power/control/on?hostname=pipdu&port=x',
    '/power/control/on?hostname=pipdu&port=5&delay=-1',
    '/power/control/on?alias=nas',
    '/power/control/off?hostname=pipdu&port=1', // protected: an operator may not switch it off
  ]) {
    assert.deepEqual(await get(`${base}${bad}`), { status: 500, body: PDUDAEMON_INVALID }, bad);
  }
  assert.equal((await get(`${base}/power/control/dance?hostname=pipdu&port=5`)).status, 404);
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('a source address not in the allow list gets 403, every time', async () => {
  const base = await start(['10.0.0.0/8']);
  for (let attempt = 1; attempt <= 3; attempt++) {
    const answer = await get(`${base}/power/control/on?hostname=pipdu&port=5`);
    assert.equal(answer.status, 403, `attempt ${attempt}`);
  }
  assert.equal(fixture!.service.info(5).on, false);
  assert.deepEqual(fixture!.switchingLines(), []);
});

test('a client that goes away during its delay never switches later', async () => {
  const base = await start();
  const pending = request(`${base}/power/control/on?hostname=pipdu&port=6&delay=1`);
  pending.on('error', () => undefined);
  pending.end();
  await new Promise((resolve) => pending.once('socket', (socket) => socket.once('connect', resolve)));
  pending.destroy();
  // Proving a negative: wait out the delay (1 s) and a margin, then look.
  await sleep(1500);
  assert.equal(fixture!.service.info(6).on, false);
  assert.deepEqual(fixture!.switchingLines(), []);
});
