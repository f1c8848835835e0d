import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { PduMetrics } from '../src/api/metrics.js';
import { ALICE, PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

let fixture: PduFixture | null = null;
let metrics: PduMetrics | null = null;
let dir: string | null = null;
afterEach(async () => {
  metrics?.stop();
  await fixture?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
  fixture = null;
  metrics = null;
  dir = null;
});

/** The value of one series in Prometheus text (`name{a="1",b="2"}`, labels in any order), or undefined. */
function value(text: string, series: string): number | undefined {
  const [, name, labels = ''] = /^([^{]+)(?:\{(.*)\})?$/.exec(series) ?? [];
  const wanted = labels ? labels.split(',').sort().join(',') : '';
  for (const line of text.split('\n')) {
    const match = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if ((match[2] ?? '').split(',').filter(Boolean).sort().join(',') === wanted) return Number(match[3]);
  }
  return undefined;
}

test('metrics: per-socket state, current and power, board health, switch and hook counters, process', async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipdu-metrics-'));
  const fail = join(dir, 'fail');
  await writeFile(fail, '#!/bin/sh\nexit 3\n');
  await chmod(fail, 0o755);
  fixture = await PduFixture.create(
    `name: rack-a\nsockets:\n  - { number: 2, name: nas }\n  - number: 3\n    preOff:\n      - exec: { argv: [/bin/true] }\n  - number: 4\n    preOff:\n      - exec: { argv: [${fail}] }\n`,
  );
  await fixture.startDaemon();
  metrics = new PduMetrics({ service: fixture.service, pduName: 'rack-a' });
  metrics.start();
  await requests(fixture.service).on('nas', ALICE);
  await requests(fixture.service).on(3, ALICE);
  await requests(fixture.service).off(3, ALICE);
  await requests(fixture.service).on(4, ALICE);
  await assert.rejects(() => requests(fixture!.service).off(4, ALICE));
  await until(fixture.service, 'telemetry', () => (fixture!.service.info('nas').currentMa ?? 0) > 0);

  const { contentType, body } = await metrics.render();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const nas = fixture.service.info('nas');
  assert.equal(value(body, 'pipdu_socket_on{socket="2",name="nas",pdu="rack-a"}'), 1);
  assert.equal(value(body, 'pipdu_socket_on{socket="3",name="",pdu="rack-a"}'), 0);
  assert.equal(value(body, 'pipdu_socket_assumed{socket="2",name="nas",pdu="rack-a"}'), 0);
  assert.ok(
    Math.abs(
      (value(body, 'pipdu_socket_current_amperes{socket="2",name="nas",pdu="rack-a"}') ?? 0) -
        (nas.currentMa ?? 0) / 1000,
    ) < 0.5,
  );
  assert.ok((value(body, 'pipdu_socket_power_watts{socket="2",name="nas",pdu="rack-a"}') ?? 0) > 0);
  assert.equal(value(body, 'pipdu_board_online{pdu="rack-a"}'), 1);
  assert.ok((value(body, 'pipdu_board_requests_total{pdu="rack-a"}') ?? 0) >= 5);
  assert.equal(value(body, 'pipdu_switch_requests_total{action="on",result="ok",pdu="rack-a"}'), 3);
  assert.equal(
    value(body, 'pipdu_switch_requests_total{action="off",result="COMMAND_FAILED",pdu="rack-a"}'),
    1,
  );
  assert.equal(value(body, 'pipdu_hook_steps_total{kind="exec",status="ok",pdu="rack-a"}'), 1);
  assert.equal(value(body, 'pipdu_hook_steps_total{kind="exec",status="failed",pdu="rack-a"}'), 1);
  assert.equal(value(body, 'pipdu_hook_step_duration_seconds_count{kind="exec",pdu="rack-a"}'), 2);
  assert.ok((value(body, 'process_resident_memory_bytes{pdu="rack-a"}') ?? 0) > 0, 'process metrics');
  // A counter set from the driver's totals never goes down between scrapes.
  const again = (await metrics.render()).body;
  assert.ok(
    (value(again, 'pipdu_board_requests_total{pdu="rack-a"}') ?? 0) >=
      (value(body, 'pipdu_board_requests_total{pdu="rack-a"}') ?? 0),
  );
});

test('promtool (Prometheus itself) accepts the exposition', async () => {
  fixture = await PduFixture.create('name: rack-a\nsockets:\n  - { number: 2, name: nas }\n');
  await fixture.startDaemon();
  metrics = new PduMetrics({ service: fixture.service, pduName: 'rack-a' });
  metrics.start();
  await requests(fixture.service).on('nas', ALICE);
  const { body } = await metrics.render();
  // Debian's prometheus package, installed by .ci/run; `check metrics` reads the text on stdin.
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`promtool could not run (apt-get install prometheus): ${error.message}`)),
    );
    child.once('exit', resolve);
  });
  child.stdin.end(body);
  assert.equal(await exit, 0, `promtool check metrics:\n${output}`);
  assert.equal(output.trim(), '', `promtool found problems:\n${output}`);
});
