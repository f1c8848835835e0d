import { access, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** The `--` flags of a command line, in order (`node --a=1 --b x.js` → `--a=1`, `--b`). */
export function nodeFlags(command: string): string[] {
  return command.split(/\s+/).filter((word) => word.startsWith('--'));
}

/** The node flags `npm start` runs the daemon with (one place: package.json). */
export async function startFlags(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return nodeFlags(pkg.scripts.start);
}

/** The node flags of the systemd unit's ExecStart (deploy/pipdu.service): they must equal `startFlags()`. */
export async function unitFlags(): Promise<string[]> {
  const unit = await readFile(join(root, 'deploy/pipdu.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  if (execStart === undefined) throw new Error('deploy/pipdu.service has no ExecStart line');
  return nodeFlags(execStart);
}

/** Polls until `path` exists (a socat pty link), or fails after `timeoutMs`. */
export async function waitForPath(path: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${path} did not appear`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** A process's resident memory now and at its peak, in MB (from /proc). */
export async function residentMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/**
 * The compiled daemon as `npm start` runs it (its node flags), in a fresh
 * directory, with `config` as its pipdu.yaml (null: no config file, the
 * built-in simulator): started, left idle for `idleMs` once it logs
 * "running" (and `readyText`, when given), measured, stopped.
 */
export async function idleDaemonMemory(options: {
  config: ((dir: string) => string) | null;
  idleMs?: number;
  readyText?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<{ rss: number; peak: number }> {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const main = join(root, 'dist/src/main.js');
  await access(main).catch(() => {
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  });
  const cwd = await mkdtemp(join(tmpdir(), 'pipdu-bench-idle-'));
  const { PIPDU_CONFIG: _ignored, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = { ...inherited, ...options.env, PIPDU_LOG_FORMAT: 'json' };
  if (options.config) {
    env.PIPDU_CONFIG = join(cwd, 'pipdu.yaml');
    await writeFile(env.PIPDU_CONFIG, options.config(cwd));
  }
  const daemon = spawn(process.execPath, [...(await startFlags()), main], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      daemon.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const running = /running: \d+ of 16 sockets on/.test(text);
        if (running && (options.readyText === undefined || text.includes(options.readyText))) resolve();
      });
      daemon.once('exit', (code) => reject(new Error(`daemon exited (${code}): ${text}`)));
    });
    // Idle for a while: telemetry keeps flowing, nothing else happens.
    await new Promise((resolve) => setTimeout(resolve, options.idleMs ?? 5000));
    return await residentMb(daemon.pid ?? 0);
  } finally {
    const gone = new Promise((resolve) => daemon.once('exit', resolve));
    daemon.kill('SIGTERM');
    await gone;
    await rm(cwd, { recursive: true, force: true });
  }
}

/**
 * Every process this one started, however deep (daemons, simulators, socat,
 * pdudaemon), from /proc: pid → parent pid. Linux only, as the benchmarks are.
 */
export async function descendants(of = process.pid): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const after = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (after?.[1] !== undefined) parents.set(Number(entry), Number(after[1]));
  }
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(of);
  return found;
}

/**
 * Ends whatever a benchmark left running (one that failed half-way): SIGTERM
 * to every descendant, SIGKILL to those still there after `graceMs`. Resolves
 * with the pids it found.
 */
export async function endLeftovers(graceMs = 3000): Promise<number[]> {
  const pids = await descendants();
  const signal = (pid: number, name: NodeJS.Signals): void => {
    try {
      process.kill(pid, name);
    } catch {
      // Already gone.
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
  return pids;
}

/** Debian's pdudaemon, which the peer comparison runs against. */
export const PDUDAEMON_PATH = '/usr/sbin/pdudaemon';

/** The line that says the peer comparison is skipped, or null when pdudaemon is there. */
export async function pdudaemonSkip(path = PDUDAEMON_PATH): Promise<string | null> {
  const { access } = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  try {
    await access(path, constants.X_OK);
    return null;
  } catch {
    return `pdudaemon peer comparison skipped: ${path} is not installed (Debian: sudo apt-get install pdudaemon)\n`;
  }
}
