import { ConfigError } from './config/config-error.js';
import { loadConfigIsolated } from './config/load-isolated.js';
import { createDaemon, type Daemon } from './daemon.js';
import { isPduError } from './errors.js';
import { type Interfaces, startInterfaces } from './interfaces.js';
import { createLogger } from './log.js';

/** `npm start`: load the config (a bad one stops us before any port is opened), run until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let loaded: Awaited<ReturnType<typeof loadConfigIsolated>>;
  try {
    // In a child process: the validator's memory is not kept for the daemon's lifetime.
    loaded = await loadConfigIsolated();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.format()}\nPiPDU did not start: fix the configuration above.\n`);
      process.exit(1);
    }
    // A missing or unreadable file, a loader that failed: one line, no stack.
    if (isPduError(error)) {
      process.stderr.write(`${error.message}\nPiPDU did not start.\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, file } = loaded;
  const logger = createLogger(config.log.level);
  if (file === null) {
    logger.info(
      'no configuration file: running on the built-in board simulator, with the API on ' +
        `http://${config.api?.listen} (try \`npx pipdu status\` and \`npx pipdu on 3\`). To drive a real board, copy ` +
        'config/pipdu.example.yaml to config/pipdu.yaml (or set PIPDU_CONFIG) and set board.driver and board.port',
    );
  } else {
    logger.info({ file, driver: config.board.driver, port: config.board.port }, 'configuration loaded');
  }

  // Signals are handled from here on: one arriving while we start waits for
  // the start to finish, then stops as usual.
  let starting: Promise<Daemon> | null = null;
  let interfaces: Interfaces | null = null;

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${signal}: finishing the work in flight, then closing the board port (nothing is switched)`);
    (starting ?? Promise.resolve(null))
      .then(async (daemon) => {
        await interfaces?.stop();
        await daemon?.stop();
      })
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'error while stopping');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  starting = createDaemon(config, { logger, file }).then(async (daemon) => {
    await daemon.start();
    return daemon;
  });
  const daemon = await starting;
  if (stopping) return;
  // SIGHUP re-reads the configuration, as `/pdu reload`, `pipdu reload` and POST /api/v1/reload do.
  process.on('SIGHUP', () => {
    daemon
      .reload({ actor: { kind: 'system', id: 'SIGHUP' }, role: 'admin', groups: [], confirms: false })
      .catch(() => {
        // The daemon logged why, and changed nothing.
      });
  });
  interfaces = await startInterfaces({ config, file, logger }, daemon);
  // "Running" once what the first contact started (restores after a reset) has settled.
  await daemon.service.settled();
  const status = daemon.service.status();
  const on = status.sockets.filter((socket) => socket.on).map((socket) => socket.name ?? socket.number);
  logger.info(
    { online: status.board.online, on },
    `PiPDU "${config.name}" running: ${status.board.online ? `${on.length} of 16 sockets on` : 'waiting for the board'}`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `PiPDU failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
