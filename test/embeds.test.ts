import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type APIEmbed, EmbedBuilder, embedLength } from 'discord.js';
import type { AuditEntry } from '../src/audit/audit-log.js';
import {
  allConfirmEmbed,
  allProgressEmbed,
  allResultEmbed,
  answeredEmbed,
  auditLine,
  auditLines,
  BUTTON_LABEL_LIMIT,
  COLORS,
  confirmEmbed,
  confirmLabel,
  EMBED_LIMITS,
  errorMessage,
  logMessage,
  MESSAGE_LIMIT,
  progressEmbed,
  ROW_WIDTH,
  ranges,
  socketInfoEmbed,
  statusEmbed,
} from '../src/bot/embeds.js';
import { Plan } from '../src/bot/plan.js';
import { type SocketConfig, validateConfig } from '../src/config/schema.js';
import { BoardOfflineError, PduError } from '../src/errors.js';
import type { StepReport } from '../src/pdu/hooks/phase.js';
import type { AllResult, PduStatus, PendingWork, SocketInfo, SwitchResult } from '../src/pdu/types.js';

// ------------------------------------------------------------------ fixtures

function socket(number: number, overrides: Partial<SocketInfo> = {}): SocketInfo {
  return {
    number,
    name: null,
    channel: number - 1,
    on: false,
    assumed: false,
    protected: false,
    restore: 'off',
    pending: null,
    currentMa: null,
    watts: null,
    apparentVa: null,
    powerFactor: 1,
    realWatts: null,
    changedAt: null,
    ...overrides,
  };
}

function step(overrides: Partial<StepReport> = {}): StepReport {
  return {
    phase: 'preOff',
    index: 1,
    total: 3,
    kind: 'ssh',
    label: 'ssh pi@192.168.1.20: sudo shutdown -h now',
    status: 'ok',
    startedAt: '2024-05-01T10:00:00.000Z',
    durationMs: 1234,
    ...overrides,
  };
}

function pending(overrides: Partial<PendingWork> = {}): PendingWork {
  return {
    action: 'off',
    actor: { kind: 'discord', id: '111', name: 'alice' },
    since: '2024-05-01T10:00:00.000Z',
    requests: 1,
    step: step({
      index: 2,
      label: 'wait for 192.168.1.20:22 to go down',
      status: 'running',
      durationMs: null,
    }),
    ...overrides,
  };
}

function status(overrides: Partial<PduStatus> = {}, sockets?: SocketInfo[]): PduStatus {
  return {
    name: 'rack-pdu',
    mainsVoltage: 230,
    board: {
      driver: 'prp1',
      online: true,
      reportsState: true,
      identity: {
        protocol: 'PIPDU/1',
        channels: 16,
        firmware: '1.4.2',
        features: [],
        bootId: 'b1',
        serial: null,
      },
      stats: { requests: 0, timeouts: 0, reconnects: 0, garbageLines: 0, unknownEvents: 0, staleReplies: 0 },
    },
    sockets:
      sockets ??
      Array.from({ length: 16 }, (_, i) =>
        socket(i + 1, {
          name: i === 0 ? 'pi-self' : i === 4 ? 'nas' : null,
          on: i % 3 === 0,
          protected: i === 0,
          watts: i % 3 === 0 ? 12.4 * (i + 1) : null,
          pending: i === 4 ? pending() : null,
        }),
      ),
    totalWatts: 523.7,
    ...overrides,
  };
}

function socketConfig(fields: Record<string, unknown>): SocketConfig {
  const result = validateConfig({ version: 1, board: { driver: 'simulator' }, sockets: [fields] });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.config.sockets.find((s) => s.number === fields.number)!;
}

