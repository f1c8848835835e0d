import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, Routes } from 'discord.js';
import { pino } from 'pino';
import type { SimulatedBoard } from '../hardware/simulated-board.js';
import { AuditChannel } from '../src/bot/audit-channel.js';
import { BoardTimes } from '../src/bot/board-times.js';
import { StatusMessage } from '../src/bot/status-message.js';
import { PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { Actor } from '../src/pdu/actor.js';
import {
  type FakeDiscord,
  type Json,
  loggedInClient,
  type RecordedRequest,
  startFakeDiscord,
} from './helpers/fake-discord.js';
import { PduFixture } from './helpers/pdu-fixture.js';
import { requests } from './helpers/requests.js';

// The live status message and the audit channel: the real discord.js client
// against the fake Discord, the Pdu service on the in-process simulator.
// Changes are made on the service directly (as the panel or the API would).

const API: Actor = { kind: 'api', id: 'x' };
/** minIntervalMs of the status messages under test. */
const INTERVAL = 200;

const CHANNELS = [
  'general',
  'status-start',
  'status-change',
  'status-burst',
  'status-deleted',
  'status-restart',
  'status-500',
  'status-429',
  'status-stop',
  'status-telemetry',
  'status-boot',
  'audit-actions',
  'audit-boot',
  'audit-batch',
  'audit-rounds',
  'audit-refused',
  'audit-500',
  'status-offline',
];
const GUILD = {
  id: '1200000000000000001',
  name: 'Rack',
  roles: [],
  channels: CHANNELS.map((name, i) => ({ id: String(1200000000000000100n + BigInt(i)), name })),
};

function channel(name: string): string {
  const found = GUILD.channels.find((c) => c.name === name);
  assert.ok(found, name);
  return found.id;
}

/**
 * A socket's state as the status rows show it: its own row (`🟢  3 lamp  40 W`),
 * or the collapsed row of unnamed off sockets (`⚫ 1, 2, 4–16 off`).
 */
function socketState(embed: Json, n: number): string | undefined {
  const description: string = embed?.description ?? '';
  const icons: Record<string, string> = { '🟢': 'on', '⚫': 'off', '⚪': 'on', '❔': '?' };
  let collapsed = '';
  for (const line of description.split('\n')) {
    const row = /^(\S+) +(\d+) /.exec(line);
    if (row && Number(row[2]) === n) return icons[row[1]!];
    const group = /^(⚫|❔) ([\d–, ]+?),? *(off|unknown|off or unknown)?$/.exec(line);
    if (group || (collapsed && /^ {3}/.test(line))) collapsed += `${line.replace(/^\S+ /, '')} `;
  }
  for (const part of collapsed.replace(/off|unknown|or/g, '').split(',')) {
    const [from, to] = part.trim().split('–').map(Number);
    if (from !== undefined && n >= from && n <= (to ?? from)) return 'off';
  }
  return undefined;
}

function shows(embed: Json, states: Record<number, 'on' | 'off'>): boolean {
  return Object.entries(states).every(([n, state]) => socketState(embed, Number(n)) === state);
}

interface LogLine {
  level: number;
  msg: string;
  err?: { code?: number; status?: number };
}

/** A pino logger whose lines the test can wait for. */
function capturingLogger(): { logger: Logger; lines: LogLine[]; waitFor: (re: RegExp) => Promise<LogLine> } {
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string) {
        lines.push(JSON.parse(text) as LogLine);
        for (const waiter of waiters) waiter();
      },
    },
  );
  const waitFor = (re: RegExp): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no log line matching ${re}`));
      }, 5000);
      const check = (): void => {
        const line = lines.find((l) => re.test(l.msg));
        if (!line) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(line);
      };
      waiters.add(check);
      check();
    });
  return { logger, lines, waitFor };
}

describe('status message and audit channel, real discord.js client on the fake Discord', () => {
  let fake: FakeDiscord;
  let client: Client;
  let f: PduFixture | null = null;
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    fake = await startFakeDiscord({ guild: GUILD });
    client = await loggedInClient(fake);
  });

  after(async () => {
    await client?.destroy();
    await fake?.close();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await f?.dispose();
    f = null;
  });

  async function daemon(extra = '', switchSpacingMs = 0): Promise<PduFixture> {
    f = await PduFixture.create(extra);
    f.config.board.switchSpacingMs = switchSpacingMs;
    await f.startDaemon();
    return f;
  }

  function statusMessage(
    channelId: string,
    options: { logger?: Logger; telemetryRefreshMs?: number } = {},
  ): StatusMessage {
    const status = new StatusMessage({
      client,
      channelId,
      service: f!.service,
      logger: options.logger ?? pino({ level: 'silent' }),
      minIntervalMs: INTERVAL,
      ...(options.telemetryRefreshMs ? { telemetryRefreshMs: options.telemetryRefreshMs } : {}),
    });
    cleanups.push(() => status.stop());
    return status;
  }

  function auditChannel(
    channelId: string,
    options: { logger?: Logger; batchMs?: number } = {},
  ): AuditChannel {
    const audit = new AuditChannel({
      client,
      channelId,
      service: f!.service,
      logger: options.logger ?? pino({ level: 'silent' }),
      batchMs: options.batchMs ?? 20,
    });
    cleanups.push(() => audit.stop());
    return audit;
  }

  /** The one message in the channel. */
  function only(channelId: string) {
    const messages = fake.channelMessages(channelId);
    assert.equal(messages.length, 1, 'exactly one message in the channel');
    return messages[0]!;
  }

  function writes(method: string, channelId: string, since: number, messageId = ''): RecordedRequest[] {
    const path = messageId
      ? `/channels/${channelId}/messages/${messageId}`
      : `/channels/${channelId}/messages`;
    return fake.requests.filter((r) => r.method === method && r.path === path && r.at >= since);
  }

  // ------------------------------------------------------------------ status message

  test('start posts the status message: every socket, board online, no mentions', async () => {
    await daemon();
    const ch = channel('status-start');
    await statusMessage(ch).start();
    const message = only(ch);
    const embed = message.embeds[0];
    assert.equal(embed.title, `⚡ ${f!.config.name}`);
    assert.match(embed.description, /^no power readings · 0 of 16 on\n/);
    assert.doesNotMatch(embed.title, /offline/);
    for (let n = 1; n <= 16; n++) assert.equal(socketState(embed, n), 'off', `socket ${n}`);
    const [post] = writes('POST', ch, 0);
    assert.deepEqual(post?.body.allowed_mentions, { parse: [] });
  });

  test('a change made outside Discord (API actor on the service) edits the message', async () => {
    await daemon();
    const ch = channel('status-change');
    await statusMessage(ch).start();
    const { id } = only(ch);
    const since = performance.now();
    await requests(f!.service).on(3, API);
    const edited = await fake.waitForChannelMessage(ch, (m) => shows(m.embeds[0], { 3: 'on', 4: 'off' }));
    assert.equal(edited.id, id, 'the same message, edited');
    assert.equal(only(ch).id, id);
    assert.ok(writes('PATCH', ch, since, id).length >= 1);
    assert.equal(writes('POST', ch, since).length, 0);
  });

  test('a burst of 16 changes (all on) is coalesced: at most one edit per interval', async () => {
    // Switch-ons 5 ms apart: all on takes about 80 ms, well within one interval (200 ms), and
    // long enough that the first edit goes out while the burst is still running.
    await daemon('', 5);
    const ch = channel('status-burst');
    await statusMessage(ch).start();
    const { id } = only(ch);
    let changes = 0;
    f!.service.events.on('socketChanged', () => changes++);
    // A quiet period first (one interval since the message was posted), so that the burst's
    // first change is sent at once and the rest are coalesced into one more edit.
    await sleep(INTERVAL);
    const since = performance.now();
    await requests(f!.service).allOn(API);
    // On a loaded machine the burst itself can outlast an interval: each interval it spans allows one more edit.
    const burstMs = performance.now() - since;
    const allowed = 2 + Math.floor(burstMs / INTERVAL);
    const all = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [i + 1, 'on' as const]));
    // The final state: all on, nothing pending. Later writes would change nothing visible.
    await fake.waitForChannelMessage(
      ch,
      (m) => m.id === id && shows(m.embeds[0], all) && !m.embeds[0].description.includes('⏳'),
    );
    assert.equal(changes, 16);
    // Proving that nothing more comes: wait exactly one interval (the longest a coalesced edit waits).
    await sleep(INTERVAL);
    const patches = writes('PATCH', ch, since, id);
    assert.ok(
      patches.length >= 1 && patches.length <= allowed,
      `${patches.length} edits for 16 changes in ${Math.round(burstMs)} ms (at most ${allowed})`,
    );
    if (patches.length >= 2) {
      assert.ok(!shows(patches[0]!.body.embeds[0], all), 'the first edit went out during the burst');
      assert.ok(
        patches[0]!.at - since < INTERVAL,
        'the first change after a quiet period went out without waiting an interval',
      );
      // The interval counts from when an edit was sent; arrival times here also carry the
      // client's queueing delay, so only a clearly shorter gap would be a fault.
      for (let i = 1; i < patches.length; i++) {
        const gap = patches[i]!.at - patches[i - 1]!.at;
        assert.ok(gap >= INTERVAL * 0.75, `edits ${Math.round(gap)} ms apart`);
      }
    }
  });

  test('deleted by a user: the next change posts a new one', async () => {
    await daemon();
    const ch = channel('status-deleted');
    await statusMessage(ch).start();
    const first = only(ch).id;
    fake.deleteMessage(ch, first);
    const since = performance.now();
    await requests(f!.service).on(5, API);
    const fresh = await fake.waitForChannelMessage(ch, (m) => shows(m.embeds[0], { 5: 'on' }));
    assert.notEqual(fresh.id, first);
    assert.equal(only(ch).id, fresh.id);
    const [refused] = writes('PATCH', ch, since, first);
    assert.equal(refused?.status, 404);
    assert.equal(refused?.response.code, 10008);
    // The new one is the one kept up to date.
    await requests(f!.service).on(6, API);
    await fake.waitForChannelMessage(ch, (m) => m.id === fresh.id && shows(m.embeds[0], { 6: 'on' }));
    assert.equal(fake.channelMessages(ch).length, 1);
  });

  test('a restart reuses the previous status message (even with another bot message after it)', async () => {
    await daemon();
    const ch = channel('status-restart');
    const before = statusMessage(ch);
    await before.start();
    const { id } = only(ch);
    await before.stop();
    await client.rest.post(Routes.channelMessages(ch), { body: { content: 'not a status message' } });
    await requests(f!.service).on(2, API); // while the bot was away
    const since = performance.now();
    await statusMessage(ch).start();
    assert.equal(writes('POST', ch, since).length, 0, 'nothing posted');
    assert.equal(writes('PATCH', ch, since, id).length, 1, 'the previous message edited');
    const statuses = fake.channelMessages(ch).filter((m) => m.embeds.length > 0);
    assert.deepEqual(
      statuses.map((m) => m.id),
      [id],
    );
    assert.ok(shows(statuses[0]!.embeds[0], { 2: 'on' }));
    const [search] = fake.requests.filter((r) => r.method === 'GET' && r.path === `/channels/${ch}/messages`);
    assert.equal(search?.query.limit, '20');
  });

  test('a REST 500 on an edit is logged, not thrown; the next change gets through', async () => {
    await daemon();
    const ch = channel('status-500');
    const log = capturingLogger();
    await statusMessage(ch, { logger: log.logger }).start();
    const { id } = only(ch);
    // discord.js retries a 5xx 3 times: 4 failures make the edit fail.
    fake.failNext({ method: 'PATCH', path: /^\/channels\/\d+\/messages\/\d+$/ }, { status: 500, times: 4 });
    await requests(f!.service).on(6, API);
    const failed = await log.waitFor(/could not update the Discord status message/);
    assert.equal(failed.level, 50);
    assert.equal(only(ch).id, id);
    assert.equal(socketState(only(ch).embeds[0], 6), 'off', 'that edit was lost');
    await requests(f!.service).on(7, API);
    await fake.waitForChannelMessage(ch, (m) => m.id === id && shows(m.embeds[0], { 6: 'on', 7: 'on' }));
    await log.waitFor(/up to date again/);
  });

  test('a 429 on an edit: discord.js waits, the edit lands', async () => {
    await daemon();
    const ch = channel('status-429');
    await statusMessage(ch).start();
    const { id } = only(ch);
    const since = performance.now();
    fake.failNext(
      { method: 'PATCH', path: /^\/channels\/\d+\/messages\/\d+$/ },
      { status: 429, retryAfterMs: 30 },
    );
    await requests(f!.service).on(8, API);
    await fake.waitForChannelMessage(ch, (m) => m.id === id && shows(m.embeds[0], { 8: 'on' }));
    assert.deepEqual(
      writes('PATCH', ch, since, id)
        .slice(0, 2)
        .map((r) => r.status),
      [429, 200],
    );
  });

  test('stop() removes the listeners and clears a scheduled edit', async () => {
    await daemon();
    const ch = channel('status-stop');
    const status = statusMessage(ch);
    const listeners = f!.service.events.listenerCount('socketChanged');
    await status.start();
    assert.equal(f!.service.events.listenerCount('socketChanged'), listeners + 1);
    const { id } = only(ch);
    await requests(f!.service).on(9, API);
    await fake.waitForChannelMessage(ch, (m) => shows(m.embeds[0], { 9: 'on' }));
    await requests(f!.service).on(10, API); // within the interval of that edit: scheduled, not sent
    await status.stop();
    const since = performance.now();
    for (const event of [
      'socketChanged',
      'pending',
      'boardOnline',
      'boardOffline',
      'boardReset',
      'telemetry',
    ] as const) {
      assert.equal(f!.service.events.listenerCount(event), event === 'socketChanged' ? listeners : 0, event);
    }
    // Proving nothing is sent after stop(): wait exactly one interval, the longest a scheduled edit waits.
    await sleep(INTERVAL);
    assert.equal(writes('PATCH', ch, since, id).length, 0);
    assert.equal(socketState(only(ch).embeds[0], 10), 'off');
  });

  test('power readings alone refresh it, at most once per telemetry interval', async () => {
    await daemon();
    // 2.5 A: ±2 % noise moves the shown whole watts (575 ± 11 W) at nearly every reading;
    // at the default 120 mA (27.6 ± 0.6 W) the text often stays the same and nothing is sent.
    (f!.sim as SimulatedBoard).setLoad(0, 2500);
    const ch = channel('status-telemetry');
    await statusMessage(ch, { telemetryRefreshMs: 300 }).start();
    const { id } = only(ch);
    await requests(f!.service).on(1, API);
    const edit = await fake.waitForRequest(
      (r) => r.method === 'PATCH' && r.path.endsWith(id) && shows(r.body.embeds[0], { 1: 'on' }),
    );
    // No more changes: the simulator's readings (every 50 ms, ±2 %) are all that moves.
    const first = await fake.waitForRequest(
      (r) => r.method === 'PATCH' && r.path.endsWith(id),
      3000,
      edit.at + 0.001,
    );
    const second = await fake.waitForRequest(
      (r) => r.method === 'PATCH' && r.path.endsWith(id),
      3000,
      first.at + 0.001,
    );
    assert.ok(second.at - first.at >= 290, `refreshes ${Math.round(second.at - first.at)} ms apart`);
    assert.match(second.body.embeds[0].description, /^\*\*[\d.]+ W\*\* · \d+ of 16 on\n/);
  });

  test('a board reset (! BOOT) and its restores show in the status message', async () => {
    await daemon(
      'sockets:\n  - { number: 1, restore: on }\n  - { number: 2, name: nas, restore: last }\n  - { number: 3, restore: off }\n',
    );
    const ch = channel('status-boot');
    await statusMessage(ch).start();
    const { id } = only(ch);
    await requests(f!.service).on('nas', API);
    await requests(f!.service).on(3, API);
    await fake.waitForChannelMessage(ch, (m) => shows(m.embeds[0], { 1: 'off', 2: 'on', 3: 'on' }));
    const since = performance.now();
    (f!.sim as SimulatedBoard).reset();
    // The board comes up with socket 1 on (power-up mask), nas is restored (last), socket 3 stays off.
    await fake.waitForRequest(
      (r) =>
        r.method === 'PATCH' &&
        r.path.endsWith(id) &&
        shows(r.body.embeds[0], { 1: 'on', 2: 'on', 3: 'off' }) &&
        !r.body.embeds[0].description.includes('⏳'),
      5000,
      since,
    );
  });

  test('the board going offline: the title and first line say so, no reading looks live; back online it is live again', async () => {
    await daemon('sockets:\n  - { number: 2, name: nas }\n');
    await requests(f!.service).on('nas', API);
    const ch = channel('status-offline');
    const times = new BoardTimes({ service: f!.service });
    times.start();
    const status = new StatusMessage({
      client,
      channelId: ch,
      service: f!.service,
      logger: pino({ level: 'silent' }),
      minIntervalMs: INTERVAL,
      times: () => times.now(),
    });
    cleanups.push(async () => {
      times.stop();
      await status.stop();
    });
    await status.start();
    const { id } = only(ch);
    const offline = once(f!.service.events, 'boardOffline', { signal: AbortSignal.timeout(10_000) });
    (f!.sim as SimulatedBoard).faults.muted = true;
    // An idle board is not asked anything: a request that times out takes it offline.
    await requests(f!.service)
      .on(3, API)
      .catch(() => undefined);
    await offline;
    const edit = await fake.waitForRequest(
      (r) => r.method === 'PATCH' && r.path.endsWith(id) && /offline/.test(r.body.embeds[0].title),
      10_000,
    );
    const embed = edit.body.embeds[0];
    assert.equal(embed.title, `🔴 ${f!.config.name} · board offline`);
    assert.match(
      embed.description,
      /^🔴 \*\*Board offline\*\* since <t:\d+:R>: nothing can be switched until it is back\.\n/,
    );
    assert.match(embed.description, /\n⚪ {2}2 nas\n/, 'the last known state, without its reading');
    assert.doesNotMatch(embed.description, /🟢/);
    const online = once(f!.service.events, 'boardOnline', { signal: AbortSignal.timeout(10_000) });
    (f!.sim as SimulatedBoard).faults.muted = false;
    await online;
    await fake.waitForRequest(
      (r) => r.method === 'PATCH' && r.path.endsWith(id) && r.body.embeds[0].title === `⚡ ${f!.config.name}`,
      10_000,
      edit.at + 0.001,
    );
  });

  test('an unknown channel: start() and changes log, nothing throws', async () => {
    await daemon();
    const log = capturingLogger();
    await statusMessage('1299999999999999999', { logger: log.logger }).start();
    const failed = await log.waitFor(/could not update/);
    assert.equal(failed.err?.code, 10003);
    await requests(f!.service).on(4, API);
    await auditChannel('1299999999999999999', { logger: log.logger }).start();
    await requests(f!.service).off(4, API);
    await log.waitFor(/could not post to the Discord audit channel/);
  });

  // ------------------------------------------------------------------ audit channel

  test('audit: on/off/refusal made on the service appear with actor, action, socket, result', async () => {
    await daemon('sockets:\n  - { number: 3, name: lamp }\n');
    const ch = channel('audit-actions');
    auditChannel(ch).start();
    await requests(f!.service).on(3, API);
    await requests(f!.service).off(3, API, { reason: 'maintenance @everyone' });
    f!.service.recordRefusal(
      API,
      'off',
      5,
      new PduError('FORBIDDEN', 'switching socket 5 needs the operator role'),
    );
    await fake.waitForChannelMessage(ch, (m) =>
      /^✅ \*\*x \(api\)\*\* switched on 3 · lamp$/m.test(m.content),
    );
    const off = await fake.waitForChannelMessage(ch, (m) => m.content.includes('switched off 3 · lamp'));
    assert.match(
      off.content,
      /^✅ \*\*x \(api\)\*\* switched off 3 · lamp · reason: “maintenance @\u200beveryone”$/m,
    );
    await fake.waitForChannelMessage(ch, (m) =>
      /^⛔ \*\*x \(api\)\*\* off 5 · refused: switching socket 5 needs the operator role$/m.test(m.content),
    );
    for (const r of writes('POST', ch, 0)) assert.deepEqual(r.body.allowed_mentions, { parse: [] });
  });

  test('audit: a restore after ! BOOT is posted with the system actor', async () => {
    await daemon('sockets:\n  - { number: 2, name: nas, restore: last }\n  - { number: 1, restore: on }\n');
    const ch = channel('audit-boot');
    auditChannel(ch).start();
    await requests(f!.service).on('nas', API);
    (f!.sim as SimulatedBoard).reset();
    const restored = await fake.waitForChannelMessage(ch, (m) => m.content.includes('PiPDU'));
    assert.match(restored.content, /^✅ \*\*PiPDU\*\* switched on 2 · nas · restore after a board reset$/m);
  });

  test('audit: a burst is batched into few messages within 2000 characters; stop() posts what is queued', async () => {
    // Switch-ons 5 ms apart: the burst outlasts the start of the first round (a few ms after the first line).
    await daemon('', 5);
    const ch = channel('audit-batch');
    // Rounds 10 s apart: after the first line's round, only stop() can post within this test.
    const audit = auditChannel(ch, { batchMs: 10_000 });
    audit.start();
    await requests(f!.service).allOn(API);
    const early = await fake.waitForChannelMessage(ch, () => true);
    assert.equal(fake.channelMessages(ch).length, 1, 'one round before stop(): one message');
    const earlyLines = early.content.split('\n').length;
    assert.ok(earlyLines < 17, `${earlyLines} lines in the first round`);
    const started = performance.now();
    await audit.stop();
    assert.ok(performance.now() - started < 3000);
    const messages = fake.channelMessages(ch);
    assert.ok(messages.length >= 2 && messages.length <= 3, `${messages.length} messages`);
    for (const m of messages) assert.ok(m.content.length <= 2000);
    const lines = messages.flatMap((m) => m.content.split('\n'));
    // The lines posted before the all-on summary arrived stand alone; the rest are merged into its one line.
    const alone = lines.filter((line) => /switched on \d+$/.test(line));
    const summary = /^✅ \*\*x \(api\)\*\* every socket on · (\d+) switched/.exec(lines.at(-1)!);
    assert.ok(summary, lines.at(-1));
    assert.equal(alone.length + Number(summary[1]), 16, 'every socket once');
    assert.equal(lines.length, alone.length + 1, 'one line per action');
  });

  test('audit: the first line after a quiet period goes at once; rounds start at least batchMs apart', async () => {
    await daemon();
    const ch = channel('audit-rounds');
    const batchMs = 300;
    auditChannel(ch, { batchMs }).start();
    const since = performance.now();
    await requests(f!.service).on(1, API);
    const first = await fake.waitForRequest(
      (r) => r.method === 'POST' && r.path === `/channels/${ch}/messages`,
    );
    assert.ok(
      first.at - since < batchMs,
      `the first line was posted ${Math.round(first.at - since)} ms later`,
    );
    await requests(f!.service).on(2, API);
    await requests(f!.service).on(3, API);
    const second = await fake.waitForChannelMessage(ch, (m) => m.content.includes('switched on 3'));
    assert.ok(second.content.includes('switched on 2'), 'lines within a round go together');
    const posts = writes('POST', ch, since);
    assert.equal(posts.length, 2);
    // Arrival times also carry the client's queueing delay: only a clearly shorter gap is a fault.
    const gap = posts[1]!.at - posts[0]!.at;
    assert.ok(gap >= batchMs * 0.75, `rounds ${Math.round(gap)} ms apart`);
  });

  test('audit: a post Discord refuses (403) is logged and dropped; later actions still get through', async () => {
    await daemon();
    const ch = channel('audit-refused');
    const log = capturingLogger();
    auditChannel(ch, { logger: log.logger }).start();
    fake.failNext(
      { method: 'POST', path: new RegExp(`^/channels/${ch}/messages$`) },
      { status: 403, body: { message: 'Missing Access', code: 50001 } },
    );
    await requests(f!.service).on(11, API);
    const failed = await log.waitFor(/could not post to the Discord audit channel/);
    assert.equal(failed.err?.code, 50001);
    await requests(f!.service).on(12, API);
    const later = await fake.waitForChannelMessage(ch, (m) => m.content.includes('switched on 12'));
    assert.doesNotMatch(later.content, /on 11/);
  });

  test('audit: a post that fails with 5xx (after discord.js retries) is tried once more', async () => {
    await daemon();
    const ch = channel('audit-500');
    const log = capturingLogger();
    auditChannel(ch, { logger: log.logger }).start();
    // discord.js retries a 5xx 3 times: 4 failures make the post fail.
    fake.failNext(
      { method: 'POST', path: new RegExp(`^/channels/${ch}/messages$`) },
      { status: 503, times: 4 },
    );
    await requests(f!.service).on(13, API);
    await log.waitFor(/trying once more/);
    const posted = await fake.waitForChannelMessage(ch, (m) => m.content.includes('switched on 13'));
    assert.equal(fake.channelMessages(ch).length, 1);
    assert.equal(posted.content.split('\n').length, 1);
  });
});
