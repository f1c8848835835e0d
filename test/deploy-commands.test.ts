import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { commands } from '../commands/index.js';
import { deployCommands } from '../deploy-commands.js';
import { type FakeDiscord, startFakeDiscord } from './helpers/fake-discord.js';

let fake: FakeDiscord;
before(async () => {
  fake = await startFakeDiscord();
});
after(async () => {
  await fake.close();
});

test('deploy-commands registers every command for the guild, then finds nothing to change', async () => {
  const lines: string[] = [];
  const options = {
    api: fake.api,
    token: fake.token,
    guildId: fake.guild.id,
    log: (line: string) => lines.push(line),
  };
  const first = await deployCommands(options);
  assert.deepEqual(first.added.sort(), ['pdu', 'socket', 'sockets', 'status']);
  const registered = fake.commands(fake.guild.id);
  assert.deepEqual(
    registered.map((command: { name: string }) => command.name).sort(),
    commands.map((command) => command.data.name).sort(),
  );
  const socket = registered.find((command: { name: string }) => command.name === 'socket');
  const off = socket.options.find((option: { name: string }) => option.name === 'off');
  assert.deepEqual(
    off.options.map((option: { name: string; type: number }) => [option.name, option.type]),
    [
      ['socket', 3],
      ['force', 5],
      ['reason', 3],
    ],
    'docs/decisions.md #10: socket a string (autocomplete), force a boolean, reason a string',
  );
  assert.match(lines.join('\n'), /added \/socket, \/sockets, \/status, \/pdu/);

  const puts = fake.requests.filter((request) => request.method === 'PUT').length;
  const second = await deployCommands(options);
  assert.deepEqual(second.unchanged.sort(), ['pdu', 'socket', 'sockets', 'status']);
  assert.equal(fake.requests.filter((request) => request.method === 'PUT').length, puts, 'nothing re-sent');
  assert.match(lines.at(-1) ?? '', /up to date/);
});

test('deploy-commands --global registers application-wide', async () => {
  const report = await deployCommands({
    api: fake.api,
    token: fake.token,
    guildId: null,
    log: () => undefined,
  });
  assert.equal(report.added.length, 4);
  assert.equal(fake.commands(null).length, 4);
});

test('commands registered without contexts (by an older PiPDU) are re-sent: where a command may be used counts', async () => {
  const options = { api: fake.api, token: fake.token, guildId: fake.guild.id, log: () => undefined };
  await deployCommands(options);
  const registered = fake.commands(fake.guild.id) as Array<Record<string, unknown>>;
  assert.ok(
    registered.every((command) => Array.isArray(command.contexts)),
    'registered with contexts',
  );
  for (const command of registered) {
    delete command.contexts;
    delete command.integration_types;
  }
  const report = await deployCommands(options);
  assert.deepEqual(report.changed.sort(), ['pdu', 'socket', 'sockets', 'status']);
  const again = fake.commands(fake.guild.id) as Array<Record<string, unknown>>;
  assert.ok(again.every((command) => Array.isArray(command.contexts)));
});
