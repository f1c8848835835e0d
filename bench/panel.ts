// Front panel: a (fake) button edge → the SET at the board behind a socat pty.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRelayBoard } from '../hardware/index.js';
import { AuditLog } from '../src/audit/audit-log.js';
import { parseConfig } from '../src/config/load.js';
import { FrontPanel } from '../src/controller/panel.js';
import { silentLogger } from '../src/log.js';
import { PduService } from '../src/pdu/pdu-service.js';
import { StateStore } from '../src/state/state-store.js';
import { FakeGpio } from '../test/helpers/fake-gpio.js';
import { startSimulator } from '../test/helpers/simulator-process.js';
import { benchPanelMatrix } from './panel-matrix.js';

const PRESSES = Number(process.env.BENCH_PANEL_PRESSES ?? 1000);
const BUTTON = 17;

export async function benchPanel(): Promise<void> {
  const sim = await startSimulator({ args: ['--telemetry', '0'] });
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-panel-'));
  const logger = silentLogger();
  const config = parseConfig(
    `version: 1
board: { driver: prp1, port: ${sim.path}, switchSpacingMs: 0 }
state: { dir: ${dir} }
controller: { buttons: [${BUTTON}], leds: [5], debounce: 0ms, shortPress: toggle }
`,
    'bench.yaml',
  );
  const service = new PduService({
    config,
    board: createRelayBoard(config.board, { logger }),
    store: new StateStore({ dir, logger }),
    audit: new AuditLog({ dir, maxBytes: 100_000_000, logger }),
    logger,
  });
  const online = new Promise((resolve) => service.events.once('boardOnline', resolve));
  await service.start();
  await online;
  const gpio = new FakeGpio();
  const panel = new FrontPanel({ config: config.controller!, service, gpio, logger });
  panel.start();
  const samples: number[] = [];
  try {
    for (let i = 0; i < PRESSES + 50; i++) {
      const since = sim.events.length;
      gpio.press(BUTTON);
      const edge = performance.now();
      gpio.release(BUTTON); // a short press acts on release
      await sim.waitFor(
        (event) => event.event === 'request' && / SET 0 [01]$/.test(String(event.line)),
        5000,
        since,
      );
      const took = performance.now() - edge;
      // The next press once the toggle is done (its pending cleared), as a person would.
      while (service.info(1).pending) await new Promise((resolve) => service.events.once('pending', resolve));
      if (i >= 50) samples.push(took);
    }
  } finally {
    panel.stop();
    await service.stop();
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  console.log(
    `front panel: button edge → SET at the board (prp1 over a socat pty, debounce 0, shortPress toggle), ${PRESSES} presses:`,
  );
  console.log(
    `  median ${at(50).toFixed(2)} ms  p99 ${at(99).toFixed(2)} ms  max ${sorted.at(-1)?.toFixed(2)} ms  (target p99 <= 5 ms; as seen through the simulator's stdout)\n`,
  );
  await benchPanelMatrix();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchPanel().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