/** Every Discord limit, checked by hand and by discord.js's own validators (the builders' setters). */
export function assertWithinLimits(embed: APIEmbed): void {
  assert.ok((embed.title?.length ?? 0) <= EMBED_LIMITS.title, `title ${embed.title?.length}`);
  assert.ok(
    (embed.description?.length ?? 0) <= EMBED_LIMITS.description,
    `description ${embed.description?.length}`,
  );
  assert.ok((embed.fields?.length ?? 0) <= EMBED_LIMITS.fields, `fields ${embed.fields?.length}`);
  for (const field of embed.fields ?? []) {
    assert.ok(
      field.name.length > 0 && field.name.length <= EMBED_LIMITS.fieldName,
      `field name ${field.name}`,
    );
    assert.ok(field.value.length > 0 && field.value.length <= EMBED_LIMITS.fieldValue, `field ${field.name}`);
  }
  assert.ok((embed.footer?.text.length ?? 0) <= EMBED_LIMITS.footer);
  assert.ok(embedLength(embed) <= EMBED_LIMITS.total, `total ${embedLength(embed)}`);
  const builder = new EmbedBuilder();
  if (embed.title) builder.setTitle(embed.title);
  if (embed.description) builder.setDescription(embed.description);
  if (embed.fields) builder.addFields(embed.fields);
  if (embed.footer) builder.setFooter({ text: embed.footer.text });
  if (embed.color !== undefined) builder.setColor(embed.color);
  if (embed.timestamp) builder.setTimestamp(new Date(embed.timestamp));
}

/** All the text of an embed, for content checks. */
function text(embed: APIEmbed): string {
  return [
    embed.title,
    embed.description,
    ...(embed.fields ?? []).flatMap((field) => [field.name, field.value]),
    embed.footer?.text,
  ].join('\n');
}

function table(embed: APIEmbed): string[] {
  const match = /```\n([\s\S]*?)\n```/.exec(embed.description ?? '');
  assert.ok(match, 'a code-block table');
  return match[1]!.split('\n');
}

const HOSTILE =
  '**bold** _under_ `tick` ~~strike~~ ||spoiler|| [click](https://evil.example) @everyone <@123>\nline two';

// ------------------------------------------------------------------ status
/** Columns a row takes in a monospace code block: an emoji is two, a variation selector none. */
export function columns(row: string): number {
  let width = 0;
  for (const char of row) {
    const code = char.codePointAt(0)!;
    if (code === 0xfe0f || code === 0x200b) continue;
    width += code > 0xffff || (code >= 0x2190 && code <= 0x2bff) ? 2 : 1;
  }
  return width;
}

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const ALICE = { kind: 'discord' as const, id: '111', name: 'alice' };

// ------------------------------------------------------------------ status

