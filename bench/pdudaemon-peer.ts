// Issue 6's benchmark: Debian's pdudaemon (HTTP listener, NumatoUSB16 driver over a socat
// pty to bench/numato-sim.py) against PiPDU's pdudaemon route (plain HTTP, a new
// connection each) and its v1 route (HTTPS with mutual TLS, keep-alive), PiPDU on the
// prp1 driver over a pty to the PRP/1 simulator process, switchSpacingMs 0; and (issue 18)
// board for board: PiPDU's numato driver on its own copy of the same Numato simulator,
// through the same pdudaemon route. PiPDU is
// the compiled daemon (dist/src/main.js with `npm start`'s node flags and a config file), so
// its RSS is the product's own. Same client for all.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { residentMb, startFlags, waitForPath } from './support.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const SEQUENTIAL = Number(process.env.BENCH_PEER_SEQUENTIAL ?? 300);
const SUSTAIN_MS = Number(process.env.BENCH_PEER_SUSTAIN_MS ?? 3000);
const FAILURE_CAP_MS = Number(process.env.BENCH_PEER_CAP_MS ?? 30_000);
const PDUDAEMON = '/usr/sbin/pdudaemon';

// ---------------------------------------------------------------- the PiPDU daemons

interface Served {
  pid: number;
  /** Daemon C: the numato driver on bench/numato-sim.py, as pdudaemon drives it. */
  numatoPid: number;
  pdudaemonNumatoUrl: string;
  pdudaemonUrl: string;
  pdudaemonBUrl: string;
  v1Url: string;
  metricsBUrl: string;
}

/**
 * A PRP/1 simulator behind a socat pty, in its own process (`--stdio`: nothing is
 * reported back to this process, so the client here does no extra work), like the
 * Numato simulator is for pdudaemon.
 */
async function boardProcess(link: string): Promise<ChildProcess> {
  const simulator = `${process.execPath} ${join(root, 'dist/hardware/simulator-cli.js')} --stdio --telemetry 0`;
  const child = spawn('socat', [`pty,raw,echo=0,link=${link}`, `EXEC:${simulator}`], { stdio: 'ignore' });
  await waitForPath(link);
  return child;
}

