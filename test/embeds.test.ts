import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type APIEmbed, EmbedBuilder, embedLength } from 'discord.js';
import type { AuditEntry } from '../src/audit/audit-log.js';
import {
  allResultEmbed,
  auditLine,
  COLORS,
  EMBED_LIMITS,
  errorMessage,
  MESSAGE_LIMIT,
  progressEmbed,
  socketInfoEmbed,
  statusEmbed,
} from '../src/bot/embeds.js';
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
function assertWithinLimits(embed: APIEmbed): void {
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

describe('statusEmbed', () => {
  test('every socket is in the table, with its number, name, state and watts', () => {
    const embed = statusEmbed(status());
    const rows = table(embed).slice(1);
    assert.equal(rows.length, 16);
    for (const [i, row] of rows.entries()) {
      assert.match(row, new RegExp(`^\\S+ +${i + 1} `), row);
      assert.match(row, i % 3 === 0 ? /^🟢 .* on / : /^⚫ .* off /, row);
      if (i % 3 === 0) assert.match(row, new RegExp(`${Math.round(12.4 * (i + 1))} W`));
      else assert.match(row, /—/);
    }
    assert.match(rows[0]!, /pi-self/);
    assert.match(rows[4]!, /nas/);
    assert.deepEqual(
      rows.map((row) => row.indexOf(' W') >= 0 || row.includes('—')),
      rows.map(() => true),
    );
  });

  test('board, firmware, total power and the count of sockets on', () => {
    const embed = statusEmbed(status());
    assert.match(
      embed.description!,
      /\*\*Board\*\* 🟢 online · prp1 · PIPDU\/1 firmware 1\.4\.2 · 16 channels/,
    );
    assert.match(embed.description!, /\*\*Power\*\* 524 W total · 6 of 16 sockets on · 230 V/);
    assert.equal(embed.title, '⚡ rack-pdu');
    assert.equal(statusEmbed(status(), { title: 'Live status' }).title, 'Live status');
  });

  test('pending work: the action and step in the table, who and since when in a field', () => {
    const embed = statusEmbed(status());
    const row = table(embed)[5]!;
    assert.match(row, /⏳ off · before off 2\/3/);
    assert.equal(embed.fields?.length, 1);
    const field = embed.fields![0]!;
    assert.equal(field.name, '⏳ 5 · nas');
    assert.match(field.value, /off by alice \(discord\), since <t:1714557600:R>/);
    assert.match(
      field.value,
      /⏳ before off 2\/3 · wait for 192\.168\.1\.20:22 to go down · running since <t:/,
    );
    assert.equal(embed.color, COLORS.warn);
  });

  test('queued requests are counted', () => {
    const sockets = [socket(1, { pending: pending({ requests: 3, step: undefined }) })];
    assert.match(table(statusEmbed(status({}, sockets)))[1]!, /⏳ off \(\+2 queued\)$/);
  });

  test('assumed and protected marks, with their legend', () => {
    const sockets = [
      socket(1, { on: true, assumed: true, protected: true }),
      socket(2, { on: false, assumed: true }),
    ];
    const embed = statusEmbed(status({ board: { ...status().board, reportsState: false } }, sockets));
    const rows = table(embed);
    assert.match(rows[1]!, / on\* .*🔒/);
    assert.match(rows[2]!, / off\* /);
    assert.match(embed.description!, /cannot report its state/);
    assert.match(embed.description!, /`\*` assumed · 🔒 protected/);
  });

  test('a state not known yet is shown as such', () => {
    const embed = statusEmbed(status({}, [socket(1, { on: null })]));
    assert.match(table(embed)[1]!, /^❔ +1 .* \? /);
  });

  test('an offline board is shown as such, in red', () => {
    const embed = statusEmbed(status({ board: { ...status().board, online: false } }));
    assert.match(embed.description!, /\*\*Board\*\* 🔴 offline/);
    assert.match(embed.description!, /offline: states shown are the last known/);
    assert.equal(embed.color, COLORS.error);
  });

  test('a board never reached, and no telemetry', () => {
    const embed = statusEmbed(
      status({ board: { ...status().board, online: false, identity: null }, totalWatts: null }),
    );
    assert.match(embed.description!, /🔴 offline · prp1 · not reached yet/);
    assert.match(embed.description!, /no power readings/);
  });

  test('green when all is well; a timestamp only when one is passed', () => {
    const calm = status({}, [socket(1, { on: true })]);
    assert.equal(statusEmbed(calm).color, COLORS.ok);
    assert.equal(statusEmbed(calm).timestamp, undefined);
    assert.equal(
      statusEmbed(calm, { time: '2024-05-01T10:00:00.000Z' }).timestamp,
      '2024-05-01T10:00:00.000Z',
    );
  });

  test('deterministic: the same input gives the same embed', () => {
    assert.deepEqual(statusEmbed(status()), statusEmbed(status()));
  });

  test('within the limits with long names, 16 pending sockets and huge step labels', () => {
    const long = 'x'.repeat(5000);
    const sockets = Array.from({ length: 16 }, (_, i) =>
      socket(i + 1, {
        name: `a-very-long-socket-name-number-${i + 1}-${'z'.repeat(80)}`,
        on: true,
        assumed: true,
        protected: true,
        watts: 1234.5,
        pending: pending({
          requests: 99,
          actor: { kind: 'discord', id: '1', name: long },
          step: step({ status: 'running', label: long, summary: long, durationMs: null }),
        }),
      }),
    );
    const embed = statusEmbed(status({}, sockets), { title: long });
    assertWithinLimits(embed);
    assert.equal(table(embed).length, 17, 'every socket stays in the table');
    assert.equal(embed.fields?.length, 16, 'every pending socket has its field');
  });

  test('user text in pending work is escaped', () => {
    const sockets = [socket(1, { pending: pending({ actor: { kind: 'discord', id: '1', name: HOSTILE } }) })];
    const value = statusEmbed(status({}, sockets)).fields![0]!.value;
    assert.match(value, /\\\*\\\*bold\\\*\\\*/);
    assert.doesNotMatch(value, /@everyone/);
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

  test('state, power, protection, who may switch it, hooks', () => {
    const info = socket(5, {
      name: 'nas',
      on: true,
      protected: true,
      restore: 'last',
      watts: 41.3,
      currentMa: 180,
      changedAt: '2024-05-01T09:00:00.000Z',
    });
    const embed = socketInfoEmbed(info, config);
    assertWithinLimits(embed);
    assert.equal(embed.title, 'Socket 5 · nas');
    assert.match(embed.description!, /^🟢 \*\*on\*\*/);
    assert.match(embed.description!, /changed <t:1714554000:R>/);
    const all = text(embed);
    assert.match(all, /41 W · 0\.18 A/);
    assert.match(all, /back to its last state/);
    assert.match(all, /🔒 yes/);
    assert.match(all, /admins; operators with Home\\_Lab, 112233 may switch it on/);
    assert.match(all, /10 s/);
    assert.match(
      all,
      /1\. exec \/usr\/local\/bin\/notify nas going\\_down\n2\. wait for 192\.168\.1\.20:22 to go down/,
    );
    assert.match(all, /Hooks after on/);
    assert.match(all, /abort \(the relay is not switched\)/);
  });

  test('within the limits with many long hook steps and roles', () => {
    const command = `echo ${'q'.repeat(2000)}`;
    const steps = Array.from({ length: 40 }, () => ({ exec: { argv: ['/bin/sh', '-c', command] } }));
    const huge = socketConfig({
      number: 6,
      name: 'big',
      roles: Array.from({ length: 50 }, (_, i) => `role_${i}_${'r'.repeat(50)}`),
      preOff: steps,
      postOff: steps,
      preOn: steps,
      postOn: steps,
    });
    const info = socket(6, {
      name: 'big',
      pending: pending({ step: step({ status: 'running', label: command, durationMs: null }) }),
    });
    const embed = socketInfoEmbed(info, huge);
    assertWithinLimits(embed);
    assert.match(text(embed), /Hooks before off/);
  });

  test('assumed, pending and unknown states', () => {
    const open = socketConfig({ number: 2 });
    const embed = socketInfoEmbed(
      socket(2, { on: null, assumed: true, pending: pending({ step: undefined }) }),
      open,
    );
    assert.match(embed.description!, /^❔ \*\*\?\*\* \(assumed/);
    assert.match(embed.description!, /⏳ off by alice \(discord\)/);
    assert.match(text(embed), /admins and operators/);
    assert.match(text(embed), /no readings/);
    assert.doesNotMatch(text(embed), /Hooks/);
  });
});

// ------------------------------------------------------------------ progress

describe('progressEmbed', () => {
  const base = {
    socket: socket(5, { name: 'nas', on: true }),
    action: 'off',
    actor: 'alice',
  };

  test('running: each step with its icon, label and time; steps not started are waiting', () => {
    const embed = progressEmbed({
      ...base,
      state: 'running',
      steps: [
        step({ summary: 'exit 0' }),
        step({ index: 2, label: 'wait for nas:22 to go down', status: 'running', durationMs: null }),
        step({ index: 3, label: 'wait 10 s', status: 'skipped', startedAt: null, durationMs: null }),
      ],
    });
    assertWithinLimits(embed);
    const lines = embed.description!.split('\n');
    assert.equal(lines[0], '⏳ **Working…**');
    assert.equal(
      lines[2],
      '✅ before off 1/3 · ssh pi@\u200b192.168.1.20: sudo shutdown -h now · 1.2 s · exit 0',
    );
    assert.equal(lines[3], '⏳ before off 2/3 · wait for nas:22 to go down · running since <t:1714557600:R>');
    assert.equal(lines[4], '◻️ before off 3/3 · wait 10 s · waiting');
    assert.equal(embed.color, COLORS.running);
    assert.equal(embed.title, 'Socket 5 · nas: off');
    assert.equal(embed.footer?.text, 'asked by alice');
  });

  test('done: the outcome says the new state; warnings are listed', () => {
    const embed = progressEmbed({
      ...base,
      socket: socket(5, { name: 'nas', on: false }),
      state: 'done',
      steps: [
        step(),
        step({ phase: 'postOff', index: 1, total: 1, status: 'tolerated', summary: 'exit 1 (allowed)' }),
      ],
      warnings: ['after off step 1 of 1 failed: _oops_'],
    });
    assert.match(embed.description!, /^✅ \*\*Done\*\*: socket 5 · nas is ⚫ off/);
    assert.match(embed.description!, /⚠️ after off 1\/1 .* exit 1 \(allowed\)/);
    assert.match(embed.description!, /⚠️ after off step 1 of 1 failed: \\_oops\\_/);
    assert.equal(embed.color, COLORS.warn);
  });

  test('failed: the error code and message, the failed step, the steps that did not run', () => {
    const embed = progressEmbed({
      ...base,
      state: 'failed',
      error: { code: 'HOST_STILL_UP', message: 'preOff step 2 of 3 failed: nas:22 still answers' },
      steps: [
        step(),
        step({
          index: 2,
          status: 'failed',
          durationMs: 120_000,
          error: { code: 'HOST_STILL_UP', message: 'nas:22 still answers' },
        }),
        step({ index: 3, status: 'skipped', startedAt: null, durationMs: null }),
      ],
    });
    const lines = embed.description!.split('\n');
    assert.match(lines[0]!, /^❌ \*\*Failed\*\*: HOST_STILL_UP: preOff step 2 of 3 failed/);
    assert.match(lines[3]!, /^❌ before off 2\/3 .* 2 min · HOST_STILL_UP: nas:22 still answers$/);
    assert.match(lines[4]!, /^➖ before off 3\/3 .* not run$/);
    assert.equal(embed.color, COLORS.error);
  });

  test('cancelled, and a forced skip', () => {
    const embed = progressEmbed({
      ...base,
      state: 'cancelled',
      error: { code: 'CANCELLED', message: 'cancelled by discord:bob' },
      steps: [
        step({ status: 'cancelled', durationMs: 800 }),
        step({ index: 2, status: 'skipped', startedAt: null, durationMs: null, summary: 'skipped: forced' }),
      ],
    });
    assert.match(
      embed.description!,
      /^🚫 \*\*Cancelled\*\*: nothing more was switched \(CANCELLED: cancelled by discord:bob\)/,
    );
    assert.match(embed.description!, /🚫 before off 1\/3 .* 800 ms/);
    assert.match(embed.description!, /⏭️ before off 2\/3 .* skipped: forced/);
    assert.equal(embed.color, COLORS.neutral);
  });

  test('within the limits with 200 steps, huge labels, errors and warnings', () => {
    const long = 'y'.repeat(3000);
    const embed = progressEmbed({
      ...base,
      action: long,
      actor: long,
      state: 'failed',
      error: { code: 'COMMAND_FAILED', message: long },
      steps: Array.from({ length: 200 }, (_, i) =>
        step({
          index: i + 1,
          total: 200,
          label: long,
          status: 'failed',
          error: { code: 'X', message: long },
        }),
      ),
      warnings: Array.from({ length: 50 }, () => long),
    });
    assertWithinLimits(embed);
    assert.match(embed.description!, /… and \d+ more$/);
  });
});

// ------------------------------------------------------------------ all sockets

describe('allResultEmbed', () => {
  function ok(number: number, name: string | null, changed: boolean, extra: Partial<SwitchResult> = {}) {
    const result: SwitchResult = {
      socket: socket(number, { name, on: false }),
      action: 'off',
      changed,
      durationMs: 1500,
      steps: [],
      warnings: [],
      ...extra,
    };
    return { socket: number, ok: true as const, result };
  }

  test('one line per socket outcome, in number order, with the skipped ones', () => {
    const result: AllResult = {
      action: 'off',
      outcomes: [
        ok(5, 'nas', true, { warnings: ['w'], forcedBy: { kind: 'discord', id: '1' } }),
        ok(3, null, false),
        { socket: 7, ok: false, error: new PduError('BUSY', 'socket 7 is busy: on pending since 10:00') },
        { socket: 4, ok: false, error: new BoardOfflineError() },
      ],
      skipped: [1],
      durationMs: 4200,
    };
    const embed = allResultEmbed(result, { names: { 1: 'pi-self', 7: 'lab_box' } });
    assertWithinLimits(embed);
    assert.deepEqual(embed.description!.split('\n'), [
      '⏭️ 1 (pi-self) left alone: protected',
      '➖ 3 already off',
      '❌ 4 · BOARD_OFFLINE: the relay board is offline',
      '✅ 5 (nas) off · 1.5 s · forced · ⚠️ 1 warning',
      '❌ 7 (lab_box) · BUSY: socket 7 is busy: on pending since 10:00',
    ]);
    assert.equal(embed.title, 'All sockets off');
    assert.equal(embed.footer?.text, '1 switched · 1 already off · 2 failed · 1 left alone · 4.2 s');
    assert.equal(embed.color, COLORS.warn);
  });

  test('colours: all ok green, all failed red', () => {
    const good: AllResult = { action: 'on', outcomes: [ok(1, null, true)], skipped: [], durationMs: 10 };
    assert.equal(allResultEmbed(good).color, COLORS.ok);
    const bad: AllResult = {
      action: 'on',
      outcomes: [{ socket: 1, ok: false, error: new BoardOfflineError() }],
      skipped: [],
      durationMs: 10,
    };
    assert.equal(allResultEmbed(bad).color, COLORS.error);
  });

  test('within the limits with 16 long failures', () => {
    const result: AllResult = {
      action: 'off',
      outcomes: Array.from({ length: 16 }, (_, i) => ({
        socket: i + 1,
        ok: false as const,
        error: new PduError('COMMAND_FAILED', HOSTILE.repeat(100)),
      })),
      skipped: [],
      durationMs: 1,
    };
    const embed = allResultEmbed(result);
    assertWithinLimits(embed);
    assert.equal(embed.description!.split('\n').length, 16);
    assert.doesNotMatch(embed.description!, /@everyone/);
  });
});

// ------------------------------------------------------------------ audit

describe('auditLine', () => {
  const entry: AuditEntry = {
    time: '2024-05-01T10:00:00.000Z',
    actor: { kind: 'discord', id: '111', name: 'alice' },
    action: 'off',
    socket: 5,
    socketName: 'nas',
    result: 'ok',
    durationMs: 1234,
    details: { reason: 'disk swap', force: true, changed: true, warnings: ['a', 'b'] },
  };

  test('who, what, which socket, result, duration, details', () => {
    assert.equal(
      auditLine(entry),
      '✅ **alice** (discord) off socket 5 (nas) · ok · 1.2 s · forced · ⚠️ 2 warnings · reason: “disk swap”',
    );
  });

  test('a failure with its code and message; an actor without a name by id', () => {
    const line = auditLine({
      ...entry,
      actor: { kind: 'panel', id: 'button-5' },
      result: 'error',
      code: 'BUSY',
      message: 'socket 5 (nas) is busy',
      details: { changed: false },
    });
    assert.equal(
      line,
      '❌ **button-5** (panel) off socket 5 (nas) · BUSY: socket 5 (nas) is busy · 1.2 s · no change',
    );
    assert.match(auditLine({ ...entry, result: 'error', code: 'FORBIDDEN', message: 'no' }), /^🚫 /);
  });

  test('all-sockets and cancel entries', () => {
    const all = auditLine({
      time: entry.time,
      actor: { kind: 'api', id: 'ci-runner' },
      action: 'all-off',
      result: 'error',
      code: 'PARTIAL',
      message: '1 of 15 sockets failed',
      durationMs: 65_000,
      details: { sockets: [2, 3], skipped: [1], failed: 1 },
    });
    assert.equal(
      all,
      '❌ **ci-runner** (api) all-off · PARTIAL: 1 of 15 sockets failed · 1.1 min · left alone: 1',
    );
    const cancel = auditLine({
      ...entry,
      action: 'cancel',
      durationMs: 0,
      details: { cancelled: 'cycle', by: 'discord:bob', since: entry.time },
    });
    assert.match(cancel, /cancel socket 5 \(nas\) · ok · 0 ms · cancelled cycle started by discord:bob$/);
  });

  test('markdown and mentions in user text are escaped, on one line', () => {
    const line = auditLine({
      ...entry,
      actor: { kind: 'discord', id: '1', name: 'bad_**name**' },
      details: { reason: HOSTILE },
    });
    assert.doesNotMatch(line, /\n/);
    assert.match(line, /\*\*bad\\_\\\*\\\*name\\\*\\\*\*\*/);
    assert.match(
      line,
      /\\\*\\\*bold\\\*\\\* \\_under\\_ \\`tick\\` \\~\\~strike\\~\\~ \\\|\\\|spoiler\\\|\\\|/,
    );
    assert.match(line, /\\\[click\]\(https:\/\/evil\.example\)/);
    assert.doesNotMatch(line, /@everyone|<@123>/);
    assert.match(line, /line two/);
  });

  test('a long reason and message stay within a message', () => {
    const line = auditLine({
      ...entry,
      result: 'error',
      code: 'COMMAND_FAILED',
      message: '*'.repeat(10_000),
      details: { reason: '_'.repeat(10_000) },
    });
    assert.ok(line.length <= MESSAGE_LIMIT, String(line.length));
    assert.match(line, /…/);
  });
});

// ------------------------------------------------------------------ errors

describe('errorMessage', () => {
  test('a PduError shows its message, capitalised, with an icon by kind', () => {
    assert.equal(errorMessage(new BoardOfflineError()), '❌ The relay board is offline');
    assert.equal(
      errorMessage(
        new PduError('FORBIDDEN', 'socket 1 (pi-self) is protected: switching it off needs the admin role'),
      ),
      '🚫 Socket 1 (pi-self) is protected: switching it off needs the admin role',
    );
    assert.match(errorMessage(new PduError('BUSY', 'socket 5 is busy')), /^⏳ /);
    assert.equal(
      errorMessage(new PduError('UNKNOWN_SOCKET', 'there is no socket "a_b*"'), 'abc123'),
      '❌ There is no socket "a\\_b\\*" (incident `abc123`)',
    );
  });

  test('anything else shows nothing of its text, only the incident id', () => {
    const message = errorMessage(new Error('secret path /etc/pipdu/id_ed25519'), 'k3x9');
    assert.doesNotMatch(message, /secret|ed25519/);
    assert.match(message, /incident `k3x9`/);
    assert.doesNotMatch(errorMessage('boom'), /boom/);
  });

  test('short, whatever the message', () => {
    assert.ok(errorMessage(new PduError('BAD_REQUEST', 'x'.repeat(50_000)), 'id').length <= MESSAGE_LIMIT);
  });
});
