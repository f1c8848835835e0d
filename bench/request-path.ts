// The request path's own cost: a request handed to the service → its SET line
// at the board, with the in-process simulator (no serial link, no process hop),
// so what is measured is PiPDU's code: the lane, the checks, the driver's framing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryTransport } from '../hardware/memory-transport.js';
import { Prp1Board } from '../hardware/prp1-board.js';
import { SimulatedBoard } from '../hardware/simulated-board.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { parseConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import type { Requester } from '../src/pdu/actor.js';
import { PduService } from '../src/pdu/pdu-service.js';
import { StateStore } from '../src/state/state-store.js';

const REQUESTS = Number(process.env.BENCH_REQUEST_PATH ?? 2000);
const WARM_UP = 200;

export async function benchRequestPath(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-request-'));
  const logger = silentLogger();
  const config = parseConfig(
    `version: 1\nboard: { driver: simulator, switchSpacingMs: 0 }\nstate: { dir: ${dir} }\n`,
    'bench.yaml',
  );
  const sim = new SimulatedBoard({ telemetryIntervalMs: 500 });
  sim.start();
  const board = new Prp1Board({
    transport: new MemoryTransport({ device: sim, description: 'bench' }),
    logger,
    driver: 'simulator',
    warnResetOnOpen: false,
  });
  const service = new PduService({
    config,
    board,
    store: new StateStore({ dir, logger }),
    audit: new AuditLog({ dir, maxBytes: 100_000_000, logger }),
    logger,
  });
  const online = new Promise((resolve) => service.events.once('boardOnline', resolve));
  await service.start();
  await online;
  const by: Requester = {
    actor: { kind: 'cli', id: 'bench' },
    role: 'operator',
    groups: [],
    confirms: false,
  };
  let sentAt = 0;
  let arrived: (() => void) | null = null;
  sim.on('request', (line: string) => {
    if (/ SET /.test(line)) arrived?.();
  });
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS + WARM_UP; i++) {
    const atBoard = new Promise<number>((resolve) => {
      arrived = () => resolve(performance.now() - sentAt);
    });
    sentAt = performance.now();
    const done = service.submit({ socket: (i % 16) + 1, action: 'toggle', by });
    const ms = await atBoard;
    await done;
    if (i >= WARM_UP) samples.push(ms);
  }
  await service.stop();
  sim.stop();
  await rm(dir, { recursive: true, force: true });
  samples.sort((a, b) => a - b);
  const at = (p: number) =>
    samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)] ?? Number.NaN;
  console.log(
    `request path: a toggle handed to the service → its SET at the board (in-process simulator), ${REQUESTS} requests:`,
  );
  console.log(`  median ${at(50).toFixed(3)} ms  p99 ${at(99).toFixed(3)} ms\n`);
}
