// Discord bot figures (issue 4, "Benchmarks"): the real discord.js client in the
// daemon, a fake Discord and the board simulator around it.
//
// This process runs the fake Discord (which keeps every request in memory) and
// the simulator process on a pty; the daemon and its bot run in a child process
// (bench/discord-daemon.ts) so that the memory measured is theirs alone.
//
// - Latency: 1,000 `/socket toggle` one after another (each one's callback and
//   the board's SET awaited before the next), switchSpacingMs 0: interaction
//   sent → callback received by the fake, and → the SET line received by the
//   simulator as seen through its JSON stdout (a pipe hop later than the board).
// - Memory: the child's RSS after login and warm-up, then after 10,000 `/status`
//   from 10,000 distinct users (50 in flight), and after 10,000 more (does it
//   keep growing, or was it the heap's size under that load?).
//
// `npx tsx bench/discord.ts` runs it alone; `npm run bench` runs it last.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type ClientRequest, get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type FakeDiscord,
  type FakeInteraction,
  type FakeUser,
  startFakeDiscord,
} from '../test/helpers/fake-discord.js';
import { type SimulatorProcess, startSimulator } from '../test/helpers/simulator-process.js';
import { startFlags } from './support.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const TOGGLES = Number(process.env.BENCH_DISCORD_TOGGLES ?? 1000);
const USERS = Number(process.env.BENCH_DISCORD_USERS ?? 10_000);
const IN_FLIGHT = Number(process.env.BENCH_DISCORD_IN_FLIGHT ?? 50);
/** More node flags for the daemon, e.g. `--max-old-space-size=64`, to see what they change. */
const EXTRA_FLAGS = (process.env.BENCH_DISCORD_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const WARM_UP = 100;
const STRING = 3;
/** The benchmarked socket: number 3, board channel 2. */
const SOCKET = { number: 3, name: 'bench', channel: 2 };

interface Memory {
  rssMb: number;
  rssAfterGcMb: number;
  heapUsedMb: number;
  heapUsedAfterGcMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

/** The daemon + bot child, spoken to over its stdin/stdout (`BENCH {json}` lines). */
class DaemonChild {
  /** The daemon's API (for the dashboards' event streams), once ready. */
  apiUrl: string | null = null;
  private readonly waiters: Array<(message: Record<string, unknown>) => boolean> = [];
  private readonly exited: Promise<number | null>;

  constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('BENCH ')) {
        process.stderr.write(`[bench daemon] ${line}\n`); // its own log (warn and up)
        return;
      }
      const message = JSON.parse(line.slice('BENCH '.length)) as Record<string, unknown>;
      const index = this.waiters.findIndex((waiter) => waiter(message));
      if (index !== -1) this.waiters.splice(index, 1);
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  next(key: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the bench daemon sent no "${key}"`)), timeoutMs);
      this.waiters.push((message) => {
        if (!(key in message)) return false;
        clearTimeout(timer);
        resolve(message);
        return true;
      });
      void this.exited.then((code) => reject(new Error(`the bench daemon exited (${code})`)));
    });
  }

  async memory(): Promise<Memory> {
    const answer = this.next('memory', 10_000);
    this.child.stdin?.write('rss\n');
    return (await answer).memory as Memory;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    this.child.stdin?.end();
    await this.exited;
    clearTimeout(timer);
  }
}

/** How many web dashboards are open during the second round of toggles. */
const DASHBOARDS = 20;

/** `count` event streams as the web dashboard opens them (with telemetry), read and discarded. */
async function openEventStreams(api: string | null, count: number): Promise<ClientRequest[]> {
  if (!api) throw new Error('the bench daemon runs no API');
  const streams: ClientRequest[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          const request = httpGet(`${api}/api/v1/events?telemetry=1`, (response) => {
            response.on('data', () => {});
            response.on('error', () => {});
            resolve();
          });
          request.on('error', (error) => (streams.includes(request) ? undefined : reject(error)));
          streams.push(request);
        }),
    ),
  );
  return streams;
}

async function startDaemon(fake: FakeDiscord, sim: SimulatorProcess, dir: string): Promise<DaemonChild> {
  const channel = (name: string) => fake.guild.channels.find((c) => c.name === name)!.id;
  const file = join(dir, 'pipdu.yaml');
  await writeFile(
    file,
    `version: 1
name: bench
log: { level: warn }
board: { driver: prp1, port: ${sim.path}, switchSpacingMs: 0 }
state: { dir: ${join(dir, 'state')} }
sockets:
  - { number: ${SOCKET.number}, name: ${SOCKET.name} }
discord:
  guildId: "${fake.guild.id}"
  api: ${fake.api}
  roles: { admin: [Admins], operator: [Homelab], viewer: ["@everyone"] }
  statusChannelId: "${channel('pdu-status')}"
  auditChannelId: "${channel('pdu-audit')}"
api: { listen: "127.0.0.1:0" }
`,
  );
  // The node flags `npm start` uses, plus --expose-gc for RSS after a GC.
  const flags = await startFlags();
  const child = spawn(
    process.execPath,
    [...flags, ...EXTRA_FLAGS, '--expose-gc', '--import', 'tsx', join(root, 'bench/discord-daemon.ts'), file],
    {
      cwd: root,
      env: { ...process.env, DISCORD_TOKEN: fake.token, PIPDU_LOG_FORMAT: 'json' },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const daemon = new DaemonChild(child);
  try {
    const ready = await daemon.next('ready', 30_000);
    daemon.apiUrl = typeof ready.api === 'string' ? ready.api : null;
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  return daemon;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `median ${percentile(sorted, 50).toFixed(2)} ms  p99 ${percentile(sorted, 99).toFixed(2)} ms  max ${sorted[sorted.length - 1]?.toFixed(2)} ms`;
}

function toggle(fake: FakeDiscord, user: FakeUser): FakeInteraction {
  return fake.command({
    user,
    name: 'socket',
    subcommand: 'toggle',
    options: [{ name: 'socket', type: STRING, value: SOCKET.name }],
  });
}

/** One toggle: resolves with sent → callback and sent → SET seen, in ms. */
async function timedToggle(
  fake: FakeDiscord,
  sim: SimulatorProcess,
  user: FakeUser,
): Promise<{ callback: number; board: number }> {
  const since = sim.events.length;
  const set = new RegExp(`\\bSET ${SOCKET.channel} [01]$`);
  let seenAt = Number.NaN;
  const interaction = toggle(fake, user);
  // The predicate runs as each event line is parsed: the arrival time is taken there.
  const seen = sim.waitFor(
    (event) => {
      if (event.event !== 'request' || !set.test(String(event.line))) return false;
      seenAt = performance.now();
      return true;
    },
    5000,
    since,
  );
  const [callback] = await Promise.all([interaction.callback(), seen]);
  if (callback.type !== 4 || !/ is (on|off)$/.test(String(callback.data.embeds?.[0]?.title)))
    throw new Error(`unexpected toggle reply: ${JSON.stringify(callback.data)}`);
  return { callback: callback.at - interaction.sentAt, board: seenAt - interaction.sentAt };
}

/** `/status` from `count` new distinct users, `inFlight` at a time; every reply must be the status embed. */
async function statusFromDistinctUsers(
  fake: FakeDiscord,
  prefix: string,
  count: number,
  inFlight: number,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const user = fake.user(`${prefix}${next++}`, ['Homelab']);
      const callback = await fake.command({ user, name: 'status' }).callback();
      if (callback.type !== 4 || !Array.isArray(callback.data.embeds) || callback.data.embeds.length !== 1)
        throw new Error(`unexpected /status reply: ${JSON.stringify(callback.data)}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return performance.now() - started;
}

const mb = (value: number) => `${value.toFixed(1)} MB`.padStart(8);

function memoryLine(label: string, memory: Memory): string {
  return `    ${label.padEnd(44)} RSS ${mb(memory.rssMb)}  after GC ${mb(memory.rssAfterGcMb)}  heap used after GC ${mb(memory.heapUsedAfterGcMb)} of ${mb(memory.heapTotalMb)}  external ${mb(memory.externalMb)}`;
}

export async function benchDiscord(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-discord-'));
  let fake: FakeDiscord | null = null;
  let sim: SimulatorProcess | null = null;
  let daemon: DaemonChild | null = null;
  try {
    fake = await startFakeDiscord();
    sim = await startSimulator();
    daemon = await startDaemon(fake, sim, dir);
    const loggedIn = await daemon.memory();

    // Warm-up: the code paths of both phases.
    const operator = fake.user('bench-operator', ['Homelab']);
    for (let i = 0; i < WARM_UP; i++) await timedToggle(fake, sim, operator);
    await statusFromDistinctUsers(fake, 'warm', WARM_UP, 10);
    const warm = await daemon.memory();

    const toCallback: number[] = [];
    const toBoard: number[] = [];
    const started = performance.now();
    for (let i = 0; i < TOGGLES; i++) {
      const sample = await timedToggle(fake, sim, operator);
      toCallback.push(sample.callback);
      toBoard.push(sample.board);
    }
    const togglesMs = performance.now() - started;
    const afterToggles = await daemon.memory();

    const firstMs = await statusFromDistinctUsers(fake, 'user', USERS, IN_FLIGHT);
    const afterUsers = await daemon.memory();
    // As many again: growth that keeps coming is kept per user; a plateau is the heap's size under load.
    const secondMs = await statusFromDistinctUsers(fake, 'more', USERS, IN_FLIGHT);
    const afterMore = await daemon.memory();

    // 20 dashboards open: what each costs the daemon once loaded is its event stream (with telemetry).
    const streams = await openEventStreams(daemon.apiUrl, DASHBOARDS);
    const withDashboards: number[] = [];
    for (let i = 0; i < TOGGLES; i++) withDashboards.push((await timedToggle(fake, sim, operator)).board);
    for (const stream of streams) stream.destroy();

    console.log(
      'Discord bot through the fake Discord: the real discord.js client in the daemon process, the fake and the ' +
        'simulator in another; prp1 on the simulator pty, switchSpacingMs 0, status and audit channels on:',
    );
    console.log(
      `  ${TOGGLES} /socket toggle one after another (after ${WARM_UP} warm-up), ${(togglesMs / 1000).toFixed(1)} s:`,
    );
    console.log(`    sent → callback received   ${summary(toCallback)}`);
    console.log(
      `    sent → SET seen by board   ${summary(toBoard)}  (target p99 <= 25 ms; as seen through the simulator's stdout)`,
    );
    console.log(
      `    the same with ${DASHBOARDS} dashboards' event streams open: sent → SET seen by board   ${summary(withDashboards)}`,
    );
    const flags = ['npm start flags', ...EXTRA_FLAGS].join(' ');
    console.log(
      `  daemon + bot memory (under tsx, node ${process.version}, ${flags}; "after GC" = right after global.gc()):`,
    );
    console.log(memoryLine('after login', loggedIn));
    console.log(memoryLine(`after warm-up (${WARM_UP} toggles, ${WARM_UP} /status)`, warm));
    console.log(memoryLine(`after ${TOGGLES} toggles`, afterToggles));
    console.log(memoryLine(`after ${USERS} /status, ${USERS} distinct users`, afterUsers));
    console.log(memoryLine(`after ${USERS} more distinct users`, afterMore));
    console.log(
      `    (${IN_FLIGHT} in flight: ${(firstMs / 1000).toFixed(1)} s and ${(secondMs / 1000).toFixed(1)} s)`,
    );
    console.log(
      `    growth since warm-up, ${USERS} users: RSS ${mb(afterUsers.rssMb - warm.rssMb)}  after GC ${mb(afterUsers.rssAfterGcMb - warm.rssAfterGcMb)}  heap used after GC ${mb(afterUsers.heapUsedAfterGcMb - warm.heapUsedAfterGcMb)}  (target <= 15 MB)`,
    );
    console.log(
      `    growth since login (the issue's measure), ${USERS} users: RSS ${mb(afterUsers.rssMb - loggedIn.rssMb)}  after GC ${mb(afterUsers.rssAfterGcMb - loggedIn.rssAfterGcMb)}  (target <= 15 MB)`,
    );
    console.log(
      `    growth from the ${USERS} more users:     RSS ${mb(afterMore.rssMb - afterUsers.rssMb)}  after GC ${mb(afterMore.rssAfterGcMb - afterUsers.rssAfterGcMb)}  heap used after GC ${mb(afterMore.heapUsedAfterGcMb - afterUsers.heapUsedAfterGcMb)}\n`,
    );
  } finally {
    await daemon?.stop();
    await sim?.stop();
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchDiscord().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
