/**
 * `npm run check-config -- [file] [--user NAME] [--no-files]`: validates a config without
 * touching any hardware. Without a file it checks what the daemon would load
 * (PIPDU_CONFIG, else config/pipdu.yaml). Then every file the config names
 * (certificates, keys, known_hosts, the serial port) must exist and be
 * readable by the service's user: NAME, else `pipdu` when that user exists,
 * else whoever runs this (`--no-files`: not checked, for a config written
 * for another machine). Exit 0: valid; 1: the file has problems (one per
 * line on stderr); 2: no file to check or it cannot be read.
 * Sockets are named as people count them (the loader does it): `socket 3 (nas)`, not `sockets[2]`.
 *
 * It loads the file exactly as the daemon does (load-isolated.ts: in a child
 * process with a memory and a time limit), so a hostile file gets the same
 * one-line answer here as at start-up.
 */
import { isPduError } from '../errors.js';
import { ConfigError, formatIssue } from './config-error.js';
import { accessProblem, lookUpUser, namedFiles, type UnixUser } from './file-access.js';
import { loadConfigIsolated } from './load-isolated.js';
import { DEFAULT_CONFIG_PATH, displayPath } from './paths.js';
import type { PduConfig } from './schema.js';

async function check(argument: string | undefined): Promise<{ config: PduConfig; file: string } | undefined> {
  const loaded = await loadConfigIsolated(argument === undefined ? {} : { file: argument });
  return loaded.file === null ? undefined : { config: loaded.config, file: loaded.file };
}

const USAGE = 'usage: npm run check-config -- [file] [--user NAME] [--no-files]\n';

/** The user whose access is checked: --user, else `pipdu` if it exists and is not us, else null (us). */
async function serviceUser(name: string | undefined): Promise<UnixUser | null> {
  if (name !== undefined) return lookUpUser(name);
  const pipdu = await lookUpUser('pipdu');
  return pipdu && pipdu.uid !== process.getuid?.() ? pipdu : null;
}

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((arg) => arg !== '--no-files');
  const files = args.length === argv.length;
  const userFlag = args.indexOf('--user');
  let userName: string | undefined;
  if (userFlag !== -1) {
    userName = args[userFlag + 1];
    args.splice(userFlag, 2);
    if (userName === undefined || userName.startsWith('-')) {
      process.stderr.write(USAGE);
      return 2;
    }
  }
  if (args.length > 1 || args[0]?.startsWith('-')) {
    process.stderr.write(USAGE);
    return 2;
  }
  const user = await serviceUser(userName);
  if (userName !== undefined && user === null) {
    process.stderr.write(`there is no user ${userName}\n`);
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
    const problems: string[] = [];
    for (const named of files ? namedFiles(config) : []) {
      const problem = await accessProblem(named.file, user, named.where === 'board.port');
      if (problem) problems.push(`${displayPath(file)}: ${named.where}: ${named.file} ${problem}`);
    }
    if (problems.length > 0) {
      process.stderr.write(`${problems.join('\n')}\n`);
      return 1;
    }
    const named = config.sockets.filter((socket) => socket.name !== undefined).length;
    process.stdout.write(
      `${displayPath(file)}: OK (${named} sockets named, driver ${config.board.driver})\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      // One issue per line; the loader already names sockets by number (`socket 3 (nas) restore`).
      process.stderr.write(`${error.issues.map(formatIssue).join('\n')}\n`);
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
