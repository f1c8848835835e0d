import { ConfigError } from './config/config-error.js';
import { loadConfigIsolated } from './config/load-isolated.js';
import type { PduConfig } from './config/schema.js';
import { PduError } from './errors.js';
import type { Logger } from './log.js';
import type { Requester } from './pdu/actor.js';
import type { PduService } from './pdu/pdu-service.js';
import { canAdminister } from './pdu/permissions.js';
import { refusal } from './pdu/request.js';

/**
 * The daemon's one reload: SIGHUP, `/pdu reload`, `pipdu reload` and
 * `POST /api/v1/reload` all call what this returns.
 *
 * Rules:
 * - Admins only (FORBIDDEN otherwise); every attempt is audited (`reload`).
 * - The file is validated in a child process, as at start; a file that fails
 *   validation, or a change only a restart can apply, changes nothing and
 *   rejects BAD_CONFIG with every problem and its location.
 * - On success the service takes the new config and emits `reloaded`;
 *   interfaces read what they need from `service.config`.
 * - One reload at a time: one asked for while another runs waits for it.
 */
export function createReloader(deps: {
  service: PduService;
  /** The config file; null for the built-in defaults, which cannot be reloaded. */
  file: string | null;
  logger: Logger;
}): (by: Requester) => Promise<string> {
  const { service, file, logger } = deps;
  let last: Promise<unknown> = Promise.resolve();

  const reload = async (by: Requester): Promise<string> => {
    const started = Date.now();
    const audit = (summary: string | PduError): void => {
      if (typeof summary === 'string') service.recordAction(by.actor, 'reload', started, { summary });
      else service.recordAction(by.actor, 'reload', started, {}, summary);
    };
    const check = canAdminister(by, 'reloading the configuration');
    if (!check.ok) {
      const error = refusal(check);
      audit(error);
      throw error;
    }
    try {
      if (file === null) {
        throw new PduError(
          'BAD_CONFIG',
          'there is no configuration file to reload (running on built-in defaults)',
        );
      }
      let next: PduConfig;
      try {
        ({ config: next } = await loadConfigIsolated({ file }));
      } catch (error) {
        if (error instanceof ConfigError)
          throw new PduError('BAD_CONFIG', `${error.format()}\nnothing was changed`);
        throw error;
      }
      const restart = restartNeeded(service.config, next);
      if (restart) throw new PduError('BAD_CONFIG', `restart PiPDU to apply ${restart}; nothing was changed`);
      const summary = service.reconfigure(next);
      logger.info({ file, by: by.actor }, summary);
      audit(summary);
      service.events.emit('reloaded', { config: next, summary });
      return summary;
    } catch (error) {
      const failure =
        error instanceof PduError
          ? error
          : new PduError('BAD_CONFIG', error instanceof Error ? error.message : String(error));
      logger.warn({ file, err: failure.message }, 'configuration not reloaded');
      audit(failure);
      throw failure;
    }
  };

  return (by) => {
    const next = last.catch(() => undefined).then(() => reload(by));
    last = next;
    return next;
  };
}

/**
 * What of a new configuration only a restart can apply (ports, files and
 * lines opened at start), or null. Everything else applies live.
 */
export function restartNeeded(current: PduConfig, next: PduConfig): string | null {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  if (!same(current.board, next.board)) return 'the board section';
  if (!same(current.state, next.state)) return 'the state section';
  if (!same(current.log, next.log)) return 'log.level';
  if (!!current.api !== !!next.api) return `${next.api ? 'a new' : 'removing the'} api section`;
  if (current.api && next.api) {
    if (current.api.listen !== next.api.listen) return 'api.listen';
    if (!same(current.api.tls, next.api.tls)) return 'api.tls';
    if (!!current.api.pdudaemon !== !!next.api.pdudaemon) return 'api.pdudaemon';
    if (current.api.pdudaemon?.listen !== next.api.pdudaemon?.listen) return 'api.pdudaemon.listen';
  }
  if (!!current.discord !== !!next.discord)
    return `${next.discord ? 'a new' : 'removing the'} discord section`;
  if (current.discord && next.discord) {
    const { guildId, applicationId, api } = current.discord;
    if (
      !same(
        { guildId, applicationId, api },
        { guildId: next.discord.guildId, applicationId: next.discord.applicationId, api: next.discord.api },
      )
    )
      return 'discord.guildId, applicationId or api';
  }
  if (!!current.controller !== !!next.controller)
    return `${next.controller ? 'a new' : 'removing the'} controller section`;
  if (current.controller && next.controller) {
    const lines = (c: NonNullable<PduConfig['controller']>) => ({
      buttons: c.buttons,
      leds: c.leds,
      statusLed: c.statusLed,
      buttonActiveLow: c.buttonActiveLow,
      ledActiveLow: c.ledActiveLow,
      gpioChipBase: c.gpioChipBase,
      matrix: c.matrix,
      ledChips: c.ledChips,
      lcd: c.lcd,
    });
    if (!same(lines(current.controller), lines(next.controller)))
      return 'the front panel wiring (controller.buttons, leds, matrix, ledChips, lcd, …)';
  }
  return null;
}