/** The daemon as `npm start` runs it (compiled, its node flags), with `config` as its file. */
function daemonProcess(dir: string, name: string, flags: string[]): ChildProcess {
  return spawn(process.execPath, [...flags, join(root, 'dist/src/main.js')], {
    cwd: dir,
    env: { ...process.env, PIPDU_CONFIG: join(dir, `${name}.yaml`) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * bench/numato-sim.py behind a socat pty pair: the host opens `host`. Returns socat and
 * the simulator, to stop. pdudaemon and PiPDU's numato driver each get one of these.
 */
async function numatoModule(host: string, module: string): Promise<ChildProcess[]> {
  const socat = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${module}`], {
    stdio: 'ignore',
  });
  await Promise.all([waitForPath(host), waitForPath(module)]);
  const sim = spawn('/usr/bin/python3', [join(root, 'bench/numato-sim.py'), module, '16'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await firstLine(sim, 'the Numato simulator');
  return [socat, sim];
}

/**
 * Node's own floor: a bare http server with `npm start`'s flags that answers
 * pdudaemon's success text at once (no board, no PiPDU code), under the same load.
 */
async function startNodeFloor(children: ChildProcess[]): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const script = `require('node:http').createServer((q, r) => { r.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }); r.end('OK - accepted request\\n'); }).listen(${port}, '127.0.0.1');`;
  const child = spawn(process.execPath, [...(await startFlags()), '-e', script], { stdio: 'ignore' });
  children.push(child);
  await waitForHttp(port);
  return { url: `http://127.0.0.1:${port}`, pid: child.pid ?? 0 };
}

async function startPipdu(dir: string, children: ChildProcess[]): Promise<Served> {
  const flags = await startFlags();
  const [api, pdudaemon, apiB, pdudaemonB, apiC, pdudaemonC] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const pki = join(dir, 'pki');
  // A: the one measured (mutual-TLS API + pdudaemon listener). B: a second PDU whose
  // board goes offline, for the failure figures.
  const configs = {
    a: `version: 1
name: pipdu
log: { level: warn }
board: { driver: prp1, port: ${join(dir, 'board-a')}, switchSpacingMs: 0 }
api:
  listen: 127.0.0.1:${api}
  tls: { cert: ${join(pki, 'server.crt')}, key: ${join(pki, 'server.key')}, ca: ${join(pki, 'ca.crt')} }
  clients: { bench: admin }
  pdudaemon: { listen: 127.0.0.1:${pdudaemon}, allow: [127.0.0.1], role: admin }
state: { dir: ${join(dir, 'state-a')} }
`,
    b: `version: 1
name: pipdu-b
log: { level: warn }
board: { driver: prp1, port: ${join(dir, 'board-b')}, switchSpacingMs: 0 }
api:
  listen: 127.0.0.1:${apiB}
  loopbackRole: viewer
  pdudaemon: { listen: 127.0.0.1:${pdudaemonB}, allow: [127.0.0.1], role: admin }
state: { dir: ${join(dir, 'state-b')} }
`,
    c: `version: 1
name: pipdu-numato
log: { level: warn }
board: { driver: numato, port: ${join(dir, 'board-c')}, channels: 16, switchSpacingMs: 0 }
api:
  listen: 127.0.0.1:${apiC}
  loopbackRole: viewer
  pdudaemon: { listen: 127.0.0.1:${pdudaemonC}, allow: [127.0.0.1], role: admin }
state: { dir: ${join(dir, 'state-c')} }
`,
  };
  for (const [name, text] of Object.entries(configs)) await writeFile(join(dir, `${name}.yaml`), text);
  for (const name of ['a', 'b']) children.push(await boardProcess(join(dir, `board-${name}`)));
  children.push(...(await numatoModule(join(dir, 'board-c'), join(dir, 'module-c'))));
  const daemons = ['a', 'b', 'c'].map((name) => daemonProcess(dir, name, flags));
  children.push(...daemons);
  await Promise.all([waitForHttp(pdudaemon), waitForHttp(pdudaemonB), waitForHttp(pdudaemonC)]);
  return {
    pid: daemons[0]?.pid ?? 0,
    numatoPid: daemons[2]?.pid ?? 0,
    pdudaemonNumatoUrl: `http://127.0.0.1:${pdudaemonC}`,
    pdudaemonUrl: `http://127.0.0.1:${pdudaemon}`,
    pdudaemonBUrl: `http://127.0.0.1:${pdudaemonB}`,
    v1Url: `https://127.0.0.1:${api}`,
    metricsBUrl: `http://127.0.0.1:${apiB}/metrics`,
  };
}

/** Resolves once daemon B's metrics say its board is offline. */
async function waitForOffline(metricsUrl: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await fetch(metricsUrl).then((response) => response.text());
    if (/^pipdu_board_online(\{[^}]*\})? 0$/m.test(text)) return;
    if (Date.now() > deadline) throw new Error('daemon B did not report its board offline');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---------------------------------------------------------------- the client

interface Reply {
  status: number;
  ms: number;
}

interface Target {
  label: string;
  /** Path (and query) of request i, alternating on/off over sockets 1..16. */
  path: (i: number) => string;
  method: 'GET' | 'POST';
  base: string;
  /** false: a new connection each (pdudaemon's clients); else a keep-alive agent. */
  agent: HttpAgent | false;
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
}

function call(target: Target, path: string, timeoutMs = 60_000): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const url = new URL(path, target.base);
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make(
      url,
      { method: target.method, agent: target.agent, ...(target.tls ?? {}), timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const action = (i: number): 'on' | 'off' => (Math.floor(i / 16) % 2 === 0 ? 'on' : 'off');
const socket = (i: number): number => (i % 16) + 1;

function check(reply: Reply, what: string): void {
  if (reply.status !== 200) throw new Error(`${what}: status ${reply.status}`);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Figures {
  median: number;
  p99: number;
  burst: number;
  rps: number;
}

async function measure(target: Target): Promise<Figures> {
  for (let i = 0; i < 32; i++) check(await call(target, target.path(i)), `${target.label} warm-up`);
  // And 16 at once, so a keep-alive client has its 16 connections open before the burst (as
  // one that has been running does); clients that connect anew each time are unaffected.
  for (const reply of await Promise.all(Array.from({ length: 16 }, (_, i) => call(target, target.path(i)))))
    check(reply, `${target.label} warm-up`);
  const samples: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const reply = await call(target, target.path(i));
    check(reply, target.label);
    samples.push(reply.ms);
  }
  samples.sort((x, y) => x - y);
  const burstStart = performance.now();
  const burst = await Promise.all(Array.from({ length: 16 }, (_, i) => call(target, target.path(i + 16))));
  const burstMs = performance.now() - burstStart;
  for (const reply of burst) check(reply, `${target.label} burst`);
  let done = 0;
  let next = 0;
  const deadline = performance.now() + SUSTAIN_MS;
  const sustainStart = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < deadline) {
        check(await call(target, target.path(next++)), `${target.label} sustained`);
        done++;
      }
    }),
  );
  const rps = done / ((performance.now() - sustainStart) / 1000);
  return { median: pct(samples, 50), p99: pct(samples, 99), burst: burstMs, rps };
}

