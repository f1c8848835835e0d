// Pipeline overhead: an off with three steps, minus the steps' own time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { createDaemon } from '../src/daemon.js';
import { silentLogger } from '../src/log.js';
import { requests } from '../test/helpers/requests.js';

const RUNS = Number(process.env.BENCH_PIPELINE_RUNS ?? 60);

export async function benchPipeline(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-pipeline-'));
  const config = parseConfig(
    `version: 1
board: { driver: simulator, switchSpacingMs: 0 }
state: { dir: ${dir} }
sockets:
  - number: 1
    preOff:
      - delay: 5ms
      - exec: { argv: [/bin/true] }
      - delay: 5ms
`,
    'bench.yaml',
  );
  const daemon = await createDaemon(config, { logger: silentLogger() });
  const online = new Promise((resolve) => daemon.service.events.once('boardOnline', resolve));
  await daemon.start();
  await online;
  const actor = { kind: 'cli', id: 'bench' } as const;
  const overheads: number[] = [];
  const totals: number[] = [];
  for (let i = 0; i < RUNS + 10; i++) {
    await requests(daemon.service).on(1, actor);
    const started = performance.now();
    const result = await requests(daemon.service).off(1, actor);
    const total = performance.now() - started;
    const stepTime = result.steps.reduce((sum, step) => sum + (step.durationMs ?? 0), 0);
    if (i < 10) continue; // warm-up
    totals.push(total);
    overheads.push(total - stepTime);
  }
  await daemon.stop();
  await rm(dir, { recursive: true, force: true });
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  console.log(`hook pipeline: off with three steps (delay 5ms, exec /bin/true, delay 5ms), ${RUNS} runs:`);
  console.log(
    `  total median ${median(totals).toFixed(2)} ms; overhead (total minus the steps' own time) median ${median(overheads).toFixed(2)} ms  (target <= 5 ms)\n`,
  );
}
