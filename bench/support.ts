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
