import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { AlarmWatch, type Condition, conditionsFor } from '../src/energy/alarms.js';
import { EnergyCounters } from '../src/energy/counters.js';
import { Energy } from '../src/energy/energy.js';
import { HistoryStore } from '../src/energy/history-store.js';
import { silentLogger } from '../src/log.js';
import type { Alarm, PduEvents, SocketInfo } from '../src/pdu/types.js';

const W = (first: number) => [first, ...Array.from({ length: 15 }, () => 0)];

// ------------------------------------------------------------------ counters

test('counters integrate each interval (trapezoid) and only over intervals that were measured', () => {
  const c = new EnergyCounters(16, 1000);
  const t0 = new Date(2026, 5, 10, 12).getTime();
  for (let i = 0; i <= 10; i++) c.ingest({ at: t0 + i * 500, watts: W(100) });
  assert.equal(c.joules(0), 500); // 10 intervals × 0.5 s × 100 W
  assert.equal(c.joules(null), 500);
  // A ramp counts its mean.
  c.ingest({ at: t0 + 5500, watts: W(300) });
  assert.equal(c.joules(0), 600);
  // Readings 3 s apart (past maxGap 1 s): a gap, nothing counted.
  c.ingest({ at: t0 + 8500, watts: W(300) });
  assert.equal(c.joules(0), 600);
  assert.equal(c.gaps, 1);
  assert.equal(c.unmeasuredMs, 3000);
  // An interruption (board offline): the next reading starts afresh after a gap.
  c.interrupt();
  c.ingest({ at: t0 + 9000, watts: W(300) });
  assert.equal(c.joules(0), 600);
  assert.equal(c.gaps, 2);
  c.ingest({ at: t0 + 10_000, watts: W(300) });
  assert.equal(c.joules(0), 900);
});

test('a restart continues the saved counters and counts the time it was down as a gap', () => {
  const t0 = new Date(2026, 5, 10, 12).getTime();
  const a = new EnergyCounters(16, 1000);
  a.ingest({ at: t0, watts: W(50) });
  a.ingest({ at: t0 + 1000, watts: W(50) });
  const saved = a.state(t0 + 1000);
  const b = new EnergyCounters(16, 1000, saved);
  b.ingest({ at: t0 + 60_000, watts: W(50) });
  b.ingest({ at: t0 + 61_000, watts: W(50) });
  assert.equal(b.joules(0), 100);
  assert.equal(b.gaps, 1);
  assert.equal(b.unmeasuredMs, 59_000);
});

test("today's and this month's energy restart at local midnight and on the first; the total only grows", () => {
  const c = new EnergyCounters(16, 10_000);
  const late = new Date(2026, 0, 31, 23, 59, 58).getTime();
  c.ingest({ at: late, watts: W(3600) });
  c.ingest({ at: late + 1000, watts: W(3600) });
  assert.equal(c.figures(0, late + 1000).todayKwh, 0.001);
  c.ingest({ at: late + 3000, watts: W(3600) }); // 00:00:01 on February 1st
  const f = c.figures(0, late + 3000);
  assert.equal(f.todayKwh, 0.002);
  assert.equal(f.monthKwh, 0.002);
  assert.equal(f.totalKwh, 0.003);
  // A day without readings yet reads 0 today.
  assert.equal(c.figures(0, late + 2 * 86_400_000).todayKwh, 0);
});

// ------------------------------------------------------------------ alarms

function over(value: number | null, forMs = 1000): Condition {
  return {
    id: 'overCurrent:5',
    kind: 'overCurrent',
    severity: 'critical',
    socket: 5,
    socketName: 'nas',
    unit: 'A',
    above: true,
    limit: 5,
    clearAt: 4.75,
    forMs,
    value,
  };
}

test('an overcurrent past its limit for the duration raises exactly one alarm; a flap at the limit does not multiply it', () => {
  const events: Array<{ alarm: Alarm; state: string }> = [];
  const watch = new AlarmWatch((alarm, state) => events.push({ alarm: { ...alarm }, state }));
  // Over the limit, but not for long enough.
  watch.evaluate([over(6)], 0);
  watch.evaluate([over(6)], 900);
  assert.equal(events.length, 0);
  watch.evaluate([over(6)], 1000);
  assert.deepEqual(
    events.map((e) => e.state),
    ['raised'],
  );
  assert.match(events[0]!.alarm.message, /socket 5 \(nas\) draws 6 A, over its limit of 5 A/);
  // Hovering around the limit for a long time: still the one alarm.
  for (let t = 1500; t < 20_000; t += 500) watch.evaluate([over(t % 1000 === 0 ? 5.1 : 4.9)], t);
  assert.equal(events.length, 1);
  assert.equal(watch.active().length, 1);
  assert.equal(watch.active()[0]!.worst, 6);
  // Below the clear level, but not long enough: still raised; then long enough: cleared.
  watch.evaluate([over(4)], 20_000);
  watch.evaluate([over(4.9)], 20_500);
  watch.evaluate([over(4)], 21_000);
  assert.equal(events.length, 1);
  watch.evaluate([over(4)], 22_000);
  assert.deepEqual(
    events.map((e) => e.state),
    ['raised', 'cleared'],
  );
  assert.equal(watch.active().length, 0);
});

