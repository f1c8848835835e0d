import type { DiscordBot } from './bot/bot.js';
import type { PduConfig } from './config/schema.js';
import type { FrontPanel } from './controller/panel.js';
import type { Daemon } from './daemon.js';
import type { Logger } from './log.js';

/** What the interfaces need from start-up: the config, the file it came from, the logger. */
export interface Setup {
  config: PduConfig;
  file: string | null;
  logger: Logger;
}

interface Stoppable {
  stop(): Promise<void> | void;
}

/** The interfaces that run beside the service; `stop()` stops them in reverse order. */
export interface Interfaces {
  stop(): Promise<void>;
}

/**
 * Starts the configured interfaces on a running daemon: the Discord bot, the
 * front panel, the HTTPS API, the pdudaemon listener and the MQTT bridge.
 * Each one's modules are loaded only when it is configured (memory), and none
 * of them failing stops the daemon: it says why and runs on without it.
 */
export async function startInterfaces(setup: Setup, daemon: Daemon): Promise<Interfaces> {
  const bot = await startBot(setup, daemon);
  const alerts = bot ? await startAlerts(setup, daemon, bot) : null;
  const panel = await startPanel(setup, daemon);
  const listeners = await startApi(setup, daemon);
  const mqtt = await startMqtt(setup, daemon);
  if (panel && bot) {
    // The status LED blinks slowly while Discord is down.
    panel.setDiscordConnected(false);
    bot.client.on('clientReady', () => panel.setDiscordConnected(true));
    bot.client.on('shardResume', () => panel.setDiscordConnected(true));
    bot.client.on('shardDisconnect', () => panel.setDiscordConnected(false));
  }
  return {
    async stop() {
      await mqtt?.stop();
      for (const listener of listeners.reverse()) await listener.stop();
      panel?.stop();
      await alerts?.stop();
      await bot?.stop();
    },
  };
}

/** The Discord bot runs when the config has a discord section and DISCORD_TOKEN is set; it never stops the rest. */
async function startBot(setup: Setup, daemon: Daemon): Promise<DiscordBot | null> {
  const { config, logger } = setup;
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
    reload: (by) => daemon.reload(by),
    energy: daemon.energy,
  });
  // Logging in runs beside everything else: a slow or unreachable Discord holds nothing up.
  void discord.start();
  return discord;
}
/** Alarms are posted to `discord.alertChannelId` (through the bot's client) when it is set. */
async function startAlerts(setup: Setup, daemon: Daemon, bot: DiscordBot): Promise<Stoppable | null> {
  const discord = setup.config.discord;
  if (!discord?.alertChannelId) return null;
  const { AlertChannel } = await import('./bot/alert-channel.js');
  const alerts = new AlertChannel({
    client: bot.client,
    channelId: discord.alertChannelId,
    roleIds: discord.alertRoleIds,
    events: daemon.service.events,
    logger: setup.logger,
    link: () => bot.statusLink(),
  });
  alerts.start();
  return alerts;
}

/**
 * The front panel runs when the config has a controller section. Where
 * there is no GPIO (not a Pi, no permission, no chip found) it warns once
 * and the daemon runs on without it.
 */
async function startPanel(setup: Setup, daemon: Daemon): Promise<FrontPanel | null> {
  const { config, logger } = setup;
  if (!config.controller) return null;
  try {
    const [{ findGpioChipBase }, { createOnoffGpio }, { FrontPanel }] = await Promise.all([
      import('../hardware/gpio-chip-base.js'),
      import('../hardware/gpio-onoff.js'),
      import('./controller/panel.js'),
    ]);
    const chipBase = await findGpioChipBase({ override: config.controller.gpioChipBase });
    const gpio = createOnoffGpio({ chipBase });
    const front = new FrontPanel({
      config: config.controller,
      service: daemon.service,
      gpio,
      logger,
      energy: daemon.energy,
    });
    front.start();
    return front;
  } catch (error) {
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      'the config has a controller section but there is no usable GPIO here: running without the front panel',
    );
    return null;
  }
}

/**
 * The HTTPS API (with /metrics and pdudaemon's route) runs when the config
 * has an api section, and the plain pdudaemon listener when it has
 * api.pdudaemon. A listener that cannot start is an error in the log; the
 * rest of the daemon runs on.
 */
async function startApi(setup: Setup, daemon: Daemon): Promise<Stoppable[]> {
  const { config, logger } = setup;
  if (!config.api) return [];
  const running: Stoppable[] = [];
  const [{ ApiServer }, { PduMetrics }, { PdudaemonListener }] = await Promise.all([
    import('./api/server.js'),
    import('./api/metrics.js'),
    import('./api/pdudaemon.js'),
  ]);
  const metrics = new PduMetrics({ service: daemon.service, energy: daemon.energy });
  metrics.start();
  running.push(metrics);
  try {
    const api = new ApiServer({
      config: config.api,
      service: daemon.service,
      logger,
      reload: (by) => daemon.reload(by),
      metrics,
      energy: daemon.energy,
    });
    await api.start(); // it logs where it listens, and whether with mutual TLS
    running.push(api);
  } catch (error) {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'the API could not start');
  }
  if (config.api.pdudaemon) {
    try {
      const pdudaemon = new PdudaemonListener({
        config: config.api.pdudaemon,
        service: daemon.service,
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
}

/**
 * The MQTT bridge (Home Assistant) runs when the config has an mqtt section.
 * It connects in the background: an unreachable broker, refused
 * credentials or a missing password variable never stop the daemon.
 */
async function startMqtt(setup: Setup, daemon: Daemon): Promise<Stoppable | null> {
  const { config, logger } = setup;
  if (!config.mqtt) return null;
  try {
    // mqtt.js is loaded only for a daemon that runs MQTT (memory).
    const { MqttBridge } = await import('./mqtt/mqtt-bridge.js');
    const bridge = new MqttBridge({ service: daemon.service, logger, energy: daemon.energy });
    await bridge.start();
    return bridge;
  } catch (error) {
    logger.error(
      { err: error instanceof Error ? error.message : String(error) },
      'MQTT could not start: running without it',
    );
    return null;
  }
}
