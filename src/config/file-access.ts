import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** A file the configuration names, found by walking it: where (`api.tls.key`) and the path. */
export interface NamedFile {
  where: string;
  file: string;
}

/** Keys whose text values are files the daemon opens (board.port is a device, also opened). */
const FILE_KEYS = new Set(['cert', 'key', 'ca', 'knownHosts', 'port']);

/**
 * Every file the validated config names: TLS certificates and keys (api, mqtt),
 * SSH keys and known_hosts files of hook steps, the board's serial port.
 * `where` reads as people count: `socket 3 (nas) hooks...`, not `sockets[2]`.
 */
export function namedFiles(config: unknown): NamedFile[] {
  const found: NamedFile[] = [];
  const walk = (value: unknown, where: string, key: string): void => {
    if (typeof value === 'string') {
      if (FILE_KEYS.has(key) && (key !== 'port' || where === 'board.port'))
        found.push({ where, file: value });
      return;
    }
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) walk(item, `${where}[${index}]`, key);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [name, child] of Object.entries(value)) {
      walk(child, where ? `${where}.${name}` : name, name);
    }
  };
  walk(config, '', '');
  return found.map(({ where, file }) => ({ where: socketsByNumber(where, config), file }));
}

/** `sockets[2].x` → `socket 3 (nas) x`, from the socket at that index. */
export function socketsByNumber(where: string, config: unknown): string {
  return where.replace(/^sockets\[(\d+)\]\.?/, (whole, index: string) => {
    const socket = (config as { sockets?: { number?: unknown; name?: unknown }[] } | null)?.sockets?.[
      Number(index)
    ];
    if (!socket || typeof socket.number !== 'number') return whole;
    const name = typeof socket.name === 'string' ? ` (${socket.name})` : '';
    return `socket ${socket.number}${name} `;
  });
}

/** A Unix user: its uid and every group id it has. */
export interface UnixUser {
  name: string;
  uid: number;
  gids: number[];
}

/** `name` from /etc/passwd and /etc/group; null when there is no such user. */
export async function lookUpUser(name: string): Promise<UnixUser | null> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const entry = passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
  if (!entry) return null;
  const uid = Number(entry[2]);
  const gids = new Set([Number(entry[3])]);
  const groups = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of groups.split('\n')) {
    const [, , gid, members] = line.split(':');
    if (members?.split(',').includes(name)) gids.add(Number(gid));
  }
  return { name, uid, gids: [...gids] };
}

/**
 * Why `user` could not open `file` (read, and write for a device), or null
 * when it can. Judged from the modes of the file and of each directory on
 * its way (ACLs are not looked at). Without a user: this process, by trying.
 */
export async function accessProblem(
  file: string,
  user: UnixUser | null,
  device = false,
): Promise<string | null> {
  const absolute = path.resolve(file);
  let stats: Awaited<ReturnType<typeof stat>>;
  try {
    stats = await stat(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : `cannot be read: ${code ?? String(error)}`;
  }
  if (user === null) {
    try {
      await access(absolute, device ? constants.R_OK | constants.W_OK : constants.R_OK);
      return null;
    } catch {
      return 'cannot be read by this user';
    }
  }
  if (user.uid === 0) return null;
  const may = (s: { uid: number; gid: number; mode: number }, bits: number): boolean => {
    if (s.uid === user.uid) return (s.mode & (bits << 6)) === bits << 6;
    if (user.gids.includes(s.gid)) return (s.mode & (bits << 3)) === bits << 3;
    return (s.mode & bits) === bits;
  };
  for (let dir = path.dirname(absolute); ; dir = path.dirname(dir)) {
    const dirStats = await stat(dir).catch(() => null);
    if (dirStats && !may(dirStats, 1)) {
      return `is in ${dir}, which the user ${user.name} cannot enter (mode ${octal(dirStats.mode)})`;
    }
    if (dir === path.dirname(dir)) break;
  }
  if (!may(stats, device ? 6 : 4)) {
    return `cannot be ${device ? 'opened' : 'read'} by the user ${user.name} (mode ${octal(stats.mode)}, uid ${stats.uid}, gid ${stats.gid})`;
  }
  return null;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