test('a flap before the alarm is raised (in the hysteresis band) does not restart the wait; a real drop does', () => {
  const raised: number[] = [];
  const watch = new AlarmWatch((_, state, at) => state === 'raised' && raised.push(at));
  watch.evaluate([over(5.5)], 0);
  watch.evaluate([over(4.9)], 400); // in the band
  watch.evaluate([over(5.5)], 800);
  watch.evaluate([over(5.5)], 1000);
  assert.deepEqual(raised, [1000]);
  const watch2 = new AlarmWatch((_, state, at) => state === 'raised' && raised.push(at));
  watch2.evaluate([over(5.5)], 0);
  watch2.evaluate([over(3)], 400); // a real drop
  watch2.evaluate([over(5.5)], 800);
  watch2.evaluate([over(5.5)], 1000);
  assert.deepEqual(raised, [1000]);
  watch2.evaluate([over(5.5)], 1800);
  assert.deepEqual(raised, [1000, 1800]);
});

test('underPower applies while the relay is on; the relay going off, or the limit going away, clears it at once', () => {
  const config = parseConfig(
    'version: 1\nboard: { driver: simulator }\nalarms: { maxCurrent: { amps: 10, warnAt: 0.8, for: 0s } }\nsockets:\n  - number: 2\n    name: nas\n    alarms: { underPower: { watts: 20, for: 1s } }\n',
    't.yaml',
  );
  const info = (on: boolean, currentMa: number): SocketInfo[] =>
    Array.from({ length: 16 }, (_, i) => ({
      number: i + 1,
      name: i === 1 ? 'nas' : null,
      channel: i,
      on: i === 1 ? on : false,
      assumed: false,
      protected: false,
      restore: 'last',
      pending: null,
      currentMa: i === 1 ? currentMa : 0,
      watts: null,
      apparentVa: null,
      powerFactor: 1,
      realWatts: i === 1 ? (currentMa / 1000) * 230 : 0,
      changedAt: null,
    }));
  const log: string[] = [];
  const watch = new AlarmWatch((alarm, state) => log.push(`${state} ${alarm.id}`));
  watch.evaluate(conditionsFor(config, info(true, 50)), 0); // 11.5 W
  watch.evaluate(conditionsFor(config, info(true, 50)), 1000);
  assert.deepEqual(log, ['raised underPower:2']);
  watch.evaluate(conditionsFor(config, info(false, 0)), 1500);
  assert.deepEqual(log, ['raised underPower:2', 'cleared underPower:2']);
  // The PDU's limit and its early warning.
  watch.evaluate(conditionsFor(config, info(true, 8500)), 2000);
  assert.deepEqual(log.slice(2), ['raised maxCurrentWarning']);
  watch.evaluate(conditionsFor(config, info(true, 10_500)), 2500);
  assert.deepEqual(log.slice(3), ['raised maxCurrent']);
  // A reload without the limits clears what they raised.
  const none = parseConfig('version: 1\nboard: { driver: simulator }\n', 't.yaml');
  watch.evaluate(conditionsFor(none, info(true, 10_500)), 3000);
  assert.deepEqual(log.slice(4).sort(), ['cleared maxCurrent', 'cleared maxCurrentWarning']);
});

// ------------------------------------------------------------------ history

