import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DiscordBot } from '../src/bot/bot.js';
import { parseConfig } from '../src/config/load.js';
import type { DiscordConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import { createReloader } from '../src/reload.js';
import type { FakeDiscord, FakeInteraction, FakeUser } from './helpers/fake-discord.js';
import { startFakeDiscord } from './helpers/fake-discord.js';
import { serialDaemon } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

// The real discord.js client against a fake Discord on 127.0.0.1, the daemon
// on the board simulator behind a socat pty: what users do in Discord, checked
// where it lands (the board's received lines, the replies Discord got).

const STRING = 3;
const BOOLEAN = 5;

let fake: FakeDiscord;
let sim: SimulatorProcess;
let service: PduService;
let bot: DiscordBot;
let work: string;
let admin: FakeUser;
let operator: FakeUser;
let viewer: FakeUser;
const cleanups: Array<() => Promise<unknown>> = [];

const SOCKETS = `sockets:
  - { number: 1, name: router, protected: true }
  - { number: 5, name: nas }
  - number: 7
    name: slow
    preOff:
      - exec: { argv: [SCRIPT] }
  - { number: 9, name: lab, roles: [labbers] }
  - { number: 11, name: guarded, protected: true, roles: [Homelab] }
`;

function discordConfig(extra = ''): DiscordConfig {
  const config = parseConfig(
    `version: 1
board: { driver: simulator }
discord:
  guildId: "${fake.guild.id}"
  api: ${fake.api}
  roles: { admin: [Admins], operator: [Homelab], viewer: ["@everyone"] }
  confirmTimeout: 5s
${extra}`,
    'bot.yaml',
  );
  return config.discord!;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'pipdu-bot-'));
  const script = join(work, 'slow-shutdown');
  // Prints, then waits on a fifo nobody writes: the step runs until cancelled.
  await writeFile(script, `#!/bin/sh\necho "shutting down"\nexec sleep 30\n`);
  await chmod(script, 0o755);
  fake = await startFakeDiscord();
  sim = await startSimulator();
  service = await serialDaemon(sim.path, SOCKETS.replace('SCRIPT', script), cleanups);
  bot = new DiscordBot({
    config: discordConfig(),
    service,
    token: fake.token,
    logger: silentLogger(),
    reload: createReloader({ service, file: join(work, 'reload.yaml'), logger: silentLogger() }),
    clientOptions: { rest: { globalRequestsPerSecond: 1000 } },
  });
  assert.equal(await bot.start(), true, 'logged in and ready');
  admin = fake.user('alice', ['Admins']);
  operator = fake.user('olly', ['Homelab']);
  viewer = fake.user('vera');
});

after(async () => {
  await bot?.stop();
  while (cleanups.length > 0) await cleanups.pop()?.();
  await sim?.stop();
  await fake?.close();
  await rm(work, { recursive: true, force: true });
});

function socketCommand(
  user: FakeUser,
  sub: string,
  socket: string,
  more: Array<{ name: string; type: number; value: string | boolean }> = [],
): FakeInteraction {
  return fake.command({
    user,
    name: 'socket',
    subcommand: sub,
    options: [{ name: 'socket', type: STRING, value: socket }, ...more],
  });
}

/** The text of the interaction's reply as it stands (content plus embed titles and descriptions). */
function text(interaction: FakeInteraction): string {
  return words(interaction.original());
}

/** What a person reads of a message: its content, and its embeds' titles and descriptions. */
function words(
  message: { content: string; embeds: Array<{ title?: string; description?: string }> } | undefined,
): string {
  return [
    message?.content ?? '',
    ...(message?.embeds ?? []).map((embed) => `${embed.title ?? ''}\n${embed.description ?? ''}`),
  ].join('\n');
}

async function boardSaw(line: RegExp, since: number): Promise<void> {
  await sim.waitFor((event) => event.event === 'request' && line.test(String(event.line)), 5000, since);
}

function switchingSince(since: number): string[] {
  return sim.events
    .slice(since)
    .filter((event) => event.event === 'request' && / (SET|MASK) /.test(String(event.line)))
    .map((event) => String(event.line));
}

