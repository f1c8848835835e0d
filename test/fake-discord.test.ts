import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  type Client,
  DiscordAPIError,
  Events,
  HTTPError,
  type Interaction,
  MessageFlags,
  type TextChannel,
} from 'discord.js';
import WebSocket from 'ws';
import { type FakeDiscord, loggedInClient, makeClient, startFakeDiscord } from './helpers/fake-discord.js';

// The REAL discord.js client against the fake Discord of test/helpers/fake-discord.ts.

/** Runs the next interaction the client receives through `handler`; resolves when it is done. */
function handleNext(client: Client, handler: (i: Interaction) => Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once(Events.InteractionCreate, (i) => {
      handler(i).then(() => resolve(), reject);
    });
  });
}

describe('fake Discord with the real discord.js client', () => {
  let fake: FakeDiscord;
  let client: Client;
  const general = () => fake.guild.channels[0]!.id;

  before(async () => {
    fake = await startFakeDiscord();
    client = await loggedInClient(fake);
  });

  after(async () => {
    await client?.destroy();
    await fake?.close();
  });

  test('logs in: READY and GUILD_CREATE give the bot user, guild, roles and text channels', () => {
    assert.equal(client.user?.id, fake.botUserId);
    assert.equal(client.application?.id, fake.applicationId);
    assert.equal(fake.identifies, 1);
    const guild = client.guilds.cache.get(fake.guild.id);
    assert.ok(guild);
    assert.deepEqual(guild.roles.cache.map((r) => r.name).sort(), ['@everyone', 'Admins', 'Homelab'].sort());
    assert.equal(guild.roles.everyone.id, fake.guild.id);
    assert.deepEqual(
      guild.channels.cache.map((c) => c.name),
      fake.guild.channels.map((c) => c.name),
    );
    assert.ok(fake.requests.some((r) => r.path === '/gateway/bot' && r.authorized && r.status === 200));
  });

  test('a chat-input command with subcommand and options; member roles resolve to names; ephemeral reply', async () => {
    const olive = fake.user('olive', ['Homelab']);
    const seen: Record<string, unknown> = {};
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      assert.ok(i.inCachedGuild());
      seen.name = i.commandName;
      seen.sub = i.options.getSubcommand();
      seen.socket = i.options.getString('socket', true);
      seen.force = i.options.getBoolean('force');
      seen.roles = i.member.roles.cache.map((r) => r.name).sort();
      seen.user = i.user.username;
      seen.channel = i.channelId;
      await i.reply({ content: 'Socket 5 is off', flags: MessageFlags.Ephemeral });
    });
    const interaction = fake.command({
      user: olive,
      name: 'socket',
      subcommand: 'off',
      options: [
        { name: 'socket', type: 3, value: '5' },
        { name: 'force', type: 5, value: true },
      ],
    });
    const cb = await interaction.callback();
    await handled;
    assert.deepEqual(seen, {
      name: 'socket',
      sub: 'off',
      socket: '5',
      force: true,
      roles: ['@everyone', 'Homelab'],
      user: 'olive',
      channel: general(),
    });
    assert.equal(cb.type, 4);
    assert.equal(cb.data.content, 'Socket 5 is off');
    assert.equal(cb.data.flags, 64);
    assert.ok(cb.at >= interaction.sentAt);
    assert.equal(interaction.original()?.content, 'Socket 5 is off');
    assert.equal(interaction.original()?.flags, 64);
    // Ephemeral: not in the channel.
    assert.equal(fake.channelMessages(general()).length, 0);
    // Callbacks carry no token.
    const req = await fake.waitForRequest(
      (r) => r.path === `/interactions/${interaction.id}/${interaction.token}/callback`,
    );
    assert.equal(req.authorized, false);
    assert.equal(req.status, 204);
  });

  test('deferReply then editReply: @original goes from loading to the edited content', async () => {
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      await i.deferReply();
      await i.editReply({ content: 'step 1: running' });
      await i.editReply({ content: 'done in 12 ms' });
      await i.followUp({ content: 'and a follow-up', flags: MessageFlags.Ephemeral });
    });
    const interaction = fake.command({ user: fake.user('olive', ['Homelab']), name: 'status' });
    const cb = await interaction.callback();
    assert.equal(cb.type, 5);
    const final = await interaction.waitForOriginal((m) => m.content.startsWith('done'));
    await handled;
    assert.equal(final.content, 'done in 12 ms');
    assert.equal(final.flags & 128, 0);
    assert.deepEqual(
      interaction.originalVersions().map((m) => [m.content, m.flags]),
      [
        ['', 128],
        ['step 1: running', 0],
        ['done in 12 ms', 0],
      ],
    );
    assert.deepEqual(
      interaction.followUps().map((m) => [m.content, m.flags]),
      [['and a follow-up', 64]],
    );
    // A non-ephemeral response is a message in its channel.
    assert.deepEqual(
      fake.channelMessages(general()).map((m) => m.content),
      ['done in 12 ms'],
    );
    assert.ok(fake.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/messages/@original')));
  });

  test('a button on a reply: the click arrives with its message, update edits that message', async () => {
    const ada = fake.user('ada', ['Admins']);
    const replied = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
        new ButtonBuilder().setCustomId('confirm:1').setLabel('Confirm').setStyle(ButtonStyle.Danger),
        new ButtonBuilder().setCustomId('cancel:1').setLabel('Cancel').setStyle(ButtonStyle.Secondary),
      );
      await i.reply({
        content: 'Switch off socket 1 (protected)?',
        components: [row],
        flags: MessageFlags.Ephemeral,
      });
    });
    const command = fake.command({ user: ada, name: 'socket', subcommand: 'off' });
    await replied;
    const prompt = command.original();
    assert.ok(prompt);
    assert.equal(prompt.components[0].components[0].custom_id, 'confirm:1');

    const seen: Record<string, unknown> = {};
    const clicked = handleNext(client, async (i) => {
      assert.ok(i.isButton());
      seen.customId = i.customId;
      seen.messageId = i.message.id;
      seen.content = i.message.content;
      seen.user = i.user.id;
      await i.update({ content: 'Socket 1 is off', components: [] });
    });
    const click = fake.button({ user: ada, customId: 'confirm:1', message: prompt });
    const cb = await click.callback();
    await clicked;
    assert.deepEqual(seen, {
      customId: 'confirm:1',
      messageId: prompt.id,
      content: 'Switch off socket 1 (protected)?',
      user: ada.id,
    });
    assert.equal(cb.type, 7);
    assert.equal(command.original()?.content, 'Socket 1 is off');
    assert.deepEqual(command.original()?.components, []);
    assert.equal(click.original()?.id, prompt.id);
  });

  test('autocomplete: respond sends callback type 8 with the choices', async () => {
    let focused: unknown;
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isAutocomplete());
      focused = i.options.getFocused(true);
      await i.respond([
        { name: '5 nas (on)', value: '5' },
        { name: '6 nuc (off)', value: '6' },
      ]);
    });
    const interaction = fake.autocomplete({
      user: fake.user('olive', ['Homelab']),
      name: 'socket',
      subcommand: 'off',
      focused: 'socket',
      value: 'n',
    });
    const cb = await interaction.callback();
    await handled;
    assert.deepEqual(focused, { name: 'socket', type: 3, value: 'n', focused: true });
    assert.equal(cb.type, 8);
    assert.deepEqual(
      cb.data.choices.map((c: { value: string }) => c.value),
      ['5', '6'],
    );
  });

  test('channel messages: send, edit, deleted by a user → the next edit gets 404 code 10008', async () => {
    const channelId = fake.guild.channels[1]!.id;
    const channel = (await client.channels.fetch(channelId)) as TextChannel;
    const message = await channel.send({ embeds: [{ title: 'PiPDU', description: 'all off' }] });
    assert.equal(fake.channelMessages(channelId)[0]?.embeds[0].description, 'all off');
    await message.edit({ embeds: [{ title: 'PiPDU', description: 'socket 5 on' }] });
    await fake.waitForChannelMessage(channelId, (m) => m.embeds[0]?.description === 'socket 5 on');

    fake.deleteMessage(channelId, message.id);
    assert.equal(fake.channelMessages(channelId).length, 0);
    await assert.rejects(message.edit({ content: 'again' }), (error: unknown) => {
      assert.ok(error instanceof DiscordAPIError);
      assert.equal(error.code, 10008);
      assert.equal(error.status, 404);
      return true;
    });
    // Files come as multipart: the JSON payload is the body, file names are listed.
    await channel.send({ content: 'log', files: [{ attachment: Buffer.from('{}\n'), name: 'audit.jsonl' }] });
    const upload = await fake.waitForRequest((r) => r.method === 'POST' && r.files.length > 0);
    assert.equal(upload.body.content, 'log');
    assert.deepEqual(upload.files, ['audit.jsonl']);
    // A message over Discord's limits is refused as Discord does.
    await assert.rejects(channel.send({ content: 'x'.repeat(2001) }), (error: unknown) => {
      assert.ok(error instanceof DiscordAPIError);
      assert.equal(error.code, 50035);
      assert.match(error.message, /content.*2000/s);
      return true;
    });
  });

  test('failNext 500 on a channel message POST: discord.js retries and succeeds; 4 in a row throw', async () => {
    const channelId = fake.guild.channels[2]!.id;
    const channel = (await client.channels.fetch(channelId)) as TextChannel;
    const since = performance.now();
    fake.failNext({ method: 'POST', path: /^\/channels\/\d+\/messages$/ }, { status: 500 });
    await channel.send('audit: socket 5 off by olive');
    const posts = fake.requests.filter((r) => r.at >= since && r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => [r.status, r.fault]),
      [
        [500, true],
        [200, false],
      ],
    );
    assert.equal(fake.channelMessages(channelId).at(-1)?.content, 'audit: socket 5 off by olive');

    fake.failNext({ method: 'POST', path: /^\/channels\/\d+\/messages$/ }, { status: 502, times: 4 });
    await assert.rejects(channel.send('lost'), HTTPError);
  });

  test('failNext 429 with a small retry-after: discord.js waits and retries', async () => {
    const channelId = fake.guild.channels[2]!.id;
    const channel = (await client.channels.fetch(channelId)) as TextChannel;
    const since = performance.now();
    fake.failNext({ method: 'POST', path: /^\/channels\/\d+\/messages$/ }, { status: 429, retryAfterMs: 50 });
    // An unexpected 429 emits no 'rateLimited' event (only 'restDebug'); the wait is Retry-After + 50 ms offset.
    await channel.send('after a rate limit');
    const posts = fake.requests.filter((r) => r.at >= since && r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => r.status),
      [429, 200],
    );
    assert.ok(posts[1]!.at - posts[0]!.at >= 45, `retried after ${posts[1]!.at - posts[0]!.at} ms`);
  });

  test('reply withResponse gives the message; fetchReply and deleteReply use @original', async () => {
    const ids: string[] = [];
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      const response = await i.reply({ content: 'with response', withResponse: true });
      ids.push(response.resource?.message?.id ?? 'none', response.interaction.id);
      ids.push((await i.fetchReply()).id);
      await i.deleteReply();
    });
    const interaction = fake.command({ user: fake.user('olive', ['Homelab']), name: 'status' });
    await handled;
    const original = interaction.originalVersions()[0]!;
    assert.deepEqual(ids, [original.id, interaction.id, original.id]);
    assert.equal(interaction.original()?.deleted, true);
    assert.equal(fake.message(original.id)?.deleted, true);
  });

  test('an interaction acknowledged twice is refused as Discord does (40060)', async () => {
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      await i.reply('first');
      // discord.js itself refuses a second reply; the raw route gets 40060.
      await assert.rejects(
        client.rest.post(`/interactions/${i.id}/${i.token}/callback`, {
          body: { type: 4, data: { content: 'x' } },
          auth: false,
        }),
        (error: unknown) => error instanceof DiscordAPIError && error.code === 40060,
      );
    });
    fake.command({ user: fake.user('olive', ['Homelab']), name: 'status' });
    await handled;
  });

  test('application commands: PUT stores them with ids, kept across redeploys; GET lists them', async () => {
    const guildId = fake.guild.id;
    const first = await client.application!.commands.set(
      [
        { name: 'status', description: 'Show every socket' },
        { name: 'pdu', description: 'Admin' },
      ],
      guildId,
    );
    const again = await client.application!.commands.set(
      [{ name: 'status', description: 'Show all sockets' }],
      guildId,
    );
    assert.equal(again.first()?.id, first.find((c) => c.name === 'status')?.id);
    assert.deepEqual(
      fake.commands(guildId).map((c) => c.description),
      ['Show all sockets'],
    );
    const fetched = await client.application!.commands.fetch({ guildId });
    assert.deepEqual(
      [...fetched.values()].map((c) => c.name),
      ['status'],
    );
    assert.deepEqual(fake.commands(null), []);
    // An interaction for a registered command carries its id.
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      assert.equal(i.commandId, again.first()?.id);
      await i.reply('ok');
    });
    fake.command({ user: fake.user('olive'), name: 'status' });
    await handled;
  });

  test('unknown routes answer 404 and are recorded', async () => {
    await assert.rejects(client.rest.get('/guilds/1/no-such-thing'), (error: unknown) => {
      assert.ok(error instanceof DiscordAPIError);
      assert.equal(error.status, 404);
      return true;
    });
    assert.ok(fake.requests.some((r) => r.path === '/guilds/1/no-such-thing' && r.status === 404));
  });

  test('gateway close 4000: the client resumes, missed interactions are replayed, it still works', async () => {
    const resumed = once(client, Events.ShardResume);
    fake.disconnectGateway(4000);
    // Sent while disconnected: replayed on resume.
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      await i.reply({ content: 'still here' });
    });
    const interaction = fake.command({ user: fake.user('olive', ['Homelab']), name: 'status' });
    await resumed;
    await fake.waitForGateway();
    const cb = await interaction.callback();
    await handled;
    assert.equal(cb.data.content, 'still here');
    assert.equal(fake.resumes, 1);
    assert.equal(fake.identifies, 1);
  });
});

