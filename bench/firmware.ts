// Issue 7's benchmark: the board firmware's flash and RAM use (avr-size) and its reply
// times in simulated time, measured on the real ELF in the emulator (firmware/build/pipdu-sim)
// while the current sampling runs, through a real serialport client on the runner's pty.
// Targets: first reply byte within 5 ms of simulated time after the request's last byte;
// RAM under half of the Mega's 8 KB.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { SerialPort } from 'serialport';
import { buildFirmware, elfPath, replyTimings, startFirmware } from '../test/helpers/firmware-process.js';

const REQUESTS = Number(process.env.BENCH_FIRMWARE_REQUESTS ?? 2000);
const MEGA_FLASH = 256 * 1024;
const MEGA_RAM = 8 * 1024;

/** .text + .data go to flash; .data + .bss are RAM taken before the stack (avr-size -A). */
async function sizes(): Promise<{ flash: number; ram: number }> {
  const { stdout } = await promisify(execFile)('avr-size', ['-A', elfPath]);
  const section = (name: string) => Number(new RegExp(`^\\${name}\\s+(\\d+)`, 'm').exec(stdout)?.[1] ?? 0);
  return { flash: section('.text') + section('.data'), ram: section('.data') + section('.bss') };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export async function benchFirmware(): Promise<void> {
  await buildFirmware();
  const size = await sizes();
  const dir = await mkdtemp(join(tmpdir(), 'pipdu-bench-fw-'));
  const runner = await startFirmware({
    path: join(dir, 'board'),
    args: ['--eeprom', join(dir, 'eeprom.bin')],
  });
  const port = new SerialPort({ path: runner.path, baudRate: 115200, hupcl: false, autoOpen: false });
  try {
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    await runner.waitFor(
      (event) => event.event === 'output' && String(event.line).startsWith('! BOOT'),
      10_000,
      0,
    );
    let buffer = '';
    let waiting: { id: string; resolve: () => void } | null = null;
    port.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (waiting && line.startsWith(`${waiting.id} `)) waiting.resolve();
      }
    });
    const request = (id: number, text: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${id} ${text}`)), 5000);
        waiting = {
          id: String(id),
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        port.write(`${id} ${text}\n`);
      });
    // Alternate SETs over all channels with CURRENT; `! CURRENT` telemetry goes out meanwhile.
    for (let i = 0; i < REQUESTS; i++) {
      const id = (i % 65535) + 1;
      await request(id, i % 4 === 3 ? 'CURRENT' : `SET ${i % 16} ${(i >> 4) & 1}`);
    }
    const timings = replyTimings(runner.events);
    const verb = (line: string) => line.split(' ')[1];
    const report = (name: string) => {
      const mine = timings.filter((timing) => verb(timing.request) === name);
      const own = mine.map((timing) => timing.latencyUs / 1000).sort((a, b) => a - b);
      const raw = mine.map((timing) => (timing.firstByteUs - timing.requestUs) / 1000).sort((a, b) => a - b);
      const held = mine.filter((timing) => timing.heldByEventUs > 0).length;
      return `  ${name.padEnd(8)} ${String(mine.length).padStart(5)} replies: first byte after the request median ${pct(own, 50).toFixed(2)} ms, p99 ${pct(own, 99).toFixed(2)} ms, worst ${pct(own, 100).toFixed(2)} ms; worst ${pct(raw, 100).toFixed(2)} ms counting ${held} that waited for a \`! CURRENT\` already on the wire`;
    };
    const telemetry = runner.events.filter(
      (event) => event.event === 'output' && String(event.line).startsWith('! CURRENT'),
    ).length;
    console.log(
      'firmware (issue 7): avr-size of build/pipdu-firmware.elf, and reply times in simulated time',
    );
    console.log(
      `  flash ${size.flash} bytes (${((100 * size.flash) / MEGA_FLASH).toFixed(1)} % of 256 KB); RAM ${size.ram} bytes static (${((100 * size.ram) / MEGA_RAM).toFixed(1)} % of 8 KB; target < 50 %)`,
    );
    console.log(report('SET'));
    console.log(report('CURRENT'));
    console.log(
      `  (target: first reply byte ≤ 5 ms after the request's last byte; ${telemetry} \`! CURRENT\` lines went out meanwhile, sampling ran throughout)\n`,
    );
  } finally {
    if (port.isOpen) await new Promise((resolve) => port.close(resolve));
    await runner.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchFirmware().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
