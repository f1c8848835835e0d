import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { ApiServer } from '../src/api/server.js';
import { Energy } from '../src/energy/energy.js';
import { silentLogger } from '../src/log.js';
import { call } from './helpers/api-client.js';
import { ALICE, PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

let fixture: PduFixture;
let energy: Energy;
let server: ApiServer;
let base: string;

before(async () => {
  fixture = await PduFixture.create(
    'sockets:\n  - number: 2\n    name: nas\n    powerFactor: 0.5\n    alarms: { overCurrent: { amps: 0.01, for: 0s } }\n',
  );
  await fixture.startDaemon();
  energy = new Energy({ service: fixture.service, logger: silentLogger(), dir: fixture.dir });
  await energy.start();
  server = new ApiServer({
    config: { listen: '127.0.0.1:0', clients: {}, loopbackRole: 'admin' },
    service: fixture.service,
    logger: silentLogger(),
    energy,
  });
  base = (await server.start()).url;
});

after(async () => {
  await server?.stop();
  await energy?.stop();
  await fixture?.dispose();
});

/** The next server-sent event of that name on /api/v1/events, once `trigger` ran with the stream open. */
function nextEvent(name: string, trigger: () => Promise<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/api/v1/events', base), { agent: false }, (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      let triggered = false;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        if (!triggered) {
          triggered = true;
          trigger().catch(reject);
        }
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (new RegExp(`^event: ${name}$`, 'm').test(block)) {
            req.destroy();
            resolve(JSON.parse(/^data: (.+)$/m.exec(block)![1]!));
            return;
          }
        }
      });
    });
    req.on('error', () => {});
    req.end();
  });
}

test('an alarm is on the API event stream, and in GET /api/v1/alarms and the status', async () => {
  const event = (await nextEvent('alarm', () => requests(fixture.service).on('nas', ALICE))) as {
    alarm: { id: string; socket: number };
    state: string;
  };
  assert.equal(event.state, 'raised');
  assert.equal(event.alarm.id, 'overCurrent:2');
  const alarms = await call(base, 'GET', '/api/v1/alarms');
  assert.equal(alarms.status, 200);
  assert.deepEqual(
    alarms.body.alarms.map((a: { id: string }) => a.id),
    ['overCurrent:2'],
  );
  const status = await call(base, 'GET', '/api/v1/sockets');
  assert.deepEqual(
    status.body.alarms.map((a: { id: string }) => a.id),
    ['overCurrent:2'],
  );
});

test('sockets carry their power figures and energy; the PDU its energy', async () => {
  await requests(fixture.service).on('nas', ALICE);
  // At least a micro-kWh (the API's resolution), not just a joule.
  await until(fixture.service, 'telemetry', () => energy.joules(2) > 3.6);
  const status = await call(base, 'GET', '/api/v1/sockets');
  assert.equal(status.status, 200);
  const nas = status.body.sockets[1];
  assert.equal(nas.powerFactor, 0.5);
  assert.equal(nas.watts, nas.apparentVa);
  assert.ok(Math.abs(nas.realWatts - nas.apparentVa * 0.5) <= 0.1);
  for (const key of ['todayKwh', 'monthKwh', 'totalKwh', 'gaps'])
    assert.equal(typeof nas.energy[key], 'number');
  assert.ok(nas.energy.totalKwh > 0);
  assert.ok(status.body.energy.totalKwh >= nas.energy.totalKwh);
  const one = await call(base, 'GET', '/api/v1/sockets/nas');
  assert.equal(one.status, 200);
  assert.equal(typeof one.body.energy.totalKwh, 'number');
});

test('GET /api/v1/history answers the resolution for the range; bad parameters are one-line 400s', async () => {
  await until(fixture.service, 'telemetry', () => energy.joules(2) > 0);
  const fine = await call(base, 'GET', '/api/v1/history?socket=2,total&from=1h&step=10s');
  assert.equal(fine.status, 200);
  assert.equal(fine.body.resolution, 's10');
  assert.equal(fine.body.unit, 'W');
  assert.deepEqual(
    fine.body.series.map((s: { socket: unknown }) => s.socket),
    [2, 'total'],
  );
  const points = fine.body.series[0].points;
  assert.ok(points.length >= 1);
  assert.ok(points.at(-1).max >= points.at(-1).avg && points.at(-1).avg >= points.at(-1).min);
  const day = await call(
    base,
    'GET',
    `/api/v1/history?socket=2&from=${new Date(Date.now() - 86_400_000).toISOString()}`,
  );
  assert.equal(day.body.resolution, 'm1');
  const year = await call(base, 'GET', '/api/v1/history?from=1y');
  assert.equal(year.body.resolution, 'h1');
  for (const [query, message] of [
    ['socket=17', /^socket: expected 1\.\.16 or total, got "17"$/],
    ['step=1s', /^step: expected a span of at least 10s/],
    [
      'from=yesterday',
      /^from: expected an ISO time, epoch milliseconds or a span ago like 24h, got "yesterday"$/,
    ],
    ['from=1h&to=2h', /^from must be before to$/],
    ['colour=red', /^unknown parameter "colour"/],
  ] as const) {
    const reply = await call(base, 'GET', `/api/v1/history?${query}`);
    assert.equal(reply.status, 400, query);
    assert.equal(reply.body.error.code, 'BAD_REQUEST');
    assert.match(reply.body.error.message, message);
  }
});
