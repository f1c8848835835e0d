import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DiscordBot } from '../src/bot/bot.js';
import { EMBED_LIMITS, MESSAGE_LIMIT, statusEmbed } from '../src/bot/embeds.js';
import { parseConfig } from '../src/config/load.js';
import type { PduService } from '../src/pdu/pdu-service.js';
import {
  type FakeDiscord,
  type FakeInteraction,
  type FakeMessage,
  type FakeUser,
  type Json,
  startFakeDiscord,
} from './helpers/fake-discord.js';
import { serialDaemon } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';
import { type SimulatorProcess, startSimulator } from './helpers/simulator-process.js';

// What a person reads in Discord, through the real bot and discord.js against
// the fake Discord, the daemon on the board simulator: a three-step pipeline
// moment by moment, its failure and the buttons on it (Retry, Force off, each
// a request the service checks), a cycle, /socket info's buttons, /pdu log.
// With PIPDU_DISCORD_CAPTURE=<file>, the payloads are written there for
// scripts/render-discord.ts to draw.

const STRING = 3;
const INTEGER = 4;

let fake: FakeDiscord;
let sim: SimulatorProcess;
let service: PduService;
let bot: DiscordBot;
let work: string;
let gate: string;
let admin: FakeUser;
let operator: FakeUser;
let viewer: FakeUser;
const cleanups: Array<() => Promise<unknown>> = [];
const captured: Array<{ name: string; message: Json }> = [];

/** Keeps a payload for the render script, and checks it against every Discord limit. */
function capture(name: string, message: FakeMessage | Json): void {
  assertWithinDiscordLimits(message);
  captured.push({
    name,
    message: { content: message.content, embeds: message.embeds, components: message.components },
  });
}

function assertWithinDiscordLimits(message: Json): void {
  assert.ok((message.content ?? '').length <= MESSAGE_LIMIT);
  for (const embed of message.embeds ?? []) {
    assert.ok((embed.title ?? '').length <= EMBED_LIMITS.title);
    assert.ok((embed.description ?? '').length <= EMBED_LIMITS.description);
    assert.ok((embed.fields ?? []).length <= EMBED_LIMITS.fields);
    const total =
      (embed.title ?? '').length +
      (embed.description ?? '').length +
      (embed.footer?.text ?? '').length +
      (embed.fields ?? []).reduce((sum: number, f: Json) => sum + f.name.length + f.value.length, 0);
    assert.ok(total <= EMBED_LIMITS.total);
  }
  for (const row of message.components ?? []) {
    assert.ok(row.components.length <= 5);
    for (const button of row.components) {
      assert.ok(button.label.length <= 80, button.label);
      assert.ok(button.custom_id.length <= 100, button.custom_id);
    }
  }
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'pipdu-glance-'));
  gate = join(work, 'gate');
  execFileSync('mkfifo', [gate]);
  const wait = join(work, 'wait-for-gate');
  // Blocks until the test writes a line to the fifo: the step runs as long as the test wants.
  await writeFile(wait, `#!/bin/sh\nread line < ${gate}\necho "released"\n`);
  const fail = join(work, 'fail');
  await writeFile(fail, `#!/bin/sh\necho "disk busy" >&2\nexit 3\n`);
  await chmod(wait, 0o755);
  await chmod(fail, 0o755);
  fake = await startFakeDiscord();
  sim = await startSimulator();
  service = await serialDaemon(
    sim.path,
    `sockets:
  - number: 4
    name: nas
    preOff:
      - exec: { argv: [/bin/echo, saving] }
      - exec: { argv: [${wait}] }
      - exec: { argv: [${fail}] }
  - { number: 6, name: modem, offTime: 300ms }
  - { number: 1, name: router, protected: true }
`,
    cleanups,
  );
  const config = parseConfig(
    `version: 1
board: { driver: simulator }
discord:
  guildId: "${fake.guild.id}"
  api: ${fake.api}
  roles: { admin: [Admins], operator: [Homelab], viewer: ["@everyone"] }
  confirmTimeout: 5s
`,
    'bot.yaml',
  );
  bot = new DiscordBot({
    config: config.discord!,
    service,
    token: fake.token,
    logger: (await import('../src/log.js')).silentLogger(),
    reload: async () => 'unused',
    clientOptions: { rest: { globalRequestsPerSecond: 1000 } },
  });
  assert.equal(await bot.start(), true);
  admin = fake.user('alice', ['Admins']);
  operator = fake.user('olly', ['Homelab']);
  viewer = fake.user('vera');
  await requests(service).on('nas', { kind: 'api', id: 'setup' });
  await requests(service).on('modem', { kind: 'api', id: 'setup' });
  await requests(service).on('router', { kind: 'api', id: 'setup' });
});