describe('statusEmbed', () => {
  const longNames = Array.from({ length: 16 }, (_, i) =>
    socket(i + 1, {
      name: `server-${String(i + 1).padStart(2, '0')}-abcdefg`.slice(0, 16),
      on: i % 2 === 0,
      watts: i % 2 === 0 ? 1234.5 : 0.4,
      protected: i < 3,
      pending: i >= 12 ? pending() : null,
    }),
  );

  test('16 sockets with 16-character names and pending work: every row fits a phone (≤ 36 columns)', () => {
    const embed = statusEmbed(status({}, longNames));
    const rows = table(embed);
    assert.equal(rows.length, 16);
    for (const row of rows) assert.ok(columns(row) <= ROW_WIDTH, `${columns(row)} columns: ${row}`);
    assert.match(rows[0]!, /^🟢 {2}1 server-01-abcdef +1235 W 🔒$/);
    assert.equal(rows[1], '⚫  2 server-02-abcdef 🔒', 'an off socket shows no power');
    assert.match(rows[12]!, /⏳/, 'busy in the row');
    assert.equal(embed.fields?.length, 4, 'pending work in its own field per socket');
    assert.match(embed.fields![0]!.name, /^⏳ 13 · server-13/);
    assert.match(embed.fields![0]!.value, /^Switching off · alice <t:\d+:R>\nbefore off 2\/3: wait for/);
    assertWithinLimits(embed);
  });

  test('unnamed idle off sockets collapse into one row; on ones stay', () => {
    const embed = statusEmbed(status());
    const rows = table(embed);
    assert.ok(rows.includes('⚫ 2, 3, 6, 8, 9, 11, 12, 14, 15 off'), rows.join('\n'));
    assert.ok(rows.includes('🟢  4 -         50 W'), 'an unnamed socket that is on keeps its row');
    assert.ok(rows.includes('⚫  5 nas ⏳'), 'a named one too');
    assert.equal(rows.filter((row) => row.includes('0.0 W')).length, 0, 'no 0.0 W rows');
  });

  test('the first line says what matters; the footer names the board, not the title again', () => {
    const embed = statusEmbed(status());
    assert.equal(embed.title, '⚡ rack-pdu');
    assert.match(embed.description!, /^\*\*524 W\*\* · 6 of 16 on\n/);
    assert.equal(
      embed.footer?.text,
      'prp1 board · PIPDU/1 1.4.2 · 16 channels · 230 V · apparent power (A × V)',
    );
    assert.doesNotMatch(embed.footer!.text, /rack-pdu/);
    assert.equal(embed.color, COLORS.running, 'busy: blurple');
  });

  test('offline: the first line says so, nothing looks live, the last reading has its time', () => {
    const offline = status({ board: { ...status().board, online: false } });
    const embed = statusEmbed(offline, { offlineSince: at(-120), lastReadingAt: at(-130) });
    assert.equal(embed.title, '🔴 rack-pdu · board offline');
    const [first, second] = embed.description!.split('\n');
    assert.equal(
      first,
      `🔴 **Board offline** since <t:${T0 / 1000 - 120}:R>: nothing can be switched until it is back.`,
    );
    assert.equal(
      second,
      `Shown: the last known states (⚪ was on); last reading <t:${T0 / 1000 - 130}:R>: 524 W.`,
    );
    const rows = table(embed);
    assert.equal(rows.filter((row) => row.startsWith('🟢')).length, 0, 'no green: nothing is live');
    assert.ok(rows.some((row) => row.startsWith('⚪  1 pi-self')));
    assert.equal(rows.filter((row) => / W/.test(row)).length, 0, 'no readings in the rows');
    assert.equal(embed.color, COLORS.stale);
    assertWithinLimits(embed);
  });

  test('an off socket drawing power is flagged (the legacy board case)', () => {
    const legacy = status({ board: { ...status().board, reportsState: false } }, [
      socket(1, { name: 'printer', on: false, watts: 580, assumed: true }),
      socket(2, { name: 'nas', on: true, watts: 40, assumed: true }),
    ]);
    const embed = statusEmbed(legacy);
    assert.match(embed.description!, /⚠️ \*\*1 · printer\*\* draws 580 W but is shown off: check it\./);
    assert.match(embed.description!, /This board can't report its relays/);
    assert.ok(table(embed).includes('⚫  1 printer  580 W ⚠️'), table(embed).join('\n'));
    assert.equal(embed.color, COLORS.warn);
  });

  test('within the limits with hostile input: huge step labels, 16 pending sockets', () => {
    const sockets = Array.from({ length: 16 }, (_, i) =>
      socket(i + 1, {
        name: 'x'.repeat(40),
        on: true,
        watts: 99999,
        pending: pending({ step: step({ label: HOSTILE.repeat(50), status: 'running' }), requests: 9 }),
      }),
    );
    const embed = statusEmbed(status({ name: HOSTILE.repeat(10) }, sockets), { alarms: [] });
    assertWithinLimits(embed);
    assert.doesNotMatch(JSON.stringify(embed), /[^\\]\*\*bold/);
  });
});

describe('ranges', () => {
  test('runs of three or more become a range', () => {
    assert.equal(ranges([1, 2, 3, 5, 6, 8, 10, 11, 12, 13]), '1–3, 5, 6, 8, 10–13');
  });
});

// ------------------------------------------------------------------ one socket

describe('socketInfoEmbed', () => {
  const config = socketConfig({
    number: 5,
    name: 'nas',
    protected: true,
    roles: ['Home_Lab', '112233'],
    restore: 'last',
    offTime: '10s',
    preOff: [
      { exec: { argv: ['/usr/local/bin/notify', 'nas', 'going_down'] } },
      { waitHostDown: { host: '192.168.1.20' } },
    ],
    postOn: [{ waitHostUp: { host: '192.168.1.20' } }],
  });

  test('who last switched it and when, its steps, and no internal channel field', () => {
    const embed = socketInfoEmbed(socket(5, { name: 'nas', on: true, watts: 121, protected: true }), config, {
      lastSwitch: { actor: ALICE, time: at(-60), action: 'on' },
    });
    assert.equal(embed.title, 'Socket 5 · nas');
    assert.match(embed.description!, /^🟢 \*\*on\*\* · 121 W\nLast switched on by \*\*alice\*\* <t:\d+:R>/);
    assert.equal(
      embed.fields?.some((field) => /channel/i.test(field.name)),
      false,
    );
    assert.match(text(embed), /Steps before off/);
    assert.match(text(embed), /1\. exec \/usr\/local\/bin\/notify nas going\\_down/);
    assertWithinLimits(embed);
  });

  test('offline: the last known state, no power', () => {
    const embed = socketInfoEmbed(socket(5, { name: 'nas', on: true, watts: 121 }), config, {
      offline: true,
    });
    assert.match(embed.description!, /^⚪ \*\*last known on\*\*: the board is offline/);
    assert.equal(
      embed.fields?.some((field) => field.name === 'Power'),
      false,
    );
  });
});

// ------------------------------------------------------------------ progress

const PIPELINE = socketConfig({
  number: 4,
  name: 'nas',
  preOff: [
    {
      ssh: {
        host: 'nas.lan',
        user: 'root',
        command: 'sudo poweroff',
        key: '/k',
        hostKey: 'ssh-ed25519 AAAA',
      },
    },
    { waitHostDown: { host: 'nas.lan', timeout: '2m' } },
    { delay: '30s' },
  ],
});

function reportOf(plan: Plan, index: number, overrides: Partial<StepReport>): StepReport {
  const line = plan.lines.filter((l) => l.kind === 'step')[index - 1]!;
  return {
    phase: line.phase!,
    index: line.index!,
    total: line.total!,
    kind: line.step!.kind,
    label: line.label,
    status: 'running',
    startedAt: null,
    durationMs: null,
    ...overrides,
  };
}

describe('progressEmbed: a three-step pipeline, moment by moment', () => {
  const nas = socket(4, { name: 'nas', on: true, watts: 121 });
  const base = { direction: 'off' as const, actor: ALICE, reason: 'disk swap' };

  test('from the start: every step waiting, the relay as a line, the action in the title, the reason', () => {
    const plan = new Plan(PIPELINE, 'off');
    const embed = progressEmbed({ ...base, socket: nas, plan: plan.lines, state: 'running' });
    assert.equal(embed.title, '⏳ Switching off 4 · nas');
    assert.equal(
      embed.description,
      [
        '◻️ before off 1/3 · ssh root@nas.lan: sudo poweroff',
        '◻️ before off 2/3 · wait for nas.lan:22 to go down',
        '◻️ before off 3/3 · wait 30 s',
        '◻️ cut power',
        '',
        '-# asked by alice · reason: “disk swap”',
      ].join('\n'),
    );
    assert.equal(embed.color, COLORS.running);
  });

  test('step 1 done, step 2 running with when it gives up; then the delay with when it is done', () => {
    const plan = new Plan(PIPELINE, 'off');
    plan.step(reportOf(plan, 1, { status: 'running', startedAt: at(0) }), at(0));
    plan.step(
      reportOf(plan, 1, { status: 'ok', startedAt: at(0), durationMs: 1200, summary: 'exit 0 in 1.2 s' }),
      at(1),
    );
    plan.step(reportOf(plan, 2, { status: 'running', startedAt: at(2) }), at(2));
    let lines = progressEmbed({
      ...base,
      socket: nas,
      plan: plan.lines,
      state: 'running',
    }).description!.split('\n');
    assert.equal(
      lines[0],
      '✅ before off 1/3 · ssh root@nas.lan: sudo poweroff · 1.2 s · exit 0',
      'one duration',
    );
    assert.equal(
      lines[1],
      `⏳ before off 2/3 · wait for nas.lan:22 to go down · gives up <t:${T0 / 1000 + 122}:R>`,
    );
    assert.equal(lines[2], '◻️ before off 3/3 · wait 30 s');
    plan.step(reportOf(plan, 2, { status: 'ok', startedAt: at(2), durationMs: 8000 }), at(10));
    plan.step(reportOf(plan, 3, { status: 'running', startedAt: at(10) }), at(10));
    lines = progressEmbed({ ...base, socket: nas, plan: plan.lines, state: 'running' }).description!.split(
      '\n',
    );
    assert.equal(lines[2], `⏳ before off 3/3 · wait 30 s · done <t:${T0 / 1000 + 40}:R>`);
  });

  test('done: the title tells the new state; every line done', () => {
    const plan = new Plan(PIPELINE, 'off');
    plan.step(reportOf(plan, 3, { status: 'running', startedAt: at(10) }), at(10));
    plan.relay(false, at(40));
    const steps = [1, 2, 3].map((i) =>
      reportOf(plan, i, { status: 'ok', startedAt: at(i), durationMs: 1000 }),
    );
    plan.finish(steps, 'done', true);
    const embed = progressEmbed({
      ...base,
      socket: socket(4, { name: 'nas', on: false }),
      plan: plan.lines,
      state: 'done',
      changed: true,
    });
    assert.equal(embed.title, '✅ 4 · nas is off');
    assert.match(embed.description!, /✅ cut power/);
    assert.equal(embed.color, COLORS.ok);
  });

  test('failed: one sentence first, the socket is still on and the relay untouched, steps not run, details small', () => {
    const plan = new Plan(PIPELINE, 'off');
    const message = 'ssh root@nas.lan: cannot connect: connection refused';
    plan.finish(
      [
        reportOf(plan, 1, {
          status: 'failed',
          startedAt: at(0),
          durationMs: 3000,
          error: { code: 'SSH_UNREACHABLE', message },
        }),
      ],
      'failed',
      false,
    );
    const embed = progressEmbed({
      ...base,
      socket: socket(4, { name: 'nas', on: true, watts: 216 }),
      plan: plan.lines,
      state: 'failed',
      error: {
        code: 'SSH_UNREACHABLE',
        message: `preOff step 1 of 3 (ssh root@nas.lan: sudo poweroff) failed: ${message}`,
      },
    });
    assert.equal(embed.title, "❌ Couldn't switch off 4 · nas");
    const lines = embed.description!.split('\n');
    assert.equal(lines[0], "Couldn't SSH to root@nas.lan (connection refused).");
    assert.equal(lines[1], '**nas is still on, 216 W**; the relay was not touched.');
    assert.equal(lines[3], '❌ before off 1/3 · ssh root@nas.lan: sudo poweroff · failed after 3 s');
    assert.equal(lines[4], '➖ before off 2/3 · wait for nas.lan:22 to go down · not run');
    assert.equal(lines[6], '➖ cut power · not run');
    assert.match(embed.description!, /\n-# SSH\\_UNREACHABLE: before off step 1 of 3 \(ssh root@nas\.lan/);
    assert.doesNotMatch(embed.description!, /preOff/, 'one language for phases');
    assert.doesNotMatch(embed.description!, /\u200b/, 'root@host can be copied');
    assert.equal(embed.description!.split(message).length - 1, 1, 'the error once');
    assert.equal(embed.color, COLORS.error);
  });
});

describe('progressEmbed: a cycle', () => {
  const config = socketConfig({
    number: 2,
    name: 'modem',
    offTime: '10s',
    postOn: [{ waitHostUp: { host: 'modem.lan' } }],
  });

  test('the whole plan, "back on <t:…:R>" during the off-time, then done', () => {
    const plan = new Plan(config, 'cycle');
    const base = {
      socket: socket(2, { name: 'modem', on: true }),
      direction: 'cycle' as const,
      actor: ALICE,
    };
    let embed = progressEmbed({ ...base, plan: plan.lines, state: 'running' });
    assert.equal(embed.title, '⏳ Power-cycling 2 · modem');
    assert.deepEqual(embed.description!.split('\n').slice(0, 4), [
      '◻️ cut power',
      '◻️ stay off 10 s',
      '◻️ power on',
      '◻️ after on 1/1 · wait for modem.lan:22 to come up',
    ]);
    plan.relay(false, at(0));
    embed = progressEmbed({ ...base, plan: plan.lines, state: 'running', backOnAt: plan.backOnAt });
    assert.match(embed.description!, new RegExp(`^Off now; back on <t:${T0 / 1000 + 10}:R>\\.`));
    assert.match(embed.description!, new RegExp(`⏳ stay off 10 s · back on <t:${T0 / 1000 + 10}:R>`));
    plan.relay(true, at(10));
    plan.step(
      {
        phase: 'postOn',
        index: 1,
        total: 1,
        kind: 'waitHostUp',
        label: 'x',
        status: 'ok',
        startedAt: at(10),
        durationMs: 5000,
      },
      at(15),
    );
    plan.finish([], 'done', true);
    embed = progressEmbed({ ...base, plan: plan.lines, state: 'done', changed: true });
    assert.equal(embed.title, '✅ 2 · modem was power-cycled');
    assert.match(embed.description!, /✅ stayed off 10 s\n✅ power on\n✅ after on 1\/1/);
  });

  test('within the limits with 200 steps and hostile labels', () => {
    const many = socketConfig({
      number: 3,
      preOff: Array.from({ length: 200 }, () => ({ exec: { argv: ['/bin/echo', HOSTILE.repeat(5)] } })),
    });
    const plan = new Plan(many, 'off');
    const embed = progressEmbed({
      socket: socket(3),
      direction: 'off',
      actor: { kind: 'api', id: HOSTILE },
      plan: plan.lines,
      state: 'failed',
      error: { code: 'COMMAND_FAILED', message: HOSTILE.repeat(100) },
      warnings: Array.from({ length: 50 }, () => HOSTILE.repeat(10)),
      reason: HOSTILE.repeat(20),
    });
    assertWithinLimits(embed);
    assert.doesNotMatch(embed.description!, /@everyone/);
  });
});

// ------------------------------------------------------------------ confirmations

describe('confirmations', () => {
  const router = socketConfig({
    number: 1,
    name: 'router',
    protected: true,
    preOff: [
      { ssh: { host: 'router.lan', user: 'root', command: 'sync', key: '/k', hostKey: 'ssh-ed25519 AAAA' } },
    ],
  });

  test('one protected socket: red, named, its load, its shutdown steps, when it expires, a button named for it', () => {
    const embed = confirmEmbed({
      socket: socket(1, { name: 'router', on: true, watts: 26, protected: true }),
      config: router,
      direction: 'off',
      expiresAt: at(30),
    });
    assert.equal(embed.title, '❓ Switch off 1 · router?');
    assert.equal(embed.color, COLORS.error);
    assert.equal(
      embed.description,
      [
        'router is **on**, drawing **26 W**.',
        'Its power is cut. It is protected: whatever runs on it loses power.',
        '',
        '**Shutdown steps first:**',
        '1. ssh root@router.lan: sync',
        '',
        `Expires <t:${T0 / 1000 + 30}:R>.`,
      ].join('\n'),
    );
    assert.equal(confirmLabel('off', { number: 1, name: 'router' }), 'Switch off router');
    assert.ok(confirmLabel('cycle', { number: 1, name: 'x'.repeat(200) }).length <= BUTTON_LABEL_LIMIT);
    const answered = answeredEmbed(embed, 'confirmed', 'alice', at(5));
    assert.match(answered.description!, /✅ Confirmed by \*\*alice\*\* <t:\d+:R>\.$/);
    assert.doesNotMatch(answered.description!, /Expires/);
  });

  test('all sockets off: what goes off, what is left alone, which run shutdown steps first', () => {
    const sockets = [
      socket(1, { name: 'router', on: true, protected: true }),
      socket(2, { name: 'nas', on: true }),
      socket(3, { name: 'lab', on: true }),
      socket(4, { on: false }),
    ];
    const configs = [router, PIPELINE, socketConfig({ number: 3, name: 'lab' })].map((c, i) => ({
      ...c,
      number: i + 1,
    }));
    const embed = allConfirmEmbed({ action: 'off', sockets, configs, expiresAt: at(30) });
    assert.equal(embed.title, '❓ Switch every socket off?');
    const lines = embed.description!.split('\n');
    assert.equal(lines[0], '**2 go off:** 2 · nas, 3 · lab');
    assert.equal(lines[1], '🔒 **Left alone (protected):** 1 · router');
    assert.equal(lines[2], '▫️ Already off: 4');
    assert.equal(lines[3], '**Shutdown steps first:** 2 · nas (3 steps)');
    assertWithinLimits(embed);
  });
});

// ------------------------------------------------------------------ all sockets

describe('all sockets', () => {
  function ok(number: number, name: string | null, changed: boolean): AllResult['outcomes'][number] {
    const result: SwitchResult = {
      socket: socket(number, { name, on: false }),
      action: 'off',
      changed,
      durationMs: 0,
      steps: [],
      warnings: [],
    };
    return { socket: number, ok: true, result };
  }

  test('progress: "9/13 done · 2 running · 1 failed", the running steps, the failure in a sentence', () => {
    const ended = new Map<
      number,
      { outcome: 'switched' | 'noChange' | 'failed' | 'cancelled'; code?: string; message?: string }
    >();
    for (let n = 1; n <= 8; n++) ended.set(n, { outcome: 'switched' });
    ended.set(9, { outcome: 'failed', code: 'SSH_UNREACHABLE', message: 'cannot connect' });
    const running = new Map([
      [10, 'before off 1/2: ssh root@a: poweroff'],
      [11, 'before off 2/2: wait 30 s'],
    ]);
    const embed = allProgressEmbed({
      action: 'off',
      targets: Array.from({ length: 13 }, (_, i) => i + 1),
      names: { 9: 'lab-server' },
      ended,
      running,
      actor: ALICE,
    });
    const lines = embed.description!.split('\n');
    assert.equal(lines[0], '**9/13 done** · 2 running · 1 failed');
    assert.equal(lines[2], '⏳ 10 · before off 1/2: ssh root@a: poweroff');
    assert.equal(lines[4], "❌ 9 · lab-server · Couldn't SSH to the host (cannot connect).");
  });

  test('result: a title that tells the truth; no "already off" or 0 ms rows', () => {
    const result: AllResult = {
      action: 'off',
      outcomes: [
        ok(2, 'nas', true),
        ok(3, null, false),
        ok(4, null, false),
        {
          socket: 5,
          ok: false,
          error: new PduError(
            'SSH_UNREACHABLE',
            'preOff step 1 of 2 (ssh root@lab: x) failed: ssh root@lab: cannot connect: connection refused',
          ),
        },
      ],
      skipped: [1],
      durationMs: 4200,
    };
    const embed = allResultEmbed(result, { names: { 1: 'router', 5: 'lab-server' }, actor: ALICE });
    assert.equal(embed.title, '⚠️ 3 of 4 off · 1 failed');
    assert.equal(
      embed.description,
      [
        '🔒 1 · router · left alone: protected',
        '✅ 2 · nas',
        "❌ 5 · lab-server · Couldn't SSH to the host (connection refused).",
        '▫️ already off: 3, 4',
        '',
        '-# asked by alice · took 4.2 s',
      ].join('\n'),
    );
    const clean = allResultEmbed({ ...result, outcomes: result.outcomes.slice(0, 3) });
    assert.equal(clean.title, '✅ 3 sockets off · 1 protected left alone');
  });
});

// ------------------------------------------------------------------ logs

describe('/pdu log and the audit lines', () => {
  const entry = (overrides: Partial<AuditEntry>): AuditEntry => ({
    time: at(0),
    actor: { kind: 'discord', id: '2', name: 'olly' },
    action: 'off',
    socket: 5,
    socketName: 'nas',
    result: 'ok',
    durationMs: 12,
    details: { changed: true },
    ...overrides,
  });

  test('a time on every line; one way of naming people; a forced off is one line', () => {
    const entries = [
      entry({ details: { changed: true, forcedBy: 'discord:alice' }, durationMs: 4000 }),
      entry({ actor: ALICE, time: at(3), details: { force: true, changed: true } }),
      entry({ actor: { kind: 'api', id: 'ci' }, action: 'on', time: at(10) }),
    ];
    const lines = auditLines(entries, { now: T0, times: true });
    assert.deepEqual(lines, [
      `<t:${T0 / 1000}:t> ✅ **olly** switched off 5 · nas · 4 s · ⏭️ forced by alice`,
      `<t:${T0 / 1000 + 10}:t> ✅ **ci (api)** switched on 5 · nas`,
    ]);
  });

  test('an all-off is one line with counts; runs of "no change" collapse; refused and cancelled differ', () => {
    const entries = [
      entry({ socket: 2, time: at(1) }),
      entry({ socket: 3, time: at(1), details: { changed: false } }),
      entry({ socket: 4, time: at(1), details: { changed: false } }),
      entry({
        socket: 6,
        time: at(2),
        result: 'error',
        code: 'SSH_UNREACHABLE',
        message: 'x',
        socketName: 'lab',
      }),
      entry({
        socket: undefined,
        socketName: undefined,
        action: 'all-off',
        time: at(0),
        durationMs: 3000,
        result: 'error',
        code: 'PARTIAL',
        details: { sockets: [2, 3, 4, 6], skipped: [1], failed: 1 },
      }),
      entry({ socket: 7, time: at(10), details: { changed: false } }),
      entry({ socket: 8, time: at(11), details: { changed: false } }),
      entry({ socket: 9, time: at(12), result: 'error', code: 'FORBIDDEN', message: 'needs an admin' }),
      entry({ socket: 9, time: at(13), result: 'error', code: 'CANCELLED', message: 'cancelled' }),
    ];
    const lines = auditLines(entries, {});
    assert.deepEqual(lines, [
      '❌ **olly** every socket off · 1 switched · 2 already off · 1 failed (6 · lab) · 🔒 1 left alone · 3 s',
      '▫️ 2 × no change: off 7, 8 (already so)',
      '⛔ **olly** off 9 · nas · refused: needs an admin',
      '✖️ **olly** off 9 · nas · cancelled',
    ]);
  });

  test('"showing the latest N of M" when lines are left out; every message within 2000 characters', () => {
    const entries = Array.from({ length: 25 }, (_, i) =>
      entry({ socket: (i % 16) + 1, time: at(i), details: { changed: true, reason: 'r'.repeat(150) } }),
    );
    const message = logMessage(entries, 25, T0);
    assert.ok(message.length <= MESSAGE_LIMIT);
    const [head, ...lines] = message.split('\n');
    assert.equal(head, `-# the latest 25 entries · showing the latest ${lines.length} of 25 lines`);
    assert.ok(lines.length < 25);
    for (const line of lines) assert.match(line, /^<t:\d+:t> /);
    assert.equal(logMessage([], 10, T0), 'The audit log is empty.');
    assert.equal(logMessage(entries.slice(0, 3), 10, T0).split('\n')[0], '-# all 3 entries');
  });

  test('hostile text is escaped and on one line, and mentions cannot form', () => {
    const line = auditLine(
      entry({ actor: { kind: 'discord', id: '1', name: HOSTILE }, details: { reason: HOSTILE } }),
    );
    assert.doesNotMatch(line, /\n/);
    assert.doesNotMatch(line, /@everyone|<@1/);
    assert.match(line, /\\\*\\\*bold/);
  });
});

describe('errorMessage', () => {
  test('refused and cancelled have their own icons', () => {
    assert.match(errorMessage(new PduError('FORBIDDEN', 'needs an admin')), /^⛔ Needs an admin$/);
    assert.match(errorMessage(new PduError('CANCELLED', 'cancelled by bob')), /^✖️ Cancelled by bob$/);
    assert.match(errorMessage(new BoardOfflineError()), /^❌ The relay board is offline$/);
    assert.match(errorMessage(new Error('secret'), 'abcd'), /incident `abcd`/);
    assert.doesNotMatch(errorMessage(new Error('secret')), /secret/);
  });
});
