import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BetterSqlite3 } from 'better-sqlite3';

/** Series in every row: sockets 1..16 at index 0..15, the PDU's total at 16. */
export const SERIES = 17;
export const TOTAL_SERIES = 16;

/** A resolution: its bucket length and how long its rows are kept. */
export interface Tier {
  name: 's10' | 'm1' | 'h1';
  resMs: number;
  keepMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const TIERS: readonly Tier[] = [
  { name: 's10', resMs: 10_000, keepMs: 48 * HOUR },
  { name: 'm1', resMs: 60_000, keepMs: 60 * DAY },
  { name: 'h1', resMs: HOUR, keepMs: Math.round(5 * 365.25 * DAY) },
];

/** A query picks the finest resolution that answers in at most this many points. */
export const MAX_POINTS = 2000;

/** One bucket of one series: power in W (the real power estimate). */
export interface HistoryPoint {
  /** Bucket start, epoch ms. */
  t: number;
  min: number;
  avg: number;
  max: number;
}

export interface HistoryAnswer {
  resolution: Tier['name'];
  stepMs: number;
  from: number;
  to: number;
  /** Per requested series, in request order. */
  series: HistoryPoint[][];
}

/** A bucket being filled, or closed and waiting to be written. */
interface Bucket {
  start: number;
  n: number;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
}

/**
 * Power history on disk: SQLite (better-sqlite3, loaded by `open()` only)
 * with one table per resolution (10 s for 48 h, 1 min for 60 days, 1 h for
 * 5 years); a row is one bucket of every series: n readings and min/avg/max
 * per series as float32s (204 bytes).
 *
 * Rules:
 * - `add()` only touches memory; `flush()` writes the closed buckets in one
 *   transaction (the caller calls it at most every 10 s: SD card wear), and
 *   prunes what is past each resolution's retention once an hour.
 * - Crash-safe: WAL, synchronous=NORMAL (a crash or power loss loses at most
 *   the transactions since the last checkpointed write, never the file's
 *   integrity). `close()` also writes the buckets still open; after a crash
 *   an open coarse bucket is rebuilt from the finer rows that reached disk.
 * - Every bucket of every resolution is aggregated from the readings
 *   themselves (avg weighted by readings), so buckets are exact at each
 *   resolution; boundaries are epoch-aligned, so a 10 s bucket never
 *   straddles a minute or an hour.
 */
export class HistoryStore {
  readonly file: string;
  private db: BetterSqlite3.Database | null = null;
  private readonly open_: (Bucket | null)[] = TIERS.map(() => null);
  private readonly pending: Bucket[][] = TIERS.map(() => []);
  private lastPrune = 0;
  private statements: {
    put: BetterSqlite3.Statement[];
    get: BetterSqlite3.Statement[];
    range: BetterSqlite3.Statement[];
    prune: BetterSqlite3.Statement[];
  } | null = null;

  constructor(deps: { file: string }) {
    this.file = deps.file;
  }

