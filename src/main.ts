import path from 'node:path';
import type { ApiServer } from './api/server.js';
import { ConfigError } from './config/config-error.js';
import { loadConfigIsolated } from './config/load-isolated.js';
import type { ApiConfig, PduConfig } from './config/schema.js';
import { checkStateDir } from './config/state-dir.js';
import { createDaemon, type Daemon } from './daemon.js';
import { isPduError } from './errors.js';
import { type Interfaces, startInterfaces } from './interfaces.js';
import { createLogger } from './log.js';

/**
 * The exit status of a start that cannot succeed as configured (config,
 * state directory): EX_CONFIG. The systemd unit names it in
 * RestartPreventExitStatus, so such a start is not retried for ever.
 */
const EXIT_CONFIG = 78;

/** Says why in one line (no stack: it is the configuration, not a bug) and exits EXIT_CONFIG. */
function refuseToStart(message: string): never {
  process.stderr.write(`${message}\nPiPDU did not start.\n`);
  process.exit(EXIT_CONFIG);
}

/**
 * Where the local control socket listens: api.socket, else under systemd
 * $RUNTIME_DIRECTORY/pipdu.sock, else nowhere (a checkout uses the loopback API).
 */
function localSocketPath(config: PduConfig): string | null {
  const configured = config.api?.socket;
  if (configured === false) return null;
  if (configured !== undefined) return configured;
  const runtime = process.env.RUNTIME_DIRECTORY?.split(':')[0];
  return runtime ? path.join(runtime, 'pipdu.sock') : null;
}

/** `npm start`: load the config (a bad one stops us before any port is opened), run until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let loaded: Awaited<ReturnType<typeof loadConfigIsolated>>;
  try {
    // In a child process: the validator's memory is not kept for the daemon's lifetime.
    loaded = await loadConfigIsolated();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.format()}\nPiPDU did not start: fix the configuration above.\n`);
      process.exit(EXIT_CONFIG);
    }
    // A missing or unreadable file, a loader that failed: one line, no stack.
    if (isPduError(error)) refuseToStart(error.message);
    throw error;
  }
  const { config, file } = loaded;
  const logger = createLogger(config.log.level);
  if (file === null) {
    logger.info(
      'no configuration file: running on the built-in board simulator, with the API on ' +
        `http://${config.api?.listen} (try \`npm run pipdu -- status\` and \`npm run pipdu -- on 3\`). To drive a real board, copy ` +
        'config/pipdu.example.yaml to config/pipdu.yaml (or set PIPDU_CONFIG) and set board.driver and board.port',
    );
  } else {
    logger.info({ file, driver: config.board.driver, port: config.board.port }, 'configuration loaded');
  }

  try {
    await checkStateDir(config.state.dir);
  } catch (error) {
    if (isPduError(error)) refuseToStart(error.message);
    throw error;
  }

  // Signals are handled from here on: one arriving while we start waits for
  // the start to finish, then stops as usual.
  let starting: Promise<Daemon> | null = null;
  let interfaces: Interfaces | null = null;
  let local: ApiServer | null = null;

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
        await local?.stop();
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
  local = await startLocalSocket(config, daemon, logger);
  // "Running" once what the first contact started (restores after a reset) has settled.
  await daemon.service.settled();
  const status = daemon.service.status();
  const on = status.sockets.filter((socket) => socket.on).map((socket) => socket.name ?? socket.number);
  logger.info(
    { online: status.board.online, on },
    `PiPDU "${config.name}" running: ${status.board.online ? `${on.length} of 16 sockets on` : 'waiting for the board'}`,
  );
}

/** The local control socket (the Pi's own `pipdu`); one that cannot start is logged and the daemon runs on. */
async function startLocalSocket(
  config: PduConfig,
  daemon: Daemon,
  logger: ReturnType<typeof createLogger>,
): Promise<ApiServer | null> {
  const socketPath = localSocketPath(config);
  if (socketPath === null) return null;
  const { ApiServer } = await import('./api/server.js');
  // Without an api section: the defaults (local callers are admins).
  const api = config.api ?? ({ listen: '127.0.0.1:0', clients: {}, loopbackRole: 'admin' } as ApiConfig);
  const server = new ApiServer({
    config: api,
    service: daemon.service,
    logger,
    reload: (by) => daemon.reload(by),
    socketPath,
    energy: daemon.energy,
  });
  try {
    await server.start();
    return server;
  } catch (error) {
    logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      'the local control socket could not start',
    );
    return null;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `PiPDU failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