test('an interaction not acknowledged within ackDeadlineMs: the callback gets 404 code 10062', async () => {
  const fake = await startFakeDiscord({ ackDeadlineMs: 0 });
  const client = makeClient(fake);
  try {
    const ready = once(client, Events.ClientReady);
    await client.login(fake.token);
    await ready;
    const handled = handleNext(client, async (i) => {
      assert.ok(i.isChatInputCommand());
      await new Promise((resolve) => setImmediate(resolve));
      await assert.rejects(i.reply('too late'), (error: unknown) => {
        assert.ok(error instanceof DiscordAPIError);
        assert.equal(error.code, 10062);
        return true;
      });
    });
    const interaction = fake.command({ user: fake.user('olive'), name: 'status' });
    await handled;
    assert.equal(interaction.callbacks.length, 0);
    assert.equal(interaction.original(), undefined);
  } finally {
    await client.destroy();
    await fake.close();
  }
});

describe('fake Discord refuses a wrong token', () => {
  let fake: FakeDiscord;
  before(async () => {
    fake = await startFakeDiscord();
  });
  after(async () => {
    await fake?.close();
  });

  test('client.login with an invalid token rejects with TokenInvalid (401 on GET /gateway/bot)', async () => {
    const client = makeClient(fake);
    try {
      await assert.rejects(client.login('bm90LWEtdG9rZW4.xxxxxx.yyyyyyyyyyyyyyyyyyyyyyyyyyy'), {
        code: 'TokenInvalid',
        message: /invalid token/,
      });
    } finally {
      await client.destroy();
    }
    const req = fake.requests.find((r) => r.path === '/gateway/bot');
    assert.equal(req?.status, 401);
    assert.equal(req?.authorized, false);
    assert.equal(fake.identifies, 0);
  });

  test('IDENTIFY with a wrong token is closed with 4004', async () => {
    const ws = new WebSocket(
      `${fake.api.replace(/^http/, 'ws').replace(/\/api$/, '/gateway')}?v=10&encoding=json`,
    );
    const [hello] = await once(ws, 'message');
    assert.equal(JSON.parse(String(hello)).op, 10);
    ws.send(JSON.stringify({ op: 2, d: { token: 'wrong', intents: 1, properties: {} } }));
    const [code, reason] = await once(ws, 'close');
    assert.equal(code, 4004);
    assert.match(String(reason), /Authentication failed/);
  });
});
