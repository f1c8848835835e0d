import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';

/**
 * A real OpenSSH sshd on 127.0.0.1, with its own host keys, client keys and
 * config in a temp dir, for tests of the ssh hook step:
 *
 *   const sshd = await startSshd();          // in before()
 *   ... ssh step { host: sshd.host, port: sshd.port, user: sshd.user,
 *                  key: sshd.keyPath, hostKey: sshd.hostKeyLine, ... }
 *   await sshd.stop();                       // in after(); idempotent
 *
 * Logins are by key only, as the user running the tests (root in CI:
 * `PermitRootLogin prohibit-password`), and run that user's login shell.
 * Both client keys (`keyPath`, and `encryptedKeyPath` with `passphrase`)
 * are authorized. The server has an ed25519 host key (`hostKeyLine`,
 * listed in `knownHostsPath`) and an ECDSA one (`dir/ssh_host_ecdsa_key.pub`),
 * so a client only gets the ed25519 key if it asks for it first.
 *
 * start waits until the port accepts connections; it rejects (with sshd's
 * log) if sshd exits first. Nothing global is registered: sshd also stops by
 * itself when the test process dies without stop(). Sessions already open
 * when stop() runs end when their clients disconnect.
 */
export interface SshServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The user to log in as: the one running the tests. */
  readonly user: string;
  /** An authorized ed25519 private key without a passphrase (mode 0600). */
  readonly keyPath: string;
  /** An authorized ed25519 private key protected by `passphrase`. */
  readonly encryptedKeyPath: string;
  readonly passphrase: string;
  /** The server's ed25519 host public key, as `ssh-keyscan` prints it without the host: "ssh-ed25519 AAAA...". */
  readonly hostKeyLine: string;
  /** A known_hosts file with one plain entry: `[127.0.0.1]:<port> ssh-ed25519 AAAA...`. */
  readonly knownHostsPath: string;
  /** The temp dir holding keys, config and pid file; removed by stop(). */
  readonly dir: string;
  /** sshd's log (its stderr) so far, for diagnostics. */
  readonly log: string;
  /** SIGTERM to sshd, wait for it to exit, remove `dir`. Idempotent. */
  stop(): Promise<void>;
}

export async function startSshd(): Promise<SshServer> {
  const user = os.userInfo().username;
  await refuseLockedAccount(user);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pipdu-sshd-'));
  try {
    const file = (name: string) => path.join(dir, name);
    const passphrase = randomBytes(12).toString('hex');
    await Promise.all([
      keygen(file('ssh_host_ed25519_key'), 'ed25519', ''),
      keygen(file('ssh_host_ecdsa_key'), 'ecdsa', ''),
      keygen(file('id_ed25519'), 'ed25519', ''),
      keygen(file('id_ed25519_encrypted'), 'ed25519', passphrase),
    ]);
    const publicKey = async (name: string) => (await readFile(file(`${name}.pub`), 'utf8')).trim();
    const [hostPub, clientPub, encryptedPub] = await Promise.all([
      publicKey('ssh_host_ed25519_key'),
      publicKey('id_ed25519'),
      publicKey('id_ed25519_encrypted'),
    ]);
    await writeFile(file('authorized_keys'), `${clientPub}\n${encryptedPub}\n`, { mode: 0o600 });
    const hostKeyLine = hostPub.split(/\s+/).slice(0, 2).join(' ');
    // privilege separation needs this directory (the openssh-server package makes it only at boot)
    if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

    // A free port can be taken between probing it and sshd binding it: retry with a new one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await writeFile(file('known_hosts'), `[127.0.0.1]:${port} ${hostKeyLine}\n`);
      await writeFile(file('sshd_config'), sshdConfig(dir, port));
      try {
        const server = await launch(dir, port);
        return {
          host: '127.0.0.1',
          port,
          user,
          keyPath: file('id_ed25519'),
          encryptedKeyPath: file('id_ed25519_encrypted'),
          passphrase,
          hostKeyLine,
          knownHostsPath: file('known_hosts'),
          dir,
          get log() {
            return server.log();
          },
          stop: server.stop,
        };
      } catch (error) {
        if (attempt < 3 && /Address already in use/.test(String(error))) continue;
        throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function sshdConfig(dir: string, port: number): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${path.join(dir, 'ssh_host_ed25519_key')}`,
    `HostKey ${path.join(dir, 'ssh_host_ecdsa_key')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // the temp dir and its keys belong to whoever runs the tests
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    // bash sources ~/.bashrc for commands run by sshd only at SHLVL < 2: keep the
    // account's rc files (pyenv, nvm, ...) from costing every command ~100 ms
    'SetEnv SHLVL=1',
    // tests open many connections in a burst
    'MaxStartups 100',
    '',
  ].join('\n');
}

async function keygen(file: string, type: 'ed25519' | 'ecdsa', passphrase: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'pipdu-test', '-f', file]);
}

/**
 * With `UsePAM no`, sshd refuses every login (keys too) to an account whose
 * password field is locked ("!..."). Say so plainly instead of letting the
 * tests fail with "authentication failed". Only root can read /etc/shadow.
 */
async function refuseLockedAccount(user: string): Promise<void> {
  let shadow: string;
  try {
    shadow = await readFile('/etc/shadow', 'utf8');
  } catch {
    return;
  }
  const password = shadow
    .split('\n')
    .find((line) => line.startsWith(`${user}:`))
    ?.split(':')[1];
  if (password?.startsWith('!')) {
    throw new Error(
      `the account ${user} is locked (its /etc/shadow password starts with "!"), so sshd (UsePAM no) ` +
        `refuses key logins to it: unlock it without setting a password: usermod -p '*' ${user}`,
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * sshd under a small sh guard that stops it (SIGTERM) when its stdin closes:
 * when stop() ends it, and when this process dies in any way, even SIGKILL,
 * so a test run that is killed leaves no sshd behind. The guard exits when
 * sshd does.
 */
const GUARD = [
  'exec 3<&0',
  '"$0" -D -e -f "$1" </dev/null 3<&- &',
  'pid=$!',
  '{ read -r _ <&3; kill "$pid" 2>/dev/null; } &',
  'wait "$pid"',
].join('\n');

async function launch(dir: string, port: number): Promise<{ log(): string; stop(): Promise<void> }> {
  const child = spawn('/bin/sh', ['-c', GUARD, SSHD, path.join(dir, 'sshd_config')], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = async () => {
    child.stdin!.end();
    await exited;
  };

  try {
    await waitUntilAccepting(port, child, exited);
  } catch (error) {
    await end();
    throw new Error(`${error instanceof Error ? error.message : error}\nsshd log:\n${log}`);
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await end();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return { log: () => log, stop };
}

/** Polls a TCP connect until sshd accepts, or fails when sshd exits first or after `timeoutMs`. */
async function waitUntilAccepting(
  port: number,
  child: ChildProcess,
  exited: Promise<void>,
  timeoutMs = 10_000,
): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before accepting`);
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`sshd did not accept on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