/** Status and time of a request, or null when it did not answer within the cap. */
async function capped(target: Target, path: string): Promise<Reply | null> {
  try {
    return await call(target, path, FAILURE_CAP_MS);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- processes

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const end = text.indexOf('\n');
      if (end === -1) return;
      child.stdout?.off('data', onData);
      resolve(text.slice(0, end));
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}

async function waitForHttp(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const probe: Target = { label: 'probe', path: () => '/', method: 'GET', base: '', agent: false };
  for (;;) {
    try {
      await call({ ...probe, base: `http://127.0.0.1:${port}` }, '/nothing', 1000);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`pdudaemon did not listen on ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

// ---------------------------------------------------------------- the run

const f = (ms: number) => `${ms.toFixed(2)} ms`.padStart(10);
const timed = (reply: Reply | null) =>
  reply ? `${reply.status} after ${reply.ms.toFixed(1)} ms` : `> ${FAILURE_CAP_MS / 1000} s (no answer)`;

export async function benchPdudaemonPeer(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-peer-'));
  const children: ChildProcess[] = [];
  const agents: HttpAgent[] = [];
  try {
    // PiPDU: the compiled daemon, as `npm start` runs it.
    await promisify(execFile)('sh', [join(root, 'scripts/make-certs.sh'), join(dir, 'pki'), 'bench']);
    const served = await startPipdu(dir, children);

    // pdudaemon: NumatoUSB16 "numato" over socat to the module simulator, "missing" on no device.
    const host = join(dir, 'host');
    children.push(...(await numatoModule(host, join(dir, 'module'))));
    const port = await freePort();
    const conf = join(dir, 'pdudaemon.conf');
    await writeFile(
      conf,
      JSON.stringify({
        daemon: { hostname: '127.0.0.1', port, logging_level: 'WARNING', listener: 'http' },
        pdus: {
          numato: { driver: 'NumatoUSB16', device: host },
          missing: { driver: 'NumatoUSB16', device: join(dir, 'no-such-tty') },
        },
      }),
    );
    let pdudaemonLog = '';
    const pdudaemon = spawn(PDUDAEMON, ['--conf', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(pdudaemon);
    pdudaemon.stdout?.on('data', (chunk: Buffer) => {
      pdudaemonLog += chunk.toString();
    });
    pdudaemon.stderr?.on('data', (chunk: Buffer) => {
      pdudaemonLog += chunk.toString();
    });
    await waitForHttp(port).catch((error: unknown) => {
      throw new Error(`${String(error)}\npdudaemon's output:\n${pdudaemonLog}`);
    });

    const certs = {
      ca: await readFile(join(dir, 'pki/ca.crt')),
      cert: await readFile(join(dir, 'pki/bench.crt')),
      key: await readFile(join(dir, 'pki/bench.key')),
    };
    const keepAlive = new HttpsAgent({ keepAlive: true, maxSockets: 16, ...certs });
    agents.push(keepAlive);
    const pd = (name: string) => (i: number) =>
      `/power/control/${action(i)}?hostname=${name}&port=${socket(i)}`;
    const peer: Target = {
      label: 'pdudaemon',
      path: pd('numato'),
      method: 'GET',
      base: `http://127.0.0.1:${port}`,
      agent: false,
    };
    const route: Target = {
      label: 'PiPDU pdudaemon route',
      path: pd('pipdu'),
      method: 'GET',
      base: served.pdudaemonUrl,
      agent: false,
    };
    const numatoRoute: Target = {
      label: 'PiPDU numato driver',
      path: pd('pipdu-numato'),
      method: 'GET',
      base: served.pdudaemonNumatoUrl,
      agent: false,
    };
    const v1: Target = {
      label: 'PiPDU v1',
      path: (i) => `/api/v1/sockets/${socket(i)}/${action(i)}`,
      method: 'POST',
      base: served.v1Url,
      agent: keepAlive,
      tls: certs,
    };

    const nodeFloor = await startNodeFloor(children);
    const floor: Target = {
      label: 'node floor (no PiPDU)',
      path: pd('pipdu'),
      method: 'GET',
      base: nodeFloor.url,
      agent: false,
    };

    const results: Array<[Target, Figures, { rss: number; peak: number }]> = [];
    for (const target of [peer, numatoRoute, route, v1, floor]) {
      const figures = await measure(target);
      const pid =
        target === peer
          ? (pdudaemon.pid ?? 0)
          : target === floor
            ? nodeFloor.pid
            : target === numatoRoute
              ? served.numatoPid
              : served.pid;
      results.push([target, figures, await residentMb(pid)]);
    }

    console.log(
      `pdudaemon peer (issue 6): after a warm-up (32 sequential, 16 at once), ${SEQUENTIAL} sequential requests alternating on/off over sockets 1-16, 16 at once, 16 connections for ${SUSTAIN_MS / 1000} s`,
    );
    console.log(
      '  pdudaemon: Debian /usr/sbin/pdudaemon, HTTP, NumatoUSB16 over socat pty to bench/numato-sim.py, a new connection each',
    );
    console.log(
      '  PiPDU: prp1 over socat pty to the PRP/1 simulator process, switchSpacingMs 0, answered after the board acked the SET;',
    );
    console.log(
      '         pdudaemon route = plain HTTP, a new connection each; v1 = HTTPS mutual TLS, keep-alive;',
    );
    console.log(
      '         numato driver = board for board with pdudaemon: the pdudaemon route of a daemon on the numato driver,',
    );
    console.log(
      '         16 channels, over socat pty to its own bench/numato-sim.py, answered once the module prompted',
    );
    console.log(
      `  ${'target'.padEnd(24)}${'median'.padStart(10)}${'p99'.padStart(10)}${'16 at once'.padStart(12)}${'req/s'.padStart(8)}${'RSS MB'.padStart(9)}${'peak MB'.padStart(9)}`,
    );
    for (const [target, fig, mem] of results) {
      console.log(
        `  ${target.label.padEnd(24)}${f(fig.median)}${f(fig.p99)}${f(fig.burst).padStart(12)}${fig.rps.toFixed(0).padStart(8)}${mem.rss.toFixed(1).padStart(9)}${mem.peak.toFixed(1).padStart(9)}`,
      );
    }
    console.log(
      '  (RSS: pdudaemon = its python process, 2 PDUs configured; PiPDU = daemon A as `npm start` runs it (compiled, its',
    );
    console.log(
      '   node flags) with the HTTPS API and the pdudaemon listener, Discord off; the simulators are separate processes;',
    );
    console.log(
      "   node floor = a bare node http server with the same flags that answers pdudaemon's text at once: no board, no PiPDU)",
    );

    // Failures. PiPDU: a bad socket on A and a request on B's offline board, each with a
    // good request to A sent alongside.
    const good = (target: Target, i: number) => call(target, target.path(i), FAILURE_CAP_MS);
    const [badSocket, goodBesideBad] = await Promise.all([
      capped(route, '/power/control/on?hostname=pipdu&port=99'),
      good(route, 1),
    ]);
    const [badV1, goodBesideBadV1] = await Promise.all([capped(v1, '/api/v1/sockets/99/on'), good(v1, 2)]);
    await stopChild(children[1]); // board B's simulator: its daemon loses the board
    await waitForOffline(served.metricsBUrl);
    const routeB: Target = { ...route, base: served.pdudaemonBUrl };
    const [offline, goodBesideOffline] = await Promise.all([
      capped(routeB, '/power/control/on?hostname=pipdu-b&port=3'),
      good(route, 3),
    ]);
    // pdudaemon: a bad port on "numato", a good request to "numato" 100 ms later, and the
    // missing device, all at once, each capped.
    const [peerBad, peerGood, peerMissing] = await Promise.all([
      capped(peer, '/power/control/on?hostname=numato&port=99'),
      new Promise((resolve) => setTimeout(resolve, 100)).then(() =>
        capped(peer, '/power/control/on?hostname=numato&port=4'),
      ),
      capped(peer, '/power/control/on?hostname=missing&port=1'),
    ]);
    console.log(`  failures (cap ${FAILURE_CAP_MS / 1000} s):`);
    console.log(
      `    PiPDU pdudaemon route, port=99:    ${timed(badSocket)}; good request beside it ${timed(goodBesideBad)}`,
    );
    console.log(
      `    PiPDU v1, socket 99:               ${timed(badV1)}; good request beside it ${timed(goodBesideBadV1)}`,
    );
    console.log(
      `    PiPDU, PDU whose board is offline: ${timed(offline)}; good request to the other PDU ${timed(goodBesideOffline)}`,
    );
    console.log(
      `    pdudaemon, port=99:                ${timed(peerBad)}; good request to that PDU 100 ms later ${timed(peerGood)}`,
    );
    console.log(`    pdudaemon, missing device:         ${timed(peerMissing)}\n`);
  } finally {
    for (const agent of agents) agent.destroy();
    for (const child of children.reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchPdudaemonPeer().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