  /** Opens (creates) the file; loads better-sqlite3 on first use. */
  async open(): Promise<void> {
    const { default: Database } = await import('better-sqlite3');
    mkdirSync(dirname(this.file), { recursive: true });
    const db = new Database(this.file);
    // Small pages: a flush rewrites a few tail pages, and each is 1 KB rather than 4 (SD wear).
    db.pragma('page_size = 1024');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('journal_size_limit = 1048576');
    for (const tier of TIERS) {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${tier.name} (ts INTEGER PRIMARY KEY, n INTEGER NOT NULL, data BLOB NOT NULL)`,
      );
    }
    this.db = db;
    this.statements = {
      put: TIERS.map((t) => db.prepare(`INSERT OR REPLACE INTO ${t.name} (ts, n, data) VALUES (?, ?, ?)`)),
      get: TIERS.map((t) => db.prepare(`SELECT ts, n, data FROM ${t.name} WHERE ts = ?`)),
      range: TIERS.map((t) =>
        db.prepare(`SELECT ts, n, data FROM ${t.name} WHERE ts >= ? AND ts < ? ORDER BY ts`),
      ),
      prune: TIERS.map((t) => db.prepare(`DELETE FROM ${t.name} WHERE ts < ?`)),
    };
  }

  /** One reading: W per socket (index = number - 1); the total is their sum. */
  add(at: number, watts: readonly number[]): void {
    let total = 0;
    for (let i = 0; i < TOTAL_SERIES; i++) total += watts[i] ?? 0;
    TIERS.forEach((tier, k) => {
      const start = Math.floor(at / tier.resMs) * tier.resMs;
      let bucket = this.open_[k] ?? null;
      if (bucket && bucket.start !== start) {
        this.pending[k]!.push(bucket);
        bucket = null;
      }
      if (!bucket) {
        bucket = this.seed(k, start);
        this.open_[k] = bucket;
      }
      bucket.n++;
      for (let i = 0; i < SERIES; i++) {
        const w = i === TOTAL_SERIES ? total : (watts[i] ?? 0);
        if (w < bucket.min[i]!) bucket.min[i] = w;
        if (w > bucket.max[i]!) bucket.max[i] = w;
        bucket.sum[i]! += w;
      }
    });
  }

  /**
   * Writes the closed buckets (and with `all`, the open ones too) in one
   * transaction; prunes old rows at most once an hour. Returns the rows written.
   */
  flush(now: number, options: { all?: boolean } = {}): number {
    const db = this.db;
    const st = this.statements;
    if (!db || !st) return 0;
    let rows = 0;
    const write = db.transaction(() => {
      TIERS.forEach((_, k) => {
        const buckets = [...this.pending[k]!];
        const open = this.open_[k];
        if (options.all && open) buckets.push(open);
        for (const b of buckets) {
          st.put[k]!.run(Math.round(b.start / 1000), b.n, encode(b));
          rows++;
        }
        this.pending[k] = [];
      });
      if (now - this.lastPrune >= HOUR) {
        this.lastPrune = now;
        TIERS.forEach((tier, k) => {
          st.prune[k]!.run(Math.floor((now - tier.keepMs) / 1000));
        });
      }
    });
    write();
    return rows;
  }

  /** Writes everything still in memory and closes the file. */
  close(now: number): void {
    if (!this.db) return;
    this.flush(now, { all: true });
    this.db.close();
    this.db = null;
    this.statements = null;
  }

  /** Readings buffered in buckets not yet written (what a crash would lose). */
  get unwritten(): number {
    return this.pending.reduce((sum, list) => sum + list.length, 0);
  }

  /**
   * The history of `series` (0..15 sockets, 16 the total) between `from` and
   * `to`: at `stepMs` when given (≥ 10 s; the coarsest resolution at most
   * that fine which still holds `from`, aggregated up to the step), else at
   * the finest resolution that holds `from` in at most MAX_POINTS points
   * (past the coarsest one's, aggregated to MAX_POINTS points).
   */
  query(
    series: readonly number[],
    from: number,
    to: number,
    stepMs?: number,
    now = Date.now(),
  ): HistoryAnswer {
    const st = this.statements;
    if (!st) throw new Error('the history store is not open');
    const holds = (tier: Tier) => from >= now - tier.keepMs;
    let k: number;
    if (stepMs !== undefined) {
      const fine = TIERS.map((tier, i) => ({ tier, i })).filter(({ tier }) => tier.resMs <= stepMs);
      k = (fine.filter(({ tier }) => holds(tier)).at(-1) ?? fine.at(-1))!.i;
    } else {
      k = TIERS.findIndex((tier) => holds(tier) && (to - from) / tier.resMs <= MAX_POINTS);
      if (k < 0) k = TIERS.length - 1;
    }
    const tier = TIERS[k]!;
    // Without a step, a range longer than MAX_POINTS buckets of the coarsest resolution is aggregated to fit.
    const fit = tier.resMs * Math.max(1, Math.ceil((to - from) / tier.resMs / MAX_POINTS));
    const step = Math.max(stepMs ?? fit, tier.resMs);
    const stored = st.range[k]!.all(Math.floor(from / 1000), Math.ceil(to / 1000)) as {
      ts: number;
      n: number;
      data: Buffer;
    }[];
    // Buckets not written yet (and the one filling) are history too; they come after the stored ones.
    const open = this.open_[k];
    const memory = (open ? [...this.pending[k]!, open] : this.pending[k]!).filter(
      (b) => b.start >= from && b.start < to,
    );
    const firstMemory = memory[0]?.start ?? Number.POSITIVE_INFINITY;
    const kept = stored.filter((row) => row.ts * 1000 < firstMemory);
    const count = kept.length + memory.length;
    // One flat copy of every row's floats: rows × SERIES × 3 (a SQLite Buffer need not be aligned).
    const flat = new Float32Array(count * SERIES * 3);
    const bytes = new Uint8Array(flat.buffer);
    const starts = new Float64Array(count);
    const ns = new Float64Array(count);
    kept.forEach((row, r) => {
      bytes.set(row.data.subarray(0, SERIES * 12), r * SERIES * 12);
      starts[r] = row.ts * 1000;
      ns[r] = row.n;
    });
    memory.forEach((b, m) => {
      const r = kept.length + m;
      flat.set(toFloats(b), r * SERIES * 3);
      starts[r] = b.start;
      ns[r] = b.n;
    });
    const answer: HistoryPoint[][] = series.map((s) => {
      const out: HistoryPoint[] = [];
      let t = Number.NaN;
      let min = 0;
      let max = 0;
      let sum = 0;
      let n = 0;
      for (let r = 0; r < count; r++) {
        const o = r * SERIES * 3 + s * 3;
        const bucket = Math.floor(starts[r]! / step) * step;
        if (bucket !== t) {
          if (n > 0) out.push({ t, min: r1(min), avg: r1(sum / n), max: r1(max) });
          t = bucket;
          min = flat[o]!;
          max = flat[o + 2]!;
          sum = flat[o + 1]! * ns[r]!;
          n = ns[r]!;
        } else {
          if (flat[o]! < min) min = flat[o]!;
          if (flat[o + 2]! > max) max = flat[o + 2]!;
          sum += flat[o + 1]! * ns[r]!;
          n += ns[r]!;
        }
      }
      if (n > 0) out.push({ t, min: r1(min), avg: r1(sum / n), max: r1(max) });
      return out;
    });
    return { resolution: tier.name, stepMs: step, from, to, series: answer };
  }

  /** Raw rows, for tests and the benchmark's generator: `put(tier, startMs, n, min/avg/max per series)`. */
  put(tierName: Tier['name'], start: number, n: number, values: Float32Array): void {
    const k = TIERS.findIndex((t) => t.name === tierName);
    const put = this.statements?.put[k];
    if (!put) throw new Error('the history store is not open');
    put.run(Math.round(start / 1000), n, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  }

  /** Runs `fn` in one transaction (the benchmark's generator). */
  transaction(fn: () => void): void {
    this.db?.transaction(fn)();
  }

  /** A new bucket, continuing the row on disk for it if there is one (a restart), or the finer rows in it (a crash). */
  private seed(k: number, start: number): Bucket {
    const bucket: Bucket = {
      start,
      n: 0,
      min: new Float64Array(SERIES).fill(Number.POSITIVE_INFINITY),
      max: new Float64Array(SERIES).fill(Number.NEGATIVE_INFINITY),
      sum: new Float64Array(SERIES),
    };
    const st = this.statements;
    if (!st) return bucket;
    const merge = (row: { n: number; data: Buffer }) => {
      const v = decode(row.data);
      bucket.n += row.n;
      for (let i = 0; i < SERIES; i++) {
        bucket.min[i] = Math.min(bucket.min[i]!, v[i * 3]!);
        bucket.sum[i]! += v[i * 3 + 1]! * row.n;
        bucket.max[i] = Math.max(bucket.max[i]!, v[i * 3 + 2]!);
      }
    };
    const own = st.get[k]!.get(Math.round(start / 1000)) as { n: number; data: Buffer } | undefined;
    if (own) merge(own);
    else if (k > 0) {
      const end = start + TIERS[k]!.resMs;
      for (const row of st.range[k - 1]!.iterate(
        Math.round(start / 1000),
        Math.round(end / 1000),
      ) as Iterable<{
        n: number;
        data: Buffer;
      }>) {
        merge(row);
      }
    }
    return bucket;
  }
}

function encode(b: Bucket): Buffer {
  const v = toFloats(b);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function toFloats(b: Bucket): Float32Array {
  const v = new Float32Array(SERIES * 3);
  for (let i = 0; i < SERIES; i++) {
    v[i * 3] = b.n ? b.min[i]! : 0;
    v[i * 3 + 1] = b.n ? b.sum[i]! / b.n : 0;
    v[i * 3 + 2] = b.n ? b.max[i]! : 0;
  }
  return v;
}

function decode(data: Buffer): Float32Array {
  // Copied: a Buffer from SQLite need not be 4-byte aligned.
  const copy = new Uint8Array(data);
  return new Float32Array(copy.buffer, 0, Math.floor(copy.byteLength / 4));
}

function r1(value: number): number {
  return Math.round(value * 10) / 10;
}
