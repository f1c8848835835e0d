// `npm run bench`: the figures the issues ask for, printed. Figures, not pass/fail:
// the machine is shared and noisy, so tests never check wall-clock speed.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SerialPort } from 'serialport';
import { createRelayBoard } from '../hardware/index.js';
import type { RelayBoard } from '../hardware/relay-board.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { PduService } from '../src/pdu/pdu-service.js';
import { StateStore } from '../src/state/state-store.js';
import { requests } from '../test/helpers/requests.js';
import { benchDashboard } from './dashboard.js';
import { benchDiscord } from './discord.js';
import { benchDrivers } from './drivers.js';
import { benchEnergy } from './energy.js';
import { benchFirmware } from './firmware.js';
import { benchMqtt } from './mqtt.js';
import { benchPanel } from './panel.js';
import { benchPdudaemonPeer } from './pdudaemon-peer.js';
import { benchPipeline } from './pipeline.js';
import { benchRequestPath } from './request-path.js';
import { benchSsh } from './ssh.js';
import { endLeftovers, idleDaemonMemory, pdudaemonSkip, waitForPath } from './support.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 2000);
const SPACING_MS = Number(process.env.BENCH_SPACING_MS ?? 250);
const ALL_ON_RUNS = Number(process.env.BENCH_ALL_ON_RUNS ?? 3);

interface Link {
  host: string;
  dir: string;
  socat: ChildProcess;
  farSide: ChildProcess;
}

