import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';

/** Who is at the other end of a Unix socket connection (SO_PEERCRED). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

// Node has no getsockopt: perl (perl-base, part of every Debian and Raspberry
// Pi OS install) reads SO_PEERCRED on a duplicate of the connection's fd.
const PERL = `open(my $s, "+<&=", 3) or die "fd 3: $!\\n";
my $c = getsockopt($s, SOL_SOCKET, SO_PEERCRED) or die "getsockopt: $!\\n";
my ($pid, $uid, $gid) = unpack("iII", $c); print "$pid $uid $gid\\n";`;

/**
 * The peer's pid, uid and gid of a Unix socket connection; null when they
 * cannot be read (no perl, not a Unix socket). About 30 ms: callers ask once
 * per connection.
 */
export function peerCredentials(socket: Socket): Promise<PeerCredentials | null> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn('perl', ['-MSocket', '-e', PERL], { stdio: ['ignore', 'pipe', 'ignore', socket] });
    } catch {
      resolve(null);
      return;
    }
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.once('error', () => resolve(null));
    child.once('close', (code) => {
      const match = /^(\d+) (\d+) (\d+)$/.exec(out.trim());
      resolve(
        code === 0 && match ? { pid: Number(match[1]), uid: Number(match[2]), gid: Number(match[3]) } : null,
      );
    });
  });
}

/** The login name of `uid` from /etc/passwd, or `uid:N` when it has none there. */
export async function userName(uid: number, passwd = '/etc/passwd'): Promise<string> {
  try {
    for (const line of (await readFile(passwd, 'utf8')).split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id !== undefined && Number(id) === uid) return name;
    }
  } catch {
    // No passwd file to read: the number.
  }
  return `uid:${uid}`;
}
