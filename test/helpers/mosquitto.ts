import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeCerts } from './api-client.js';
import { freePort } from './ports.js';

const run = promisify(execFile);
export const MOSQUITTO = '/usr/sbin/mosquitto';

/** The users every test broker knows: the daemon, Home Assistant (commands only), and a reader. */
export const USERS = {
  daemon: { username: 'pipdu', password: 'daemon-secret' },
  homeassistant: { username: 'homeassistant', password: 'ha-secret' },
} as const;

/**
 * Debian's mosquitto on 127.0.0.1 and a free port, in a temp dir with a
 * password file (made with `mosquitto_passwd -b -c`) and an ACL: the daemon
 * user may write under `pipdu/#` and the discovery prefix; the Home Assistant
 * user reads everything and writes only commands (`pipdu/+/socket/+/set`,
 * `.../cycle`) and `homeassistant/status`. Anonymous clients are refused.
 * Retained messages persist across `restart()` (persistence on).
 *
 *   const broker = await startMosquitto();
 *   try { ... broker.url ... } finally { await broker.stop(); }
 */
export interface Mosquitto {
  readonly url: string;
  readonly port: number;
  /** With `tls: true`: a second listener, mqtts:// with client certificates required, and the files for it. */
  readonly tls: { url: string; ca: string; cert: string; key: string } | null;
  /** Everything mosquitto logged (stderr), for diagnostics. */
  readonly log: () => string;
  /** Stops the broker (SIGTERM, retained messages saved) and starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops the broker only; `start()` brings it back. */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** Stops the broker and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export async function mosquittoAvailable(): Promise<boolean> {
  try {
    await access(MOSQUITTO);
    return true;
  } catch {
    return false;
  }
}

export async function startMosquitto(options: { tls?: boolean } = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-mosquitto-'));
  const port = await freePort();
  let tls: Mosquitto['tls'] = null;
  const tlsListener: string[] = [];
  let tlsPort = 0;
  if (options.tls) {
    // A CA, the broker's certificate (SAN 127.0.0.1) and a client certificate, by scripts/make-certs.sh.
    const pki = join(dir, 'pki');
    await makeCerts(pki, ['pipdu-mqtt']);
    tlsPort = await freePort();
    tls = {
      url: `mqtts://127.0.0.1:${tlsPort}`,
      ca: join(pki, 'ca.crt'),
      cert: join(pki, 'pipdu-mqtt.crt'),
      key: join(pki, 'pipdu-mqtt.key'),
    };
    tlsListener.push(
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(pki, 'ca.crt')}`,
      `certfile ${join(pki, 'server.crt')}`,
      `keyfile ${join(pki, 'server.key')}`,
      'require_certificate true',
    );
  }
  const passwords = join(dir, 'passwords');
  const acl = join(dir, 'acl');
  await run('mosquitto_passwd', ['-b', '-c', passwords, USERS.daemon.username, USERS.daemon.password]);
  await run('mosquitto_passwd', [
    '-b',
    passwords,
    USERS.homeassistant.username,
    USERS.homeassistant.password,
  ]);
  await writeFile(
    acl,
    [
      `user ${USERS.daemon.username}`,
      'topic readwrite pipdu/#',
      'topic readwrite homeassistant/#',
      '',
      `user ${USERS.homeassistant.username}`,
      'topic read pipdu/#',
      'topic read homeassistant/#',
      'topic write pipdu/+/socket/+/set',
      'topic write pipdu/+/socket/+/cycle',
      'topic write homeassistant/status',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'mosquitto.conf'),
    [
      // Run as whoever runs the tests (as root, mosquitto would switch to a user that cannot read the temp dir).
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      'set_tcp_nodelay true',
      'allow_anonymous false',
      `password_file ${passwords}`,
      `acl_file ${acl}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      ...tlsListener,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;
  let log = '';
  let stopped = false;

  const start = async (): Promise<void> => {
    const proc = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (text: string) => {
      log += text;
    });
    await waitForListening(port, proc, () => log);
    if (tlsPort) await waitForListening(tlsPort, proc, () => log);
  };
  const halt = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await gone;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    tls,
    log: () => log,
    start,
    halt,
    async restart() {
      await halt();
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once the port accepts a TCP connection (tried again as mosquitto starts); rejects if it exits. */
async function waitForListening(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode}):\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}:\n${log()}`);
    // mosquitto binds within milliseconds; polling is its only readiness signal here.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Message {
  topic: string;
  payload: string;
  retain: boolean;
  at: number;
}

/**
 * A test client (Home Assistant's part, or a plain subscriber) that records
 * every message; `next()` waits for one. Connects with MQTT 5 as `user`.
 */
export class Watcher {
  readonly messages: Message[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly client: import('mqtt').MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({
        topic,
        payload: payload.toString(),
        retain: packet.retain,
        at: performance.now(),
      });
      for (const check of [...this.waiters]) check();
    });
  }

  static async connect(
    url: string,
    user: { username: string; password: string } = USERS.homeassistant,
    clientId = `watcher-${Math.random().toString(16).slice(2)}`,
  ): Promise<Watcher> {
    const { connectAsync } = await import('mqtt');
    const client = await connectAsync(url, {
      ...user,
      clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      clean: true,
    });
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    return new Watcher(client);
  }

  async subscribe(...filters: string[]): Promise<void> {
    await this.client.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1, rap: true }])));
  }

  async publish(topic: string, payload: string, retain = false): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain });
  }

  /** The latest payload seen on a topic. */
  latest(topic: string): string | undefined {
    return this.messages.findLast((message) => message.topic === topic)?.payload;
  }

  /** The first message from index `since` on (default: from now) that matches. */
  next(
    predicate: (message: Message) => boolean,
    since = this.messages.length,
    timeoutMs = 5000,
  ): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.messages.slice(since).find(predicate);
        if (!found) return false;
        this.waiters.delete(wake);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const wake = (): void => {
        check();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`no matching MQTT message within ${timeoutMs} ms (${predicate.toString()})`));
      }, timeoutMs);
      this.waiters.add(wake);
      check();
    });
  }

  /** Waits until `check()` holds, re-checking at every message. */
  async until(check: () => boolean, timeoutMs = 5000): Promise<void> {
    if (check()) return;
    await this.next(() => check(), this.messages.length, timeoutMs);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => {});
  }
}
