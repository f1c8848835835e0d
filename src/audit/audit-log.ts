import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
// The event loop's next turn: after the I/O callbacks and promises of this one.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from '../log.js';
import type { Actor } from '../pdu/actor.js';

/** One action, as it happened: who asked through what, what, on which socket, how it ended, how long it took. */
export interface AuditEntry {
  time: string;
  actor: Actor;
  action: string;
  socket?: number;
  socketName?: string;
  result: 'ok' | 'error';
  /** The error code when result is error. */
  code?: string;
  message?: string;
  durationMs: number;
  /** Anything else worth keeping (reason, force, the mask sent, ...). */
  details?: Record<string, unknown>;
}

/**
 * `audit.jsonl`: one JSON object per line, appended. A crash can cut the last
 * line; readers skip lines that do not parse, and the next append starts on a
 * fresh line. Past `maxBytes` the file is rotated to `audit.1.jsonl` (one
 * generation is kept, so the log never takes more than about twice maxBytes).
 */
export class AuditLog {
  readonly file: string;
  private readonly rotated: string;
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly logger: Logger;
  private handle: FileHandle | null = null;
  private size = 0;
  private needsNewline = false;
  private chain: Promise<void> = Promise.resolve();
  /** Lines appended while a write is in progress: the next write takes them all at once. */
  private queued: string[] = [];

  constructor(deps: { dir: string; maxBytes: number; logger: Logger }) {
    this.dir = deps.dir;
    this.file = join(deps.dir, 'audit.jsonl');
    this.rotated = join(deps.dir, 'audit.1.jsonl');
    this.maxBytes = deps.maxBytes;
    this.logger = deps.logger;
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.openCurrent();
  }

  async stop(): Promise<void> {
    await this.chain;
    await this.handle?.close();
    this.handle = null;
  }

  /**
   * Appends an entry. Never rejects: a full disk must not fail a switch that
   * already happened; it is logged. The write goes out on the event loop's
   * next turn, after the answer to the request being audited (handing a
   * write to the thread pool costs a thread wake-up, which need not delay
   * that answer), with every line appended meanwhile.
   */
  append(entry: AuditEntry): Promise<void> {
    this.queued.push(`${JSON.stringify(entry)}\n`);
    if (this.queued.length === 1) {
      // The first line queued schedules one write for everything queued until it runs.
      const flush = (): Promise<void> => nextTurn().then(() => this.write(this.queued.splice(0).join('')));
      this.chain = this.chain.then(flush, flush);
    }
    return this.chain.catch((error: unknown) => {
      this.logger.error({ err: error, entry }, 'could not write the audit log');
    });
  }

  /** The latest `limit` entries, oldest first (reads the rotated file too when needed). */
  async read(limit = 50): Promise<AuditEntry[]> {
    await this.chain.catch(() => undefined);
    const current = await readEntries(this.file);
    if (current.length >= limit) return current.slice(-limit);
    const older = await readEntries(this.rotated);
    return [...older, ...current].slice(-limit);
  }

  private async openCurrent(): Promise<void> {
    this.handle = await open(this.file, 'a', 0o644);
    const info = await stat(this.file);
    this.size = info.size;
    this.needsNewline = false;
    if (info.size > 0) {
      // A crash may have cut the last line: make sure the next entry starts a new one.
      const buffer = Buffer.alloc(1);
      const reader = await open(this.file, 'r');
      try {
        await reader.read(buffer, 0, 1, info.size - 1);
      } finally {
        await reader.close();
      }
      this.needsNewline = buffer[0] !== 0x0a;
    }
  }

  /** Writes one or more whole lines. */
  private async write(lines: string): Promise<void> {
    const lineBytes = Buffer.byteLength(lines) + (this.needsNewline ? 1 : 0);
    if (this.size > 0 && this.size + lineBytes > this.maxBytes) await this.rotate();
    if (!this.handle) throw new Error('audit log is not started');
    const text = this.needsNewline ? `\n${lines}` : lines;
    await this.handle.write(text);
    this.size += Buffer.byteLength(text);
    this.needsNewline = false;
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = null;
    await rename(this.file, this.rotated);
    await this.openCurrent();
  }
}

async function readEntries(file: string): Promise<AuditEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      entries.push(JSON.parse(line) as AuditEntry);
    } catch {
      // a line cut by a crash: skip it
    }
  }
  return entries;
}
