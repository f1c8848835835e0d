// `npm run deploy-commands [-- --global]`: registers PiPDU's slash commands for
// `discord.guildId` (or globally), idempotently, and prints what changed.
import { pathToFileURL } from 'node:url';
import { REST, type RESTGetAPIApplicationCommandsResult, Routes } from 'discord.js';
import { commands } from './commands/index.js';
import { ConfigError } from './src/config/config-error.js';
import { loadConfig } from './src/config/load.js';

/** Compares what Discord has with what we register, on the fields we set. */
function comparable(command: object): string {
  const { name, description, options, dm_permission, default_member_permissions, type } = command as Record<
    string,
    unknown
  >;
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

async function main(): Promise<void> {
  const global = process.argv.includes('--global');
  let config: Awaited<ReturnType<typeof loadConfig>>['config'];
  try {
    ({ config } = await loadConfig());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.format());
      process.exit(1);
    }
    throw error;
  }
  if (!config.discord) {
    console.error(
      'the configuration has no discord section: add discord.guildId (see config/pipdu.example.yaml)',
    );
    process.exit(1);
  }
  const token = process.env.DISCORD_TOKEN;
  if (!token) {
    console.error(
      'DISCORD_TOKEN is not set: the bot token comes from the environment, never the config file',
    );
    process.exit(1);
  }
  await deployCommands({
    api: config.discord.api,
    token,
    guildId: global ? null : config.discord.guildId,
    applicationId: config.discord.applicationId,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`deploy-commands failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
