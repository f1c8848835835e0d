import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
// The event loop's next turn: after the I/O callbacks and promises of this one.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from '../log.js';

/**
 * Which board a state file describes (docs/decisions.md #13): a file from
 * another driver, port or board serial is not this board's, and its boot id
 * says nothing about this board's resets.
 */
export interface BoardRecord {
  driver: string;
  /** The serial device path; null for the built-in simulator. */
  port: string | null;
  /** The board's own persistent id (PRP/1 `serial=`); null where it has none (older firmware, legacy). */
  serial: string | null;
}

/**
 * What the daemon must remember across restarts: the board it talks to, that
 * board's last boot id (a different one at the next connect means the board
 * reset while we were away, docs/decisions.md #7) and every socket's last
 * switch state (for `restore: last` and, on boards that cannot report state,
 * the assumed state).
 */
export interface SavedState {
  version: 1;
  /** Null in files written before boards were recorded: such a file belongs to no board for certain. */
  board: BoardRecord | null;
  bootId: string | null;
  /** Relay mask by channel, bit i = channel i. */
  mask: number;
  /** Socket number → on, as last switched or observed. */
  sockets: Record<string, boolean>;
  savedAt: string;
}

/** At most ten state.json writes a second. */
export const DEFAULT_MIN_INTERVAL_MS = 100;

/**
 * `state.json`, rewritten atomically (temp file, fsync, rename, fsync of the
 * directory) so that a crash or power cut at any moment leaves either the old
 * or the new file, never a torn one. Callers save only when switch state
 * changes, never for telemetry: SD cards wear out.
 *
 * Saves are serialized and coalesced, and written at most once per
 * `minIntervalMs`: a change after a quiet spell is written at once, and
 * changes that follow it within the interval collapse into one write of the
 * latest state when the interval is up. A script switching sockets in a
 * tight loop thus costs the SD card ten writes a second, not hundreds, and
 * its requests do not queue behind fsyncs. `flush()` writes what is pending
 * at once (the daemon's stop calls it), so no timer outlives it.
 */
export class StateStore {
  readonly file: string;
  private readonly dir: string;
  private readonly logger: Logger;
  private latest: SavedState | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private writes = 0;
  private loading: Promise<SavedState | null> | null = null;
  private readonly minIntervalMs: number;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Ends the wait for the next write slot early (set while waiting). */
  private wake: (() => void) | null = null;
  private hurry = false;

  constructor(deps: { dir: string; logger: Logger; minIntervalMs?: number }) {
    this.dir = deps.dir;
    this.file = join(deps.dir, 'state.json');
    this.logger = deps.logger;
    this.minIntervalMs = deps.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS;
  }

  /** Number of completed writes (tests and benchmarks). */
  get writeCount(): number {
    return this.writes;
  }

  /**
   * Reads state.json once; null when there is none yet (first contact). A
   * corrupt file is logged and ignored. Later calls return the same answer
   * (the daemon's wiring and the service both ask at start-up).
   */
  load(): Promise<SavedState | null> {
    this.loading ??= this.read();
    return this.loading;
  }

  private async read(): Promise<SavedState | null> {
    await mkdir(this.dir, { recursive: true });
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as Partial<SavedState>;
      if (parsed.version !== 1 || typeof parsed.mask !== 'number' || typeof parsed.sockets !== 'object') {
        throw new Error('unexpected shape');
      }
      this.latest = {
        version: 1,
        board: boardRecord(parsed.board),
        bootId: typeof parsed.bootId === 'string' ? parsed.bootId : null,
        mask: parsed.mask,
        sockets: parsed.sockets ?? {},
        savedAt: String(parsed.savedAt ?? ''),
      };
      return this.latest;
    } catch (error) {
      this.logger.warn(
        { file: this.file, err: error },
        'state file is unreadable; treating this as first contact',
      );
      return null;
    }
  }

  /** Schedules a write of `state`; resolves once it (or a later state) is on disk. */
  save(
    state: Omit<SavedState, 'version' | 'savedAt' | 'board'> & { board?: BoardRecord | null },
  ): Promise<void> {
    this.latest = { version: 1, ...state, board: state.board ?? null, savedAt: new Date().toISOString() };
    this.dirty = true;
    if (!this.writing) this.writing = this.drain();
    return this.writing;
  }

  /** Writes what is pending now, without waiting for its slot, and waits for it. */
  async flush(): Promise<void> {
    this.hurry = true;
    try {
      this.wake?.();
      while (this.writing) await this.writing;
    } finally {
      this.hurry = false;
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty && this.latest) {
        const wait = this.lastWriteAt + this.minIntervalMs - performance.now();
        if (wait > 0 && !this.hurry) await this.pause(wait);
        // Even a write due now waits for the next turn: the answer to the request that
        // changed the state goes out first (handing the file work to the thread pool
        // costs a thread wake-up).
        else await nextTurn();
        this.dirty = false;
        this.lastWriteAt = performance.now();
        await this.writeAtomically(`${JSON.stringify(this.latest, null, 2)}\n`);
        this.writes++;
      }
    } finally {
      this.writing = null;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async writeAtomically(text: string): Promise<void> {
    const temp = `${this.file}.tmp`;
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
    // The rename itself must reach the disk too, or a power cut can undo it.
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

function boardRecord(value: unknown): BoardRecord | null {
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.driver !== 'string') return null;
  return {
    driver: record.driver,
    port: typeof record.port === 'string' ? record.port : null,
    serial: typeof record.serial === 'string' ? record.serial : null,
  };
}