after(async () => {
  await bot?.stop();
  while (cleanups.length > 0) await cleanups.pop()?.();
  await sim?.stop();
  await fake?.close();
  await rm(work, { recursive: true, force: true });
  const file = process.env.PIPDU_DISCORD_CAPTURE;
  if (file) await writeFile(file, `${JSON.stringify(captured, null, 2)}\n`);
});

function off(user: FakeUser, socket: string, reason?: string): FakeInteraction {
  return fake.command({
    user,
    name: 'socket',
    subcommand: 'off',
    options: [
      { name: 'socket', type: STRING, value: socket },
      ...(reason ? [{ name: 'reason', type: STRING, value: reason }] : []),
    ],
  });
}

function description(message: FakeMessage): string {
  return message.embeds[0]?.description ?? '';
}

function buttonIds(message: FakeMessage): string[] {
  return message.components.flatMap((row: Json) => row.components.map((c: Json) => c.custom_id));
}

/** Releases the blocking step (a line into its fifo). */
function release(): void {
  execFileSync('sh', ['-c', `echo go > ${gate}`]);
}

test('a three-step pipeline, moment by moment: the whole plan from the start, then the failure in words with Retry and Force off', async () => {
  const ask = off(admin, 'nas', 'disk swap');
  assert.equal((await ask.callback()).type, 5, 'deferred at once');
  const first = await ask.waitForOriginal((m) => m.embeds.length > 0);
  assert.equal(first.embeds[0].title, '⏳ Switching off 4 · nas');
  capture('progress-start', first);
  const running = await ask.waitForOriginal((m) => /⏳ before off 2\/3/.test(description(m)));
  const lines = description(running).split('\n');
  assert.match(lines[0]!, /^✅ before off 1\/3 · exec \/bin\/echo saving · [\d.]+ m?s · exit 0$/);
  assert.match(lines[1]!, /^⏳ before off 2\/3 · exec .*wait-for-gate · started <t:\d+:R>$/);
  assert.match(lines[2]!, /^◻️ before off 3\/3 · exec .*fail$/);
  assert.equal(lines[3], '◻️ cut power');
  assert.match(description(running), /-# asked by alice · reason: “disk swap”/);
  assert.deepEqual(buttonIds(running), ['cancel:4', 'force:4:off'], 'Cancel, and Force for an admin');
  capture('progress-running', running);

  release();
  const failed = await ask.waitForOriginal((m) => /^❌/.test(m.embeds[0]?.title ?? ''));
  assert.equal(failed.embeds[0].title, "❌ Couldn't switch off 4 · nas");
  const words = description(failed).split('\n');
  assert.match(words[0]!, /^The step “exec .*fail” failed \(.*\)\.$/);
  assert.match(words[1]!, /^\*\*nas is still on(, [\d.]+ W)?\*\*; the relay was not touched\.$/);
  assert.match(description(failed), /✅ before off 2\/3/);
  assert.match(description(failed), /❌ before off 3\/3 · exec .*fail · failed after/);
  assert.match(description(failed), /➖ cut power · not run/);
  assert.match(description(failed), /\n-# COMMAND\\_FAILED: before off step 3 of 3/);
  assert.deepEqual(buttonIds(failed), ['retry:4:off', 'retryforce:4:off']);
  assert.equal(failed.components[0].components[1].label, 'Force off nas');
  assert.equal(service.info('nas').on, true);
  capture('failure', failed);

  // Force off goes through the service's checks: an operator is refused privately, nothing switches.
  const refused = await fake
    .button({ user: operator, customId: 'retryforce:4:off', message: { id: failed.id } })
    .callback();
  assert.equal(refused.data.flags & 64, 64);
  assert.match(refused.data.content, /^⛔ .*admin/);
  assert.equal(service.info('nas').on, true);
  const [refusal] = await service.auditLog(1);
  assert.deepEqual([refusal?.actor.name, refusal?.code], ['olly', 'FORBIDDEN']);

  // Retry by a viewer: refused the same way.
  const viewerRetry = await fake
    .button({ user: viewer, customId: 'retry:4:off', message: { id: failed.id } })
    .callback();
  assert.match(viewerRetry.data.content, /^⛔ .*operator/);

  // An admin's Force off: a new message, the steps skipped, the socket off.
  const forced = fake.button({ user: admin, customId: 'retryforce:4:off', message: { id: failed.id } });
  await forced.callback();
  const done = await forced.waitForOriginal((m) => /^✅/.test(m.embeds[0]?.title ?? ''));
  assert.equal(done.embeds[0].title, '✅ 4 · nas is off');
  assert.match(description(done), /⏭️ before off 1\/3 · exec \/bin\/echo saving · skipped: forced/);
  assert.match(description(done), /✅ cut power/);
  assert.equal(service.info('nas').on, false);
  capture('forced', done);
});

test('a cycle: "back on <t:…:R>" during its off-time, then done; a quick switch has the same style', async () => {
  const ask = fake.command({
    user: operator,
    name: 'socket',
    subcommand: 'cycle',
    options: [{ name: 'socket', type: STRING, value: 'modem' }],
  });
  await ask.callback();
  const done = await ask.waitForOriginal((m) => /^✅/.test(m.embeds[0]?.title ?? ''));
  assert.equal(done.embeds[0].title, '✅ 6 · modem was power-cycled');
  assert.match(description(done), /✅ cut power\n✅ stayed off 300 ms\n✅ power on/);
  const versions = ask.originalVersions().filter((m) => m.embeds.length > 0);
  assert.ok(versions.length >= 2, 'edited while it ran');
  assert.equal(versions[0]!.embeds[0].title, '⏳ Power-cycling 6 · modem');
  capture('cycle', done);

  const quick = fake.command({
    user: operator,
    name: 'socket',
    subcommand: 'on',
    options: [{ name: 'socket', type: STRING, value: 'nas' }],
  });
  const reply = await quick.callback();
  assert.equal(reply.type, 4, 'a quick switch answers at once');
  assert.equal(reply.data.embeds[0].title, '✅ 4 · nas is on');
});

test('/socket info: who switched it last, On/Off/Cycle buttons the service would allow, no internal fields', async () => {
  const info = fake.command({
    user: operator,
    name: 'socket',
    subcommand: 'info',
    options: [{ name: 'socket', type: STRING, value: 'nas' }],
  });
  const reply = await info.callback();
  const embed = reply.data.embeds[0];
  assert.match(embed.description, /Last switched on by \*\*olly\*\* <t:\d+:R>/);
  assert.equal(
    embed.fields.some((f: Json) => /channel/i.test(f.name)),
    false,
  );
  assert.deepEqual(
    reply.data.components[0].components.map((c: Json) => c.custom_id),
    ['do:4:on', 'do:4:off', 'do:4:cycle'],
  );
  capture('info', info.original()!);
  const router = await fake
    .command({
      user: operator,
      name: 'socket',
      subcommand: 'info',
      options: [{ name: 'socket', type: STRING, value: 'router' }],
    })
    .callback();
  assert.equal(
    router.data.components?.length ?? 0,
    0,
    'a protected socket without roles: admins only, no buttons',
  );
  const confirm = fake.button({ user: admin, customId: 'do:1:off', message: { id: info.original()!.id } });
  const question = await confirm.callback();
  assert.equal(question.data.embeds[0].title, '❓ Switch off 1 · router?');
  capture('confirm', confirm.original()!);
  await fake
    .button({
      user: admin,
      customId: question.data.components[0].components[1].custom_id,
      message: { id: confirm.original()!.id },
    })
    .callback();
});

test('/pdu log: a time on every line, "showing" counts, one line for the forced off', async () => {
  const log = await fake
    .command({
      user: admin,
      name: 'pdu',
      subcommand: 'log',
      options: [{ name: 'count', type: INTEGER, value: 25 }],
    })
    .callback();
  const lines = (log.data.content as string).split('\n');
  assert.match(lines[0]!, /^-# (all \d+|the latest 25) entries/);
  for (const line of lines.slice(1)) assert.match(line, /^<t:\d+:t> /);
  assert.ok(
    lines.some((line) => /⛔ \*\*olly\*\* retryforce|⛔ \*\*olly\*\* off 4 · nas · refused/.test(line)),
  );
  assert.ok(lines.some((line) => /✅ \*\*alice\*\* switched off 4 · nas · ⏭️ forced/.test(line)));
  capture('log', { content: log.data.content, embeds: [], components: [] });
});

test('the live status message, and the same board offline', async () => {
  const status = await fake.command({ user: viewer, name: 'status' }).callback();
  capture('status', { content: '', embeds: status.data.embeds, components: [] });
  assert.match(status.data.embeds[0].description, /^\*\*[\d.]+ W\*\* · \d+ of 16 on/);
  // The same sockets with the board offline, as the status message would render them.
  const now = service.status();
  const offline = statusEmbed(
    { ...now, board: { ...now.board, online: false } },
    {
      offlineSince: new Date(Date.now() - 180_000).toISOString(),
      lastReadingAt: new Date(Date.now() - 185_000).toISOString(),
    },
  );
  assert.match(offline.description!, /^🔴 \*\*Board offline\*\* since <t:\d+:R>/);
  assert.doesNotMatch(offline.description!, /🟢/);
  capture('status-offline', { content: '', embeds: [offline], components: [] });
});

test('/sockets off: the plan confirmed, progress as an embed with the running steps and Cancel, a result title that tells the truth', async () => {
  await requests(service).on('nas', { kind: 'api', id: 'setup' });
  const ask = fake.command({ user: admin, name: 'sockets', subcommand: 'off' });
  const question = await ask.callback();
  const lines = (question.data.embeds[0].description as string).split('\n');
  assert.match(lines[0]!, /^\*\*\d+ go off:\*\* 4 · nas, 6 · modem/);
  assert.equal(lines[1], '🔒 **Left alone (protected):** 1 · router');
  assert.match(question.data.embeds[0].description, /\*\*Shutdown steps first:\*\* 4 · nas \(3 steps\)/);
  capture('all-confirm', ask.original()!);
  await fake
    .button({
      user: admin,
      customId: question.data.components[0].components[0].custom_id,
      message: { id: ask.original()!.id },
    })
    .callback();
  const running = await ask.waitForOriginal((m) => /⏳ 4 · nas · before off 2\/3/.test(description(m)));
  assert.match(description(running), /^\*\*\d+\/\d+ done\*\* · 1 running/);
  assert.equal(running.embeds[0].title, '⏳ Switching every socket off');
  const cancelId = buttonIds(running)[0]!;
  assert.match(cancelId, /^cancelall:/);
  capture('all-running', running);
  // Cancel is checked: an operator may not switch every socket, so may not cancel it.
  const refused = await fake
    .button({ user: operator, customId: cancelId, message: { id: running.id } })
    .callback();
  assert.match(refused.data.content, /^⛔/);
  await fake.button({ user: admin, customId: cancelId, message: { id: running.id } }).callback();
  const done = await ask.waitForOriginal(
    (m) => m.components.length === 0 && /^(⚠️|❌|✅)/.test(m.embeds[0]?.title ?? ''),
  );
  assert.match(done.embeds[0].title, /^⚠️ \d+ of \d+ off · 1 cancelled$/);
  assert.match(description(done), /✖️ 4 · nas · cancelled/);
  assert.equal(service.info('nas').on, true, 'the cancelled socket stays on');
  assert.equal(service.info('modem').on, false);
  capture('all-result', done);
});
