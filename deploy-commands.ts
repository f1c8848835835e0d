// `npm run deploy-commands [-- [config file] [--global]]`: registers PiPDU's slash commands for
// `discord.guildId` (or globally), idempotently, and prints what changed.
import { pathToFileURL } from 'node:url';
import { REST, type RESTGetAPIApplicationCommandsResult, Routes } from 'discord.js';
import { commands } from './commands/index.js';
import { ConfigError } from './src/config/config-error.js';
import { DEFAULT_CONFIG_PATH, displayPath, loadConfig, loadConfigFile } from './src/config/load.js';
import { isPduError } from './src/errors.js';

/** Compares what Discord has with what we register, on the fields we set. */
function comparable(command: object): string {
  const {
    name,
    description,
    options,
    dm_permission,
    default_member_permissions,
    type,
    contexts,
    integration_types,
  } = command as Record<string, unknown>;
  const strip = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(strip)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.entries(value)
              .filter(
                ([key, v]) =>
                  v !== undefined && v !== null && key !== 'id' && !key.endsWith('_localizations'),
              )
              .filter(
                ([key, v]) =>
                  !(key === 'required' && v === false) && !(key === 'autocomplete' && v === false),
              )
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([key, v]) => [key, strip(v)]),
          )
        : value;
  return JSON.stringify(
    strip({
      name,
      description,
      options: options ?? [],
      dm_permission: dm_permission ?? true,
      default_member_permissions,
      type: type ?? 1,
      // Where the command may be used (guild only): a change to these is a change too.
      contexts: contexts ?? null,
      integration_types: integration_types ?? null,
    }),
  );
}

export async function deployCommands(options: {
  api: string;
  token: string;
  guildId: string | null;
  applicationId?: string;
  log?: (line: string) => void;
}): Promise<{ added: string[]; changed: string[]; removed: string[]; unchanged: string[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const rest = new REST({ api: options.api }).setToken(options.token);
  const applicationId =
    options.applicationId ?? ((await rest.get(Routes.currentApplication())) as { id: string }).id;
  const route = options.guildId
    ? Routes.applicationGuildCommands(applicationId, options.guildId)
    : Routes.applicationCommands(applicationId);
  const existing = (await rest.get(route)) as RESTGetAPIApplicationCommandsResult;
  const wanted = commands.map((command) => command.data.toJSON());
  const before = new Map(existing.map((command) => [command.name, comparable(command)]));
  const report = {
    added: [] as string[],
    changed: [] as string[],
    removed: [] as string[],
    unchanged: [] as string[],
  };
  for (const command of wanted) {
    const old = before.get(command.name);
    if (old === undefined) report.added.push(command.name);
    else if (old !== comparable(command)) report.changed.push(command.name);
    else report.unchanged.push(command.name);
  }
  report.removed = existing
    .map((command) => command.name)
    .filter((name) => !wanted.some((c) => c.name === name));
  const where = options.guildId ? `guild ${options.guildId}` : 'every guild (global)';
  if (report.added.length + report.changed.length + report.removed.length === 0) {
    log(`Slash commands for ${where} are up to date: ${report.unchanged.map((n) => `/${n}`).join(', ')}`);
    return report;
  }
  await rest.put(route, { body: wanted });
  const list = (names: string[]) => (names.length > 0 ? names.map((n) => `/${n}`).join(', ') : 'none');
  log(`Registered slash commands for ${where}:`);
  log(
    `  added ${list(report.added)}; changed ${list(report.changed)}; removed ${list(report.removed)}; unchanged ${list(report.unchanged)}`,
  );
  if (!options.guildId) log('  global commands can take up to an hour to appear in every guild');
  return report;
}

const USAGE = 'usage: npm run deploy-commands -- [config file] [--global]';
/** How it is run on an installed Pi: the config the service uses, the token from its root-only secrets. */
const ON_THE_PI =
  "on the Pi: sudo sh -c 'set -a; . /etc/pipdu/secrets.env; cd /opt/pipdu && npm run deploy-commands -- /etc/pipdu/pipdu.yaml'";

/** A user's mistake: said in one line (and a hint), exit 1. */
class DeployError extends Error {}

/**
 * `npm run deploy-commands -- [file] [--global]`: the config as the daemon
 * finds it (the file given, else PIPDU_CONFIG, else config/pipdu.yaml), its
 * discord section, and DISCORD_TOKEN from the environment.
 */
async function main(argv: string[]): Promise<void> {
  const global = argv.includes('--global');
  const rest = argv.filter((arg) => arg !== '--global');
  if (rest.length > 1 || rest[0]?.startsWith('-')) throw new DeployError(USAGE);
  let config: Awaited<ReturnType<typeof loadConfig>>['config'];
  let file: string | null;
  try {
    if (rest[0] !== undefined) {
      file = rest[0];
      config = await loadConfigFile(file);
    } else {
      ({ config, file } = await loadConfig());
    }
  } catch (error) {
    if (error instanceof ConfigError) throw new DeployError(error.format());
    if (isPduError(error)) throw new DeployError(error.message);
    throw error;
  }
  if (file === null) {
    throw new DeployError(
      `no configuration file: ${DEFAULT_CONFIG_PATH} does not exist and PIPDU_CONFIG is not set; name it: npm run deploy-commands -- /etc/pipdu/pipdu.yaml`,
    );
  }
  if (!config.discord) {
    throw new DeployError(
      `${displayPath(file)} has no discord section: add discord.guildId (see config/pipdu.example.yaml)`,
    );
  }
  const token = process.env.DISCORD_TOKEN;
  if (!token) {
    throw new DeployError(
      `DISCORD_TOKEN is not set: the bot token comes from the environment, never the config file (${ON_THE_PI})`,
    );
  }
  try {
    await deployCommands({
      api: config.discord.api,
      token,
      guildId: global ? null : config.discord.guildId,
      applicationId: config.discord.applicationId,
    });
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (status === 401) {
      throw new DeployError(
        'Discord refused the token (401 Unauthorized): DISCORD_TOKEN must be the bot token from the Developer Portal (your application → Bot → Reset Token), not the application id or the client secret',
      );
    }
    if (status === 403 || status === 404) {
      throw new DeployError(
        `Discord answered ${status} for guild ${config.discord.guildId}: is the bot invited to that server with the applications.commands scope, and is discord.guildId right?`,
      );
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    if (error instanceof DeployError) console.error(error.message);
    else console.error(`deploy-commands failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
