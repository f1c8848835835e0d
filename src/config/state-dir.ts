import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PduError } from '../errors.js';
import { displayPath } from './paths.js';

/**
 * Whether the daemon can keep its state in `dir` (state.json, audit.jsonl,
 * energy, history): creates it if missing, then checks it is a directory this
 * process may write. A PduError BAD_CONFIG whose message is one line naming
 * the directory, the reason and the fix; the daemon checks this before it
 * opens anything, so a bad `state.dir` never gets as far as a stack trace.
 */
export async function checkStateDir(dir: string): Promise<void> {
  const shown = displayPath(dir);
  const fail = (why: string): never => {
    throw new PduError(
      'BAD_CONFIG',
      `state.dir ${shown} ${why}; set state.dir to a directory the daemon's user may write (under systemd: /var/lib/pipdu)`,
    );
  };
  try {
    await makeDirs(path.resolve(dir));
  } catch (error) {
    fail(`cannot be created: ${reason(error)}`);
  }
  try {
    if (!(await stat(dir)).isDirectory()) fail('is not a directory');
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof PduError) throw error;
    fail(`is not writable: ${reason(error)}`);
  }
}

/** mkdir -p one level at a time (Node's recursive mkdir spins forever under /proc). */
async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = path.dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    await makeDirs(parent);
    await mkdir(dir);
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ENOENT':
      return 'a part of the path does not exist';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}
