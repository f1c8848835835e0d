import { type ChildProcess, spawn } from 'node:child_process';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The board simulator (hardware/simulator-cli.ts) as a child process on a
 * real pty, for tests that run the real serialport code against it:
 *
 *   const sim = await startSimulator();
 *   try { ... open sim.path with serialport ... } finally { await sim.stop(); }
 *
 * Nothing global is registered: every test must call stop() or kill()
 * (both are idempotent and safe in `finally`/`after`). As a safety net the
 * child exits by itself when this process dies (its control stdin closes).
 *
 * The board boots when the pty appears (`events` starts with boot, then
 * relays if a power-up mask is stored, then ready), but its power-up `! BOOT`
 * line is not written to the pty, so a client that opens after
 * startSimulator() resolves never sees a "reset on open". To test one, open
 * the port and then `await sim.command('reset')`.
 * Control lines and pty traffic are separate channels: use command() (which
 * waits for the acknowledgement) before sending a request that depends on it.
 */
export interface SimulatorProcess {
  /** The pty link path a client opens. */
  readonly path: string;
  readonly pid: number;
  /** Every line the board received, in order (from the JSON stdout). */
  readonly requests: string[];
  /** Every JSON event the simulator printed, in order. */
  readonly events: Array<Record<string, unknown>>;
  /** The latest boot id (from `ready` and `boot` events; '' for the legacy board). */
  readonly bootId: string;
  /** HELLO's serial= as `ready` announced it; null for none (--no-serial, legacy, a runner that does not say). */
  readonly serial: string | null;
  /** Everything the simulator wrote to stderr so far (diagnostics). */
  readonly stderr: string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Writes a control line (mute, unmute, drop <p>, delay <ms>, set-delay <ms>, garbage <text>, event <text>, reset, load <ch> <mA>, exit). */
  control(line: string): void;
  /**
   * Writes a control line and resolves once the simulator has applied it
   * (its `control` acknowledgement); rejects if it was refused.
   */
  command(line: string, timeoutMs?: number): Promise<void>;
  /**
   * Resolves with the first event matching `predicate` at index `since` or
   * later (default: only events that arrive after this call); rejects after
   * `timeoutMs` (default 5000) or when the process exits first.
   */
  waitFor(
    predicate: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    since?: number,
  ): Promise<Record<string, unknown>>;
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL, then wait for the exit and for the pty link to be gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit (the simulator stops socat, which removes the link). */
  stop(): Promise<void>;
}

/** The same interface serves any child that speaks like the simulator (e.g. the firmware emulator runner). */
export type EventProcess = SimulatorProcess;

