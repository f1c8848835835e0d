// The daemon and the Discord bot for bench/discord.ts, in their own process so
// that its memory is the daemon's alone (the fake Discord and the simulator run
// in the bench process). Wired as src/main.ts wires them, plus the client option
// a benchmark needs: discord.js's global 50 requests/s REST limit raised (a burst of
// edits would otherwise stall for about a second), which main.ts does not pass.
//
//   node --expose-gc --import tsx bench/discord-daemon.ts <config.yaml>   (DISCORD_TOKEN in the env)
//
// stdout: lines starting with `BENCH ` are for the bench (JSON after the prefix);
// anything else is the daemon's own log. stdin: a line `rss` answers with the
// memory figures; closing stdin stops the daemon.
import { createInterface } from 'node:readline';
import { DiscordBot } from '../src/bot/bot.js';
import { loadConfigFile } from '../src/config/load.js';
import { createDaemon } from '../src/daemon.js';
import { createLogger } from '../src/log.js';
import { createReloader } from '../src/reload.js';

function say(message: Record<string, unknown>): void {
  process.stdout.write(`BENCH ${JSON.stringify(message)}\n`);
}

const MB = 1024 * 1024;

function memory(): Record<string, number> {
  const before = process.memoryUsage();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const after = process.memoryUsage();
  return {
    rssMb: before.rss / MB,
    rssAfterGcMb: gc ? after.rss / MB : Number.NaN,
    heapUsedMb: before.heapUsed / MB,
    heapUsedAfterGcMb: gc ? after.heapUsed / MB : Number.NaN,
    heapTotalMb: after.heapTotal / MB,
    externalMb: after.external / MB,
    arrayBuffersMb: after.arrayBuffers / MB,
  };
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const token = process.env.DISCORD_TOKEN;
  if (!file || !token) throw new Error('usage: DISCORD_TOKEN=... discord-daemon.ts <config.yaml>');
  const config = await loadConfigFile(file);
  if (!config.discord) throw new Error(`${file} has no discord section`);
  const logger = createLogger(config.log.level);
  const daemon = await createDaemon(config, { logger });
  const online = new Promise((resolve) => daemon.service.events.once('boardOnline', resolve));
  await daemon.start();
  await online;
  const bot = new DiscordBot({
    config: config.discord,
    service: daemon.service,
    token,
    logger,
    reload: createReloader({ service: daemon.service, file, logger }),
    clientOptions: { rest: { globalRequestsPerSecond: 100_000 } },
  });
  if (!(await bot.start())) throw new Error('the bot did not log in');

  // The API too, when configured: the bench opens dashboards' event streams on it.
  let api: { stop(): Promise<void> } | null = null;
  let apiUrl: string | null = null;
  if (config.api) {
    const { ApiServer } = await import('../src/api/server.js');
    const server = new ApiServer({ config: config.api, service: daemon.service, logger });
    apiUrl = (await server.start()).url;
    api = server;
  }

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await api?.stop();
    await bot.stop();
    await daemon.stop();
    process.exit(0);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'rss') say({ memory: memory() });
    else if (line.trim() === 'stop') void stop();
  });
  lines.on('close', () => void stop());
  say({ ready: true, pid: process.pid, api: apiUrl });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench daemon failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