/** A socat pty pair with the far-side process (echo + simulator) on one end. */
async function openLink(): Promise<Link> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-'));
  const host = join(dir, 'host');
  const board = join(dir, 'board');
  const socat = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${board}`], {
    stdio: 'ignore',
  });
  await Promise.all([waitForPath(host), waitForPath(board)]);
  const farSide = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/far-side.ts'), board], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    farSide.stdout?.once('data', () => resolve());
    farSide.once('exit', (code) => reject(new Error(`far side exited (${code})`)));
  });
  return { host, dir, socat, farSide };
}

async function closeLink(link: Link): Promise<void> {
  const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));
  const farSideGone = exited(link.farSide);
  link.farSide.kill('SIGTERM');
  await farSideGone;
  const socatGone = exited(link.socat);
  link.socat.kill('SIGTERM');
  await socatGone;
  await rm(link.dir, { recursive: true, force: true });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** Raw serialport: write a line, wait for it to come back. */
async function rawEcho(path: string, count: number): Promise<number[]> {
  const port = new SerialPort({ path, baudRate: 115200, hupcl: false, autoOpen: false });
  port.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  let buffer = '';
  let waiting: ((line: string) => void) | null = null;
  port.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line.startsWith('ECHO')) waiting?.(line);
    }
  });
  const samples: number[] = [];
  for (let i = 0; i < count + 100; i++) {
    const text = `ECHO ${i} SET 4 1`;
    const started = performance.now();
    const echoed = new Promise<string>((resolve) => {
      waiting = resolve;
    });
    port.write(`${text}\n`);
    const line = await echoed;
    if (line !== text) throw new Error(`echo mismatch: ${line}`);
    if (i >= 100) samples.push(performance.now() - started); // the first 100 warm up
  }
  await new Promise<void>((resolve) => port.close(() => resolve()));
  return samples;
}

/** The prp1 driver's SET round trip on the same link. */
async function driverSet(path: string, count: number): Promise<number[]> {
  const board = createRelayBoard(
    { driver: 'prp1', port: path, baudRate: 115200, switchSpacingMs: 0, replyTimeout: 500 },
    { logger: silentLogger() },
  );
  const online = new Promise((resolve) => board.once('connected', resolve));
  await board.start();
  await online;
  const samples: number[] = [];
  for (let i = 0; i < count + 100; i++) {
    const started = performance.now();
    await board.set(i % 16, (i >> 4) % 2 === 0);
    if (i >= 100) samples.push(performance.now() - started);
  }
  await board.stop();
  return samples;
}

async function allOn(path: string, spacingMs: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-state-'));
  const logger = silentLogger();
  const config = parseConfig(
    `version: 1\nboard: { driver: prp1, port: ${path}, switchSpacingMs: ${spacingMs} }\nstate: { dir: ${dir} }\n`,
    'bench.yaml',
  );
  const board: RelayBoard = createRelayBoard(config.board, { logger });
  const service = new PduService({
    config,
    board,
    store: new StateStore({ dir, logger }),
    audit: new AuditLog({ dir, maxBytes: 10_000_000, logger }),
    logger,
  });
  const online = new Promise((resolve) => service.events.once('boardOnline', resolve));
  await service.start();
  await online;
  await requests(service).allOff({ kind: 'cli', id: 'bench' }, { includeProtected: true });
  const started = performance.now();
  const result = await requests(service).allOn({ kind: 'cli', id: 'bench' });
  const elapsed = performance.now() - started;
  if (!result.outcomes.every((outcome) => outcome.ok && outcome.result.changed))
    throw new Error('all-on failed');
  await requests(service).allOff({ kind: 'cli', id: 'bench' }, { includeProtected: true });
  await service.stop();
  await rm(dir, { recursive: true, force: true });
  return elapsed;
}

const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

async function main(): Promise<void> {
  console.log(`PiPDU benchmarks (node ${process.version})\n`);

  const link = await openLink();
  try {
    const raw = summary(await rawEcho(link.host, ROUND_TRIPS));
    const driver = summary(await driverSet(link.host, ROUND_TRIPS));
    console.log(`serial round trip over a socat pty pair, ${ROUND_TRIPS} each, same link and far side:`);
    console.log(`  raw serialport echo   median ${fmt(raw.median)}  p99 ${fmt(raw.p99)}`);
    console.log(`  prp1 driver SET       median ${fmt(driver.median)}  p99 ${fmt(driver.p99)}`);
    console.log(
      `  ratio driver/raw      median ${(driver.median / raw.median).toFixed(2)}x  p99 ${(driver.p99 / raw.p99).toFixed(2)}x  (target p99 <= 2x)\n`,
    );

    const runs: number[] = [];
    for (let i = 0; i < ALL_ON_RUNS; i++) runs.push(await allOn(link.host, SPACING_MS));
    const ideal = 15 * SPACING_MS;
    const best = Math.min(...runs);
    const worst = Math.max(...runs);
    console.log(
      `all 16 sockets on with switchSpacingMs ${SPACING_MS} (prp1 over the pty), ${ALL_ON_RUNS} runs:`,
    );
    console.log(`  15 x S = ${ideal} ms; took ${runs.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    console.log(
      `  overhead best ${(((best - ideal) / ideal) * 100).toFixed(2)}%  worst ${(((worst - ideal) / ideal) * 100).toFixed(2)}%  (target <= 2%)\n`,
    );
  } finally {
    await closeLink(link);
  }

  await each('relay board drivers', benchDrivers);
  await each('request path', benchRequestPath);
  await each('hook pipeline', benchPipeline);
  await each('ssh step', benchSsh);
  await each('front panel', benchPanel);
  await each('idle memory', idleMemory);
  await each('Discord', benchDiscord);
  await each('dashboard', benchDashboard);
  const skip = await pdudaemonSkip();
  if (skip) console.log(skip);
  else await each('pdudaemon peer', benchPdudaemonPeer);
  await each('firmware', benchFirmware);
  await each('MQTT', benchMqtt);
  await each('energy', benchEnergy);
  if (failed.length > 0) throw new Error(`benchmarks that failed: ${failed.join(', ')}`);
}

/** Names of benchmarks that failed; the others still run. */
const failed: string[] = [];

/** Runs one benchmark; if it fails, says so, ends what it left running, and goes on. */
async function each(name: string, bench: () => Promise<unknown>): Promise<void> {
  try {
    await bench();
  } catch (error) {
    failed.push(name);
    console.error(`${name} benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
    const left = await endLeftovers();
    if (left.length > 0) console.error(`  ended ${left.length} process(es) it left running\n`);
  }
}

async function idleMemory(): Promise<void> {
  const idle = await idleDaemonMemory({ config: null });
  const memory = { rssMb: idle.rss, peakMb: idle.peak };
  console.log(
    'idle daemon with no config file (built-in simulator, loopback API), no Discord, after 5 s (as `npm start` runs it):',
  );
  console.log(
    `  RSS ${memory.rssMb.toFixed(1)} MB (peak ${memory.peakMb.toFixed(1)} MB)  (target <= 64 MB)\n`,
  );
}

// Ctrl-C or a kill: nothing a benchmark started outlives the run.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void endLeftovers(1000).finally(() => process.exit(130));
  });
}

main()
  .then(
    () => 0,
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      return 1;
    },
  )
  .then(async (code) => {
    await endLeftovers();
    process.exit(code);
  });