export interface StartSimulatorOptions {
  /** The pty link path; default a fresh directory under os.tmpdir() (removed again by stop/kill). */
  path?: string;
  /** More CLI arguments, e.g. `['--legacy', '--format', 'space']` or `['--eeprom', file]`. */
  args?: string[];
  /** How long to wait for `ready`; default 10000 ms. */
  timeoutMs?: number;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Waiter {
  predicate: (event: Record<string, unknown>) => boolean;
  resolve: (event: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** How a child process that prints JSON events and owns a pty link is told apart from another. */
export interface EventChildOptions {
  /** Used in error messages, e.g. "simulator" or "firmware runner". */
  label: string;
  /**
   * True when the link disappears by itself after SIGKILL (the simulator's socat
   * sees EOF and removes it); false when only a clean exit removes it, so kill()
   * removes a leftover link itself instead of waiting for it.
   */
  linkGoneAfterKill: boolean;
}

class SimulatorChild implements SimulatorProcess {
  readonly requests: string[] = [];
  readonly events: Array<Record<string, unknown>> = [];
  bootId = '';
  serial: string | null = null;
  stderr = '';
  exited = false;
  private readonly waiters = new Set<Waiter>();
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly path: string,
    private readonly child: ChildProcess,
    private readonly ownDir: string | null,
    private readonly options: EventChildOptions = { label: 'simulator', linkGoneAfterKill: true },
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', () => {
        this.exited = true;
        for (const waiter of this.waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(
            new Error(`the ${this.options.label} exited before the awaited event\n${this.describe()}`),
          );
        }
        this.waiters.clear();
        resolve();
      });
    });
    child.on('error', (error) => {
      this.stderr += `spawn failed: ${error.message}\n`;
    });
    child.stdin?.on('error', () => {});
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      this.stderr += text;
    });
    let partial = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      partial += text;
      let newline = partial.indexOf('\n');
      while (newline !== -1) {
        this.onLine(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
        newline = partial.indexOf('\n');
      }
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  control(line: string): void {
    if (this.exited) throw new Error(`the ${this.options.label} has exited; cannot send "${line}"`);
    this.child.stdin?.write(`${line}\n`);
  }

  async command(line: string, timeoutMs = 5000): Promise<void> {
    const since = this.events.length;
    this.control(line);
    const ack = await this.waitFor(
      (event) => event.event === 'control' && event.line === line.trim(),
      timeoutMs,
      since,
    );
    if (ack.ok !== true) throw new Error(`the ${this.options.label} refused "${line}": ${String(ack.error)}`);
  }

  waitFor(
    predicate: (event: Record<string, unknown>) => boolean,
    timeoutMs = 5000,
    since = this.events.length,
  ): Promise<Record<string, unknown>> {
    const seen = this.events.slice(since).find(predicate);
    if (seen) return Promise.resolve(seen);
    if (this.exited) {
      return Promise.reject(
        new Error(`the ${this.options.label} has exited; nothing more will come\n${this.describe()}`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new Error(
              `no matching ${this.options.label} event within ${timeoutMs} ms (predicate: ${predicate.toString()})\n${this.describe()}`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(sig);
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exitPromise;
    if (!this.options.linkGoneAfterKill) {
      await rm(this.path, { force: true });
      await this.cleanup();
      return;
    }
    // socat sees EOF on its stdin and exits (removing the link) shortly after.
    const deadline = Date.now() + 5000;
    while (await exists(this.path)) {
      if (Date.now() > deadline)
        throw new Error(`the pty link ${this.path} is still there 5 s after SIGKILL`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.cleanup();
  }

  async stop(): Promise<void> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), 5000);
    await this.exitPromise;
    clearTimeout(timer);
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    if (this.ownDir) await rm(this.ownDir, { recursive: true, force: true });
  }

  private onLine(line: string): void {
    let event: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
      event = parsed as Record<string, unknown>;
    } catch {
      return; // not ours (npm banners and the like)
    }
    this.events.push(event);
    if (event.event === 'request' && typeof event.line === 'string') this.requests.push(event.line);
    if ((event.event === 'boot' || event.event === 'ready') && typeof event.bootId === 'string') {
      this.bootId = event.bootId;
    }
    if (event.event === 'ready' && typeof event.serial === 'string') this.serial = event.serial;
    for (const waiter of this.waiters) {
      if (!waiter.predicate(event)) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(event);
    }
  }

  private describe(): string {
    const recent = this.events
      .slice(-10)
      .map((event) => `  ${JSON.stringify(event)}`)
      .join('\n');
    const { label } = this.options;
    return `last ${label} events:\n${recent || '  (none)'}\n${label} stderr:\n${this.stderr.trimEnd() || '  (none)'}`;
  }
}

/** Whether `file` exists (a link counts even when what it points to is gone). */
export async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}

/** Starts the simulator CLI on a pty; resolves once its `ready` event says the link exists. */
export function startSimulator(options: StartSimulatorOptions = {}): Promise<SimulatorProcess> {
  return startEventProcess({
    ...options,
    command: process.execPath,
    args: (link) => [
      '--import',
      'tsx',
      'hardware/simulator-cli.ts',
      '--pty',
      link,
      '--exit-with-stdin',
      ...(options.args ?? []),
    ],
    child: { label: 'simulator', linkGoneAfterKill: true },
  });
}

export interface StartEventProcessOptions {
  /** The program to run (cwd: the repository root). */
  command: string;
  /** Its arguments, given the pty link path. */
  args: (linkPath: string) => string[];
  child: EventChildOptions;
  /** The pty link path; default `board` in a fresh directory under os.tmpdir() (removed again by stop/kill). */
  path?: string;
  /** How long to wait for `ready`; default 10000 ms. */
  timeoutMs?: number;
}

/**
 * Starts any child that speaks like the simulator CLI in --pty mode (JSON events
 * on stdout, control lines on stdin, `ready` once the link exists, SIGTERM =
 * clean exit); resolves once it is ready.
 */
export async function startEventProcess(options: StartEventProcessOptions): Promise<EventProcess> {
  let ownDir: string | null = null;
  let linkPath = options.path;
  if (linkPath === undefined) {
    ownDir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-sim-'));
    linkPath = path.join(ownDir, 'board');
  }
  const child = spawn(options.command, options.args(linkPath), {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const sim = new SimulatorChild(linkPath, child, ownDir, options.child);
  try {
    await sim.waitFor((event) => event.event === 'ready', options.timeoutMs ?? 10_000, 0);
  } catch (error) {
    await sim.stop();
    throw error;
  }
  return sim;
}