async function withStore(fn: (store: HistoryStore, dir: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-history-'));
  const store = new HistoryStore({ file: join(dir, 'history.sqlite') });
  await store.open();
  try {
    await fn(store, dir);
  } finally {
    store.close(Date.now());
    await rm(dir, { recursive: true, force: true });
  }
}

test('history buckets are exact at each resolution, and downsampled correctly across boundaries', () =>
  withStore((store) => {
    // 2 Hz from 12:59:50 to 13:01:10 (UTC hours; bucket boundaries are epoch-aligned).
    const base = Date.UTC(2026, 5, 10, 12, 59, 50);
    const values: Array<{ at: number; w: number }> = [];
    for (let i = 0; i < 160; i++) {
      const at = base + i * 500;
      const w = i; // 0..159 W on socket 1
      values.push({ at, w });
      store.add(at, [w, 2 * w]);
    }
    store.flush(base + 80_000, { all: true });
    const now = base + 90_000;
    const expect = (from: number, to: number) => {
      const ws = values.filter((v) => v.at >= from && v.at < to).map((v) => v.w);
      return {
        min: Math.min(...ws),
        avg: Math.round((ws.reduce((a, b) => a + b, 0) / ws.length) * 10) / 10,
        max: Math.max(...ws),
      };
    };
    const s10 = store.query([0, 16], base, base + 80_000, 10_000, now);
    assert.equal(s10.resolution, 's10');
    assert.equal(s10.series[0]!.length, 8);
    for (const point of s10.series[0]!) {
      assert.deepEqual({ min: point.min, avg: point.avg, max: point.max }, expect(point.t, point.t + 10_000));
    }
    // The total is the sum of the sockets (3 × socket 1 here).
    assert.equal(s10.series[1]![0]!.max, 3 * s10.series[0]![0]!.max);
    const m1 = store.query([0], base - 60_000, base + 80_000, 60_000, now);
    assert.equal(m1.resolution, 'm1');
    assert.deepEqual(
      m1.series[0]!.map((p) => p.t),
      [Date.UTC(2026, 5, 10, 12, 59), Date.UTC(2026, 5, 10, 13, 0), Date.UTC(2026, 5, 10, 13, 1)],
    );
    for (const point of m1.series[0]!) {
      assert.deepEqual({ min: point.min, avg: point.avg, max: point.max }, expect(point.t, point.t + 60_000));
    }
    const h1 = store.query([0], base - 3_600_000, base + 80_000, 3_600_000, now);
    assert.equal(h1.resolution, 'h1');
    assert.equal(h1.series[0]!.length, 2);
    for (const point of h1.series[0]!) {
      assert.deepEqual(
        { min: point.min, avg: point.avg, max: point.max },
        expect(point.t, point.t + 3_600_000),
      );
    }
    // A step coarser than a resolution aggregates its buckets (weighted by readings).
    const s30 = store.query([0], base, base + 80_000, 30_000, now);
    assert.equal(s30.resolution, 's10');
    for (const point of s30.series[0]!) {
      assert.deepEqual({ min: point.min, avg: point.avg, max: point.max }, expect(point.t, point.t + 30_000));
    }
  }));

test('without a step a query picks the finest resolution that holds the range in at most 2000 points', () =>
  withStore((store) => {
    const now = Date.UTC(2026, 5, 10, 12);
    const pick = (rangeMs: number) => store.query([0], now - rangeMs, now, undefined, now).resolution;
    assert.equal(pick(3_600_000), 's10');
    assert.equal(pick(24 * 3_600_000), 'm1');
    assert.equal(pick(30 * 24 * 3_600_000), 'h1');
    assert.equal(pick(365 * 24 * 3_600_000), 'h1');
    // 3 days back is past the 10 s resolution's 48 h, even for a short range.
    assert.equal(
      store.query([0], now - 72 * 3_600_000, now - 71 * 3_600_000, undefined, now).resolution,
      'm1',
    );
  }));

test('a restart continues the open buckets; after a crash a coarse bucket is rebuilt from the finer rows', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-history-'));
  const file = join(dir, 'history.sqlite');
  try {
    const base = Date.UTC(2026, 5, 10, 12, 0, 0);
    const a = new HistoryStore({ file });
    await a.open();
    for (let i = 0; i < 40; i++) a.add(base + i * 500, [10]); // 20 s of 10 W
    a.flush(base + 20_000); // closed s10 buckets only: the open minute is not written (a crash here)
    // No close(): the process "died". A new store reopens the file.
    const b = new HistoryStore({ file });
    await b.open();
    for (let i = 0; i < 40; i++) b.add(base + 30_000 + i * 500, [30]); // 20 s of 30 W
    b.close(base + 60_000);
    const c = new HistoryStore({ file });
    await c.open();
    const m1 = c.query([0], base, base + 60_000, 60_000, base + 60_000);
    // The crash lost the 10 s bucket still open (10..20 s): 20 readings of 10 W, 40 of 30 W remain.
    assert.deepEqual(m1.series[0], [{ t: base, min: 10, avg: 23.3, max: 30 }]);
    assert.equal(c.query([0], base, base + 60_000, 10_000, base + 60_000).series[0]!.length, 3);
    c.close(base + 60_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the history store survives SIGKILL during writes: intact, with every flush it reported', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-history-kill-'));
  const file = join(dir, 'history.sqlite');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/history-writer.ts', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_, signal) => resolve(signal)),
    );
    let last: { s10: number; until: number } | null = null;
    let flushes = 0;
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.once('exit', () => reject(new Error('the writer exited before it was killed')));
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          last = JSON.parse(line);
          // Killed while it writes: the next flush is under way as soon as a line is out.
          if (++flushes === 20) {
            child.kill('SIGKILL');
            resolve();
          }
        }
      });
    });
    assert.equal(await exited, 'SIGKILL');
    const reported = last as { s10: number; until: number } | null;
    assert.ok(reported);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(file);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const rows = (db.prepare('SELECT count(*) AS n FROM s10').get() as { n: number }).n;
    db.close();
    assert.ok(rows >= reported.s10, `${rows} rows of 10 s, ${reported.s10} reported written`);
    // And the store opens and answers again.
    const store = new HistoryStore({ file });
    await store.open();
    const answer = store.query([0], Date.UTC(2026, 0, 1), reported.until, 10_000, reported.until);
    assert.ok(answer.series[0]!.length >= reported.s10);
    store.close(reported.until);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGKILL loses at most energy.saveEvery of counted energy, and the saved counters count nothing unmeasured', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-energy-kill-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/energy-writer.ts', dir, '1s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_, signal) => resolve(signal)),
    );
    let counted = 0;
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.once('exit', () => reject(new Error('the writer exited before it was killed')));
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) counted = Number(line);
        // 2.5 s of 230 W counted: two saves behind it, the third not yet.
        if (counted >= 230 * 2.5) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    assert.equal(await exited, 'SIGKILL');
    const saved = JSON.parse(await readFile(join(dir, 'energy.json'), 'utf8')) as {
      total: number[];
      pduTotal: number;
    };
    const total = saved.total[0]!;
    assert.ok(total <= counted + 230 * 0.1, `saved ${total} J, counted ${counted} J by the kill`);
    // The bound: 1 s of 230 W (saveEvery), plus a reading's worth of slack.
    assert.ok(counted - total <= 230 * 1.1, `lost ${counted - total} J, more than saveEvery's worth`);
    assert.ok(total > 0);
    assert.equal(saved.pduTotal, total);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an energy.json that is not valid is kept aside, and counting starts from 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-energy-bad-'));
  try {
    await writeFile(join(dir, 'energy.json'), '{"version":1,"total":[-5]}\n');
    const config = parseConfig(
      'version: 1\nboard: { driver: simulator }\nhistory: { enabled: false }\n',
      't.yaml',
    );
    const energy = new Energy({
      service: { events: new EventEmitter<PduEvents>(), config, recordAction: () => {} },
      logger: silentLogger(),
      dir,
      now: () => 1_000,
    });
    await energy.start();
    assert.equal(energy.joules(null), 0);
    await energy.stop();
    assert.equal(
      await readFile(join(dir, 'energy.json.invalid-1000'), 'utf8'),
      '{"version":1,"total":[-5]}\n',
    );
    const saved = JSON.parse(await readFile(join(dir, 'energy.json'), 'utf8')) as { version: number };
    assert.equal(saved.version, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('energy, history and alarm keys: bad values are one-line errors at their key', () => {
  const problems = (yaml: string): string => {
    try {
      parseConfig(`version: 1\nboard: { driver: simulator }\n${yaml}`, 'pipdu.yaml');
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };
  assert.match(
    problems('history: { flushEvery: 5s }\n'),
    /history\.flushEvery: must be at least 10s \(SD card wear\)/,
  );
  assert.match(
    problems('sockets:\n  - { number: 1, powerFactor: 1.5 }\n'),
    /socket 1 powerFactor: must be ≤ 1/,
  );
  assert.match(
    problems('sockets:\n  - number: 1\n    alarms: { overCurrent: { amps: 0 } }\n'),
    /overCurrent\.amps: amps must be > 0/,
  );
  assert.match(
    problems('sockets:\n  - number: 1\n    alarms: { underPower: { wats: 3 } }\n'),
    /underPower\.wats: unknown key, did you mean `watts`\?/,
  );
  assert.match(
    problems('alarms: { maxCurrent: { amps: 16, warnAt: 2 } }\n'),
    /alarms\.maxCurrent\.warnAt: must be ≤ 1/,
  );
  assert.match(problems('energy: { saveEvery: 0s }\n'), /energy\.saveEvery: must be longer than 0/);
  assert.match(
    problems('discord: { guildId: "1", alertChannelId: 123 }\n'),
    /discord\.alertChannelId: quote Discord ids/,
  );
  const config = parseConfig(
    'version: 1\nboard: { driver: simulator }\nalarms: { maxCurrent: { amps: 16 } }\nsockets:\n  - number: 1\n    alarms: { overCurrent: { amps: 5 }, underPower: { watts: 20 } }\n',
    'pipdu.yaml',
  );
  assert.deepEqual(config.alarms.maxCurrent, { amps: 16, warnAt: 0.8, for: 2000 });
  assert.deepEqual(config.sockets[0]!.alarms, {
    overCurrent: { amps: 5, for: 10_000 },
    underPower: { watts: 20, for: 60_000 },
  });
});
