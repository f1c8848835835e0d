/**
 * `npm run check-config -- [file]`: validates a config without touching any
 * hardware. Without a file it checks what the daemon would load
 * (PIPDU_CONFIG, else config/pipdu.yaml). Exit 0: valid; 1: the file has
 * problems (one per line on stderr); 2: no file to check or it cannot be read.
 *
 * It loads the file exactly as the daemon does (load-isolated.ts: in a child
 * process with a memory and a time limit), so a hostile file gets the same
 * one-line answer here as at start-up.
 */
import { isPduError } from '../errors.js';
import { ConfigError } from './config-error.js';
import { loadConfigIsolated } from './load-isolated.js';
import { DEFAULT_CONFIG_PATH, displayPath } from './paths.js';
import type { PduConfig } from './schema.js';

async function check(argument: string | undefined): Promise<{ config: PduConfig; file: string } | undefined> {
  const loaded = await loadConfigIsolated(argument === undefined ? {} : { file: argument });
  return loaded.file === null ? undefined : { config: loaded.config, file: loaded.file };
}

async function main(args: string[]): Promise<number> {
  if (args.length > 1 || args[0]?.startsWith('-')) {
    process.stderr.write('usage: npm run check-config -- [file]\n');
    return 2;
  }
  try {
    const checked = await check(args[0]);
    if (!checked) {
      process.stderr.write(
        `no configuration file: ${DEFAULT_CONFIG_PATH} does not exist and PIPDU_CONFIG is not set ` +
          '(the daemon would run the built-in simulator)\n',
      );
      return 2;
    }
    const { config, file } = checked;
    const named = config.sockets.filter((socket) => socket.name !== undefined).length;
    process.stdout.write(
      `${displayPath(file)}: OK (${named} sockets named, driver ${config.board.driver})\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.format()}\n`);
      return 1;
    }
    if (isPduError(error)) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
