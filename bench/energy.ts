import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { Energy } from '../src/energy/energy.js';
import { HistoryStore, SERIES, TIERS } from '../src/energy/history-store.js';
import { silentLogger } from '../src/log.js';
import type { PduEvents, SocketInfo } from '../src/pdu/types.js';
import { idleDaemonMemory } from './support.js';

const _root = dirname(dirname(fileURLToPath(import.meta.url)));
/** The bound README states for 16 sockets over 5 years (every resolution full). */
export const STORE_BOUND_MB = 40;

function sockets(t: number): SocketInfo[] {
  return Array.from({ length: 16 }, (_, i) => ({
    number: i + 1,
    name: null,
    channel: i,
    on: true,
    assumed: false,
    protected: false,
    restore: 'last',
    pending: null,
    currentMa: 200 + i * 50 + ((t / 500) % 13),
    watts: null,
    apparentVa: null,
    powerFactor: 1,
    realWatts: null,
    changedAt: null,
  }));
}

/** CPU per telemetry reading (16 sockets) through the whole Energy part: counters, history, alarms. */
async function ingestCost(dir: string): Promise<void> {
  const config = parseConfig(
    `version: 1\nboard: { driver: simulator }\nalarms: { maxCurrent: { amps: 16 } }\nsockets:\n${Array.from(
      { length: 16 },
      (_, i) => `  - { number: ${i + 1}, alarms: { overCurrent: { amps: 10 }, underPower: { watts: 1 } } }\n`,
    ).join('')}`,
    'bench.yaml',
  );
  const events = new EventEmitter<PduEvents>();
  let now = Date.UTC(2026, 0, 1);
  const energy = new Energy({
    service: { events, config, recordAction: () => {} },
    logger: silentLogger(),
    dir,
    now: () => now,
  });
  await energy.start();
  const readings = 20_000;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < readings; i++) {
    now += 500;
    events.emit('telemetry', { sockets: sockets(now), totalWatts: 0 });
    if (i % 240 === 239) energy.flush(); // every 2 minutes of readings, as history.flushEvery does
  }
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  await energy.stop();
  const perReadingMs = (used.user + used.system) / 1000 / readings;
  console.log(
    `energy: telemetry ingest (counters, history, 33 alarm limits), ${readings} readings of 16 sockets:`,
  );
  console.log(
    `  ${(perReadingMs * 1000).toFixed(1)} µs CPU per reading (${(wall / readings).toFixed(3)} ms wall); at 2 Hz ${((perReadingMs * 2) / 10).toFixed(3)} % of one core  (target <= 1 %)`,
  );
}

/** Bytes this process has written (write/pwrite calls; the page cache, not the card). */
async function writtenBytes(): Promise<number> {
  const io = await readFile('/proc/self/io', 'utf8');
  return Number(/^wchar: (\d+)/m.exec(io)?.[1] ?? Number.NaN);
}

/** One simulated day at 2 Hz through the store, flushed as often as the default history.flushEvery says. */
async function diskPerDay(dir: string): Promise<void> {
  const flushEvery = parseConfig('version: 1\nboard: { driver: simulator }\n', 'defaults.yaml').history
    .flushEvery;
  const store = new HistoryStore({ file: join(dir, 'day.sqlite') });
  await store.open();
  const start = Date.UTC(2026, 0, 1);
  const watts = new Array<number>(16).fill(0);
  // Warm-up hour: the file and its first pages exist.
  let at = start;
  const run = (hours: number) => {
    const end = at + hours * 3_600_000;
    for (; at < end; at += 500) {
      for (let i = 0; i < 16; i++) watts[i] = 20 + i * 5 + ((at / 500) % 11);
      store.add(at, watts);
      if (at % flushEvery === 0) store.flush(at);
    }
  };
  run(1);
  const before = await writtenBytes();
  run(24);
  const written = (await writtenBytes()) - before;
  store.close(at);
  console.log(
    `energy: disk written by the history in one simulated day at 2 Hz (flush every ${flushEvery / 1000} s, WAL):`,
  );
  console.log(`  ${(written / 1024 / 1024).toFixed(2)} MB per day  (target <= 10 MB)`);
}

/** 5 years of 16 sockets (every resolution full), its size, and queries over 24 h, 30 days and 1 year. */
async function storeSizeAndQueries(dir: string): Promise<void> {
  const file = join(dir, 'years.sqlite');
  const store = new HistoryStore({ file });
  await store.open();
  const now = Date.UTC(2031, 0, 1);
  const values = new Float32Array(SERIES * 3);
  const generated = performance.now();
  let rows = 0;
  for (const tier of TIERS) {
    const from = Math.floor((now - tier.keepMs) / tier.resMs) * tier.resMs;
    store.transaction(() => {
      for (let t = from; t < now; t += tier.resMs) {
        for (let s = 0; s < SERIES; s++) {
          const base = s === 16 ? 1500 : 20 + s * 10 + ((t / tier.resMs) % 17);
          values[s * 3] = base * 0.9;
          values[s * 3 + 1] = base;
          values[s * 3 + 2] = base * 1.2;
        }
        store.put(tier.name, t, tier.resMs / 500, values);
        rows++;
      }
    });
  }
  const generateMs = performance.now() - generated;
  const socketsAll = Array.from({ length: 16 }, (_, i) => i);
  const time = (range: number): { ms: number; resolution: string; points: number } => {
    const samples: number[] = [];
    let resolution = '';
    let points = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const answer = store.query(socketsAll, now - range, now, undefined, now);
      samples.push(performance.now() - t0);
      resolution = answer.resolution;
      points = answer.series[0]?.length ?? 0;
    }
    return { ms: samples.sort((a, b) => a - b)[2] ?? Number.NaN, resolution, points };
  };
  const day = time(86_400_000);
  const month = time(30 * 86_400_000);
  const year = time(365 * 86_400_000);
  store.close(now);
  const size = (await stat(file)).size;
  console.log(
    `energy: history of 16 sockets, every resolution full (5 years: ${rows} rows, generated in ${(generateMs / 1000).toFixed(1)} s):`,
  );
  console.log(`  store size ${(size / 1024 / 1024).toFixed(1)} MB  (stated bound ${STORE_BOUND_MB} MB)`);
  for (const [name, q] of [
    ['24 h', day],
    ['30 days', month],
    ['1 year', year],
  ] as const) {
    console.log(
      `  query 16 sockets over ${name}: ${q.ms.toFixed(1)} ms median of 5 (${q.resolution}, ${q.points} points each)  (target <= 50 ms)`,
    );
  }
}

/** RSS of the compiled daemon on the simulator after 5 s idle: history on, and off (as before this issue). */
async function idleRss(history: boolean): Promise<number> {
  const memory = await idleDaemonMemory({
    config: (dir) =>
      `version: 1\nboard: { driver: simulator }\nhistory: { enabled: ${history} }\nstate: { dir: ${join(dir, 'state')} }\napi: {}\n`,
  });
  return memory.rss;
}

export async function benchEnergy(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-energy-'));
  try {
    await ingestCost(dir);
    await diskPerDay(dir);
    await storeSizeAndQueries(dir);
    const off = await idleRss(false);
    const on = await idleRss(true);
    console.log('energy: idle daemon RSS after 5 s on the simulator (loopback API):');
    console.log(
      `  history off ${off.toFixed(1)} MB, on ${on.toFixed(1)} MB: growth ${(on - off).toFixed(1)} MB  (target <= 10 MB)\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchEnergy().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