test('/socket off by an operator reaches the board as SET 4 0, and the reply says so', async () => {
  await requests(service).on('nas', { kind: 'api', id: 'setup' });
  const since = sim.events.length;
  const interaction = socketCommand(operator, 'off', '5');
  const callback = await interaction.callback();
  assert.equal(callback.type, 4);
  await boardSaw(/ SET 4 0$/, since);
  assert.match(text(interaction), /✅ 5 · nas is off/);
  assert.match(text(interaction), /✅ cut power/);
  const [entry] = await service.auditLog(1);
  assert.deepEqual(
    [entry?.actor.kind, entry?.actor.name, entry?.action, entry?.socket],
    ['discord', 'olly', 'off', 5],
  );
});

test('a viewer is refused with an ephemeral message that says what is needed; nothing is switched; it is audited', async () => {
  await sim.command('delay 0');
  const since = sim.events.length;
  const interaction = socketCommand(viewer, 'on', 'nas');
  const callback = await interaction.callback();
  assert.equal(callback.data.flags & 64, 64, 'ephemeral');
  assert.match(callback.data.content, /operator/);
  await sim.command('delay 0');
  assert.deepEqual(switchingSince(since), []);
  const [entry] = await service.auditLog(1);
  assert.equal(entry?.code, 'FORBIDDEN');
  assert.equal(entry?.actor.name, 'vera');
});

test('force is for admins: an operator forcing an off is refused and nothing is switched', async () => {
  await sim.command('delay 0');
  const since = sim.events.length;
  const callback = await socketCommand(operator, 'off', 'nas', [
    { name: 'force', type: BOOLEAN, value: true },
  ]).callback();
  assert.equal(callback.data.flags & 64, 64);
  assert.match(callback.data.content, /admin/);
  await sim.command('delay 0');
  assert.deepEqual(switchingSince(since), []);
});

test('a wrong socket number or name gets a clear ephemeral error', async () => {
  for (const bad of ['17', 'nsa']) {
    const callback = await socketCommand(operator, 'on', bad).callback();
    assert.equal(callback.data.flags & 64, 64);
    assert.match(callback.data.content, new RegExp(`no socket "${bad}"`));
  }
});

