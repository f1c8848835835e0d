import type { DiscordBot } from './bot/bot.js';
import { ConfigError, loadConfig, loadConfigFile } from './config/load.js';
import type { FrontPanel } from './controller/panel.js';
import { createDaemon, type Daemon } from './daemon.js';
import { PduError } from './errors.js';
import { createLogger } from './log.js';

/** `npm start`: load the config (a bad one stops us before any port is opened), run until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.format()}\nPiPDU did not start: fix the configuration above.\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, file } = loaded;
  const logger = createLogger(config.log.level);
  if (file === null) {
    logger.info(
      'no configuration file: running on the built-in board simulator. To drive a real board, copy ' +
        'config/pipdu.example.yaml to config/pipdu.yaml (or set PIPDU_CONFIG) and set board.driver and board.port',
    );
  } else {
    logger.info({ file, driver: config.board.driver, port: config.board.port }, 'configuration loaded');
  }

  // Signals are handled from here on: one arriving while we start waits for
  // the start to finish, then stops as usual.
  let starting: Promise<Daemon> | null = null;
  let bot: DiscordBot | null = null;
  let panel: FrontPanel | null = null;

  /** The Discord bot runs when the config has a discord section and DISCORD_TOKEN is set; it never stops the rest. */
  const startBot = async (daemon: Daemon): Promise<DiscordBot | null> => {
    if (!config.discord) return null;
    const token = process.env.DISCORD_TOKEN;
    if (!token) {
      logger.warn('the config has a discord section but DISCORD_TOKEN is not set: the Discord bot is off');
      return null;
    }
    // discord.js is loaded only for a daemon that runs the bot: the others keep its memory.
    const { DiscordBot } = await import('./bot/bot.js');
    const discord = new DiscordBot({
      config: config.discord,
      service: daemon.service,
      token,
      logger,
      reload: async () => {
        if (file === null)
          throw new PduError(
            'BAD_CONFIG',
            'there is no configuration file to reload (running on built-in defaults)',
          );
        const next = await loadConfigFile(file);
        const summary = daemon.service.reconfigure(next);
        if (next.discord) discord.updateConfig(next.discord);
        return summary;
      },
    });
    // Logging in runs beside everything else: a slow or unreachable Discord holds nothing up.
    void discord.start();
    return discord;
  };
  /**
   * The front panel runs when the config has a controller section. Where
   * there is no GPIO (not a Pi, no permission, no chip found) it warns once
   * and the daemon runs on without it.
   */
  const startPanel = async (daemon: Daemon): Promise<FrontPanel | null> => {
    if (!config.controller) return null;
    try {
      const [{ findGpioChipBase }, { createOnoffGpio }, { FrontPanel }] = await Promise.all([
        import('../hardware/gpio-chip-base.js'),
        import('../hardware/gpio-onoff.js'),
        import('./controller/panel.js'),
      ]);
      const chipBase = await findGpioChipBase({ override: config.controller.gpioChipBase });
      const gpio = createOnoffGpio({ chipBase });
      const front = new FrontPanel({ config: config.controller, service: daemon.service, gpio, logger });
      front.start();
      return front;
    } catch (error) {
      logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'the config has a controller section but there is no usable GPIO here: running without the front panel',
      );
      return null;
    }
  };

  /**
   * The HTTPS API (with /metrics and pdudaemon's route) runs when the config
   * has an api section, and the plain pdudaemon listener when it has
   * api.pdudaemon. A listener that cannot start is an error in the log; the
   * rest of the daemon runs on.
   */
  const startApi = async (daemon: Daemon): Promise<Array<{ stop(): Promise<void> | void }>> => {
    if (!config.api) return [];
    const running: Array<{ stop(): Promise<void> | void }> = [];
    const [{ ApiServer }, { PduMetrics }, { PdudaemonListener }] = await Promise.all([
      import('./api/server.js'),
      import('./api/metrics.js'),
      import('./api/pdudaemon.js'),
    ]);
    const metrics = new PduMetrics({ service: daemon.service, pduName: config.name });
    metrics.start();
    running.push(metrics);
    try {
      const api = new ApiServer({
        config: config.api,
        service: daemon.service,
        logger,
        pduName: config.name,
        metrics,
      });
      const { url } = await api.start();
      running.push(api);
      logger.info({ url }, 'HTTPS API listening');
    } catch (error) {
      logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        'the API could not start',
      );
    }
    if (config.api.pdudaemon) {
      try {
        const pdudaemon = new PdudaemonListener({
          config: config.api.pdudaemon,
          service: daemon.service,
          pduName: config.name,
          logger,
        });
        await pdudaemon.start();
        running.push(pdudaemon);
      } catch (error) {
        logger.error(
          { err: error instanceof Error ? error.message : String(error) },
          'the pdudaemon listener could not start',
        );
      }
    }
    return running;
  };
  let listeners: Array<{ stop(): Promise<void> | void }> = [];

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
        for (const listener of listeners.reverse()) await listener.stop();
        panel?.stop();
        await bot?.stop();
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

  starting = createDaemon(config, { logger }).then(async (daemon) => {
    await daemon.start();
    return daemon;
  });
  const daemon = await starting;
  if (stopping) return;
  bot = await startBot(daemon);
  panel = await startPanel(daemon);
  listeners = await startApi(daemon);
  if (panel && bot) {
    // The status LED blinks slowly while Discord is down.
    const front = panel;
    front.setDiscordConnected(false);
    bot.client.on('clientReady', () => front.setDiscordConnected(true));
    bot.client.on('shardResume', () => front.setDiscordConnected(true));
    bot.client.on('shardDisconnect', () => front.setDiscordConnected(false));
  }
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
