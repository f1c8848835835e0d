import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiscordBot } from '../src/bot/bot.js';
import { parseConfig } from '../src/config/load.js';
import { Energy } from '../src/energy/energy.js';
import { silentLogger } from '../src/log.js';
import { startFakeDiscord } from './helpers/fake-discord.js';
import { ALICE, PduFixture, until } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

const STRING = 3;

test('/socket info and /status show energy, the last 24 h as a sparkline, and raised alarms', async () => {
  const fake = await startFakeDiscord();
  const f = await PduFixture.create(
    'sockets:\n  - number: 5\n    name: nas\n    alarms: { overCurrent: { amps: 0.01, for: 0s } }\n',
  );
  await f.startDaemon();
  // The energy part's clock runs an hour behind, then catches up: two half-hours of history.
  let offset = 3_600_000;
  const energy = new Energy({
    service: f.service,
    logger: silentLogger(),
    dir: f.dir,
    now: () => Date.now() - offset,
  });
  await energy.start();
  const config = parseConfig(
    `version: 1\nboard: { driver: simulator }\ndiscord:\n  guildId: "${fake.guild.id}"\n  api: ${fake.api}\n  roles: { admin: [Admins], operator: [Homelab], viewer: ["@everyone"] }\n`,
    'bot.yaml',
  ).discord!;
  const bot = new DiscordBot({
    config,
    service: f.service,
    token: fake.token,
    logger: silentLogger(),
    reload: async () => 'unused',
    clientOptions: { rest: { globalRequestsPerSecond: 1000 } },
    energy,
  });
  try {
    assert.equal(await bot.start(), true);
    await requests(f.service).on('nas', ALICE);
    await until(f.service, 'telemetry', () => energy.joules(5) > 0);
    offset = 0;
    await until(f.service, 'telemetry', () => energy.lastDay(5).length >= 2);
    const viewer = fake.user('vera');
    const info = await fake
      .command({
        user: viewer,
        name: 'socket',
        subcommand: 'info',
        options: [{ name: 'socket', type: STRING, value: 'nas' }],
      })
      .callback(10_000);
    const embed = JSON.stringify(info.data.embeds[0]);
    assert.match(
      embed,
      /"name":"Energy","value":"[\d.]+ kWh today · [\d.]+ kWh this month · [\d.]+ kWh in all"/,
    );
    assert.match(embed, /"name":"Last 24 h","value":"`[▁▂▃▄▅▆▇█]{2,}` peak/);
    assert.match(embed, /apparent \(A × V\)/);
    assert.match(embed, /🚨 socket 5 \(nas\) draws/);
    const status = await fake.command({ user: viewer, name: 'status' }).callback(10_000);
    const description = status.data.embeds[0].description as string;
    assert.match(description, /\*\*Energy\*\* [\d.]+ kWh today/);
    assert.match(description, /\*\*Last 24 h\*\* `[▁▂▃▄▅▆▇█]{2,}` peak/);
    assert.match(description, /🚨 socket 5 \(nas\) draws/);
  } finally {
    await bot.stop();
    await energy.stop();
    await f.dispose();
    await fake.close();
  }
});