test('autocomplete offers the configured sockets with their state', async () => {
  const interaction = fake.autocomplete({
    user: operator,
    name: 'socket',
    subcommand: 'on',
    focused: 'socket',
    value: 'na',
  });
  const callback = await interaction.callback();
  assert.equal(callback.type, 8);
  assert.deepEqual(
    callback.data.choices.map((choice: { value: string }) => choice.value),
    ['nas'],
  );
  assert.match(callback.data.choices[0].name, /5 nas \((on|off)/);
});

test('a protected socket needs an admin and a confirmation only the invoker can give', async () => {
  await requests(service).on('router', { kind: 'api', id: 'setup' });
  const refused = await socketCommand(operator, 'off', 'router').callback();
  assert.match(refused.data.content, /protected/);

  await sim.command('delay 0');
  const since = sim.events.length;
  const ask = socketCommand(admin, 'off', 'router');
  const prompt = await ask.callback();
  assert.equal(prompt.data.embeds[0].title, '❓ Switch off 1 · router?');
  assert.match(prompt.data.embeds[0].description, /It is protected/);
  assert.equal(prompt.data.components[0].components[0].label, 'Switch off router');
  const message = ask.original()!;
  const confirmId = prompt.data.components[0].components[0].custom_id as string;
  const cancelId = prompt.data.components[0].components[1].custom_id as string;
  // Someone else clicks: refused, nothing happens.
  const foreign = await fake
    .button({ user: operator, customId: confirmId, message: { id: message.id } })
    .callback();
  assert.match(foreign.data.content, /Only <@\d+> can answer/);
  // The invoker cancels.
  await fake.button({ user: admin, customId: cancelId, message: { id: message.id } }).callback();
  await ask.waitForOriginal((m) => /Cancelled by \*\*alice\*\*; nothing was switched/.test(words(m)));
  const late = await fake
    .button({ user: admin, customId: confirmId, message: { id: message.id } })
    .callback();
  assert.match(late.data.content, /expired or was already answered/);
  await sim.command('delay 0');
  assert.deepEqual(switchingSince(since), []);

  // Asked again and confirmed: switched.
  const again = socketCommand(admin, 'off', 'router');
  const prompt2 = await again.callback();
  await fake
    .button({
      user: admin,
      customId: prompt2.data.components[0].components[0].custom_id,
      message: { id: again.original()!.id },
    })
    .callback();
  await again.waitForOriginal((m) => /✅ 1 · router is off/.test(words(m)));
  await boardSaw(/ SET 0 0$/, since);
});

test('an unanswered confirmation expires and switches nothing', async () => {
  bot.updateConfig({ ...discordConfig(), confirmTimeout: 200 });
  try {
    await sim.command('delay 0');
    const since = sim.events.length;
    const ask = fake.command({ user: admin, name: 'sockets', subcommand: 'off' });
    await ask.callback();
    await ask.waitForOriginal((m) => /Not confirmed in time; nothing was switched/.test(words(m)));
    await sim.command('delay 0');
    assert.deepEqual(switchingSince(since), []);
  } finally {
    bot.updateConfig(discordConfig());
  }
});

test("an operator's toggle behind their own on (a slow board) never cuts a protected socket: refused when it acts", async () => {
  const since = sim.events.length;
  await sim.command('delay 300'); // replies are late: the on is still in flight when the toggle comes
  try {
    const on = socketCommand(operator, 'on', 'guarded');
    const answered = on.callback(); // a quick switch is answered once the board replied
    await boardSaw(/ SET 10 1$/, since);
    assert.equal(service.info('guarded').on, false, 'still shown off: a toggle checked now would be an on');
    const toggle = socketCommand(operator, 'toggle', 'guarded');
    const refused = await toggle.callback();
    assert.equal(refused.data.flags & 64, 64, 'the refusal is ephemeral');
    assert.match(refused.data.content, /found socket 11 \(guarded\) on.*admin/);
    await answered;
    await on.waitForOriginal((m) => /11 · guarded is on/.test(words(m)));
  } finally {
    await sim.command('delay 0');
  }
  assert.deepEqual(
    switchingSince(since).map((line) => line.split(' ').slice(1).join(' ')),
    ['SET 10 1'],
    'never cut',
  );
  const [entry] = await service.auditLog(1);
  assert.deepEqual([entry?.action, entry?.code, entry?.actor.name], ['toggle', 'FORBIDDEN', 'olly']);
  await requests(service).off('guarded', { kind: 'api', id: 'cleanup' });
});

test('a lone operator toggle of an off protected socket switches it on, with no confirmation', async () => {
  const interaction = socketCommand(operator, 'toggle', 'guarded');
  await interaction.callback();
  await interaction.waitForOriginal((m) => /11 · guarded is on/.test(words(m)));
  assert.equal(service.info('guarded').on, true);
  await requests(service).off('guarded', { kind: 'api', id: 'cleanup' });
});

test('a socket with a shutdown hook: deferred at once, the reply follows the step, and Cancel ends it', async () => {
  await requests(service).on('slow', { kind: 'api', id: 'setup' });
  await sim.command('delay 0');
  const since = sim.events.length;
  const interaction = socketCommand(operator, 'off', 'slow');
  const callback = await interaction.callback();
  assert.equal(callback.type, 5, 'deferred');
  const running = await interaction.waitForOriginal(
    (m) => (m.embeds[0]?.description ?? '').includes('exec') && m.components.length > 0,
  );
  const cancel = running.components[0].components.find((c: { custom_id: string }) =>
    c.custom_id.startsWith('cancel:'),
  );
  assert.ok(cancel, 'a Cancel button while it runs');
  assert.equal(
    running.components[0].components.some((c: { custom_id: string }) => c.custom_id.startsWith('force:')),
    false,
    'no Force button for an operator',
  );
  await fake.button({ user: operator, customId: cancel.custom_id, message: { id: running.id } }).callback();
  const final = await interaction.waitForOriginal(
    (m) => m.components.length === 0 && /cancel/i.test(JSON.stringify(m.embeds)),
  );
  assert.ok(final);
  await sim.command('delay 0');
  assert.deepEqual(switchingSince(since), [], 'the relay was not touched');
  assert.equal(service.info('slow').on, true);
});

test('/status shows every socket and the board', async () => {
  const interaction = fake.command({ user: viewer, name: 'status' });
  const callback = await interaction.callback();
  const embed = callback.data.embeds[0];
  const all = `${embed.title} ${embed.description}`;
  for (const name of ['router', 'nas', 'slow', 'lab']) assert.match(all, new RegExp(name));
  assert.match(embed.title, /^⚡ /, 'online: the title is not the offline one');
  assert.match(embed.footer.text, /prp1 board · PIPDU\/1/);
});

test('/pdu reload refuses a broken file with its errors and keeps the running config', async () => {
  await writeFile(join(work, 'reload.yaml'), 'version: 1\nsockets:\n  - { number: 5, restore: sometimes }\n');
  // Deferred privately at once (loading a file can outlast Discord's 3 s), then answered in that reply.
  const answer = async (user: typeof admin): Promise<string> => {
    const interaction = fake.command({ user, name: 'pdu', subcommand: 'reload' });
    const callback = await interaction.callback();
    assert.equal(callback.type, 5);
    assert.equal(callback.data.flags & 64, 64);
    const message = await interaction.waitForOriginal((m) => Boolean(m.content));
    return message.content ?? '';
  };
  assert.match(await answer(admin), /reload\.yaml:3:\d+ socket 5 restore: expected on \| off \| last/);
  assert.equal(service.info('nas').number, 5, 'the running config stays');
  assert.match(await answer(operator), /admin/);
});

test('a REST 500 or 429 from Discord does not crash anything', async () => {
  fake.failNext({ method: 'POST', path: /\/callback$/ }, { status: 500 });
  const first = socketCommand(operator, 'info', 'nas');
  await first.callback();
  fake.failNext({ method: 'POST', path: /\/callback$/ }, { status: 429, retryAfterMs: 20 });
  const second = socketCommand(operator, 'info', 'nas');
  await second.callback();
  const third = await socketCommand(operator, 'info', 'nas').callback();
  assert.match(JSON.stringify(third.data.embeds), /nas/);
});

test('an invalid token is reported and the bot stays off without throwing', async () => {
  const other = new DiscordBot({
    config: discordConfig(),
    service,
    token: 'MTIz.invalid.token',
    logger: silentLogger(),
    reload: async () => 'unused',
  });
  assert.equal(await other.start(), false);
  await other.stop();
});

test('/sockets off by an admin: confirmed, every unprotected socket cut, one line per socket', async () => {
  await requests(service).on('nas', { kind: 'api', id: 'setup' });
  await requests(service).on('router', { kind: 'api', id: 'setup' });
  // The slow socket's shutdown hook would hold all-off for 30 s: it is off already.
  await requests(service).off('slow', { kind: 'api', id: 'setup' }, { force: true });
  await sim.command('delay 0');
  const since = sim.events.length;
  const ask = fake.command({ user: admin, name: 'sockets', subcommand: 'off' });
  const prompt = await ask.callback();
  assert.equal(prompt.data.embeds[0].title, '❓ Switch every socket off?');
  assert.match(
    prompt.data.embeds[0].description,
    /🔒 \*\*Left alone \(protected\):\*\* 1 · router, 11 · guarded/,
  );
  const confirm = prompt.data.components[0].components[0].custom_id as string;
  await fake.button({ user: admin, customId: confirm, message: { id: ask.original()!.id } }).callback();
  const done = await ask.waitForOriginal((m) => /^✅ \d+ sockets off/.test(m.embeds[0]?.title ?? ''));
  assert.equal(
    done.embeds[0].title,
    '✅ 14 sockets off · 2 protected left alone',
    'a title that tells the truth',
  );
  assert.match(done.embeds[0].description, /✅ 5 · nas/);
  assert.match(done.embeds[0].description, /🔒 1 · router · left alone: protected/);
  assert.match(done.embeds[0].description, /Confirmed|confirmed <t:\d+:R>/);
  assert.equal(done.components.length, 0, 'no Cancel once it ended');
  await boardSaw(/ SET 4 0$/, since);
  assert.equal(service.info('router').on, true, 'the protected socket stays on');
  assert.equal(service.info('nas').on, false);
});

test('after the gateway drops, the bot resumes and answers again', async () => {
  const resumes = fake.resumes;
  fake.disconnectGateway(4000);
  await fake.waitForGateway();
  const callback = await fake.command({ user: viewer, name: 'status' }).callback(10_000);
  assert.equal(callback.type, 4);
  assert.ok(fake.resumes > resumes || fake.identifies > 1, 'it reconnected');
});
