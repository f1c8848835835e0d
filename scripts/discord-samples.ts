// A sample homelab's Discord messages, made with the bot's own embed functions (not
// hand-written): what scripts/render-discord.ts draws when it is given no captured payloads.
import { allResultEmbed, confirmEmbed, logMessage, progressEmbed, statusEmbed } from '../src/bot/embeds.js';
import { Plan } from '../src/bot/plan.js';
import { type SocketConfig, validateConfig } from '../src/config/schema.js';
import { PduError } from '../src/errors.js';
import type { PduStatus, SocketInfo } from '../src/pdu/types.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON payloads as Discord receives them
type Json = any;

const NAMES = ['router', 'switch', 'proxmox-1', 'nas', 'lab-server', 'proxmox-2', 'pi-hole', 'printer'];

function config(): SocketConfig[] {
  const ssh = (host: string, command: string) => ({
    ssh: { host, user: 'root', command, key: '/etc/pipdu/id_ed25519', hostKey: 'ssh-ed25519 AAAA' },
  });
  const result = validateConfig({
    version: 1,
    board: { driver: 'simulator' },
    sockets: [
      { number: 1, name: 'router', protected: true },
      { number: 2, name: 'switch', protected: true },
      {
        number: 3,
        name: 'proxmox-1',
        preOff: [ssh('proxmox-1.lan', 'shutdown -h now'), { waitHostDown: { host: 'proxmox-1.lan' } }],
      },
      {
        number: 4,
        name: 'nas',
        preOff: [ssh('nas.lan', 'sync'), ssh('nas.lan', 'poweroff'), { waitHostDown: { host: 'nas.lan' } }],
      },
      { number: 5, name: 'lab-server', preOff: [ssh('10.0.0.5', 'sudo poweroff'), { delay: '30s' }] },
      { number: 6, name: 'proxmox-2' },
      { number: 7, name: 'pi-hole' },
      { number: 8, name: 'printer' },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.config.sockets;
}

function sockets(busy: boolean): SocketInfo[] {
  const watts = [26, 14, 121, 48, 216, 95, 4.2, 0];
  return Array.from({ length: 16 }, (_, i) => {
    const name = NAMES[i] ?? null;
    const on = i < 7;
    return {
      number: i + 1,
      name,
      channel: i,
      on,
      assumed: false,
      protected: i < 2,
      restore: 'last',
      pending:
        busy && i === 3
          ? {
              action: 'off',
              direction: 'off',
              actor: { kind: 'discord', id: '1', name: 'alice' },
              since: new Date(Date.now() - 40_000).toISOString(),
              requests: 1,
              step: {
                phase: 'preOff',
                index: 2,
                total: 3,
                kind: 'ssh',
                label: 'ssh root@nas.lan: poweroff',
                status: 'running',
                startedAt: new Date(Date.now() - 10_000).toISOString(),
                durationMs: null,
              },
            }
          : null,
      currentMa: on ? Math.round(((watts[i] ?? 0) / 230) * 1000) : 0,
      watts: on ? (watts[i] ?? 0) : 0,
      apparentVa: null,
      powerFactor: 1,
      realWatts: null,
      changedAt: null,
    } satisfies SocketInfo;
  });
}

function status(online: boolean, busy: boolean): PduStatus {
  const list = sockets(busy);
  return {
    name: 'rack-pdu',
    mainsVoltage: 230,
    board: {
      driver: 'prp1',
      online,
      reportsState: true,
      identity: {
        protocol: 'PIPDU/1',
        channels: 16,
        firmware: '1.2.0',
        features: ['current'],
        bootId: 'b',
        serial: null,
      },
      stats: { requests: 0, timeouts: 0, reconnects: 0, garbageLines: 0, unknownEvents: 0, staleReplies: 0 },
    },
    sockets: list,
    totalWatts: list.reduce((sum, s) => sum + (s.watts ?? 0), 0),
  };
}

export function samplePayloads(now: number): Array<{ name: string; message: Json }> {
  const iso = (seconds: number) => new Date(now + seconds * 1000).toISOString();
  const configs = config();
  const alice = { kind: 'discord' as const, id: '1', name: 'alice' };
  const nas = sockets(false)[3]!;
  const running = new Plan(configs[3]!, 'off');
  running.step(
    {
      phase: 'preOff',
      index: 1,
      total: 3,
      kind: 'ssh',
      label: '',
      status: 'ok',
      startedAt: iso(-12),
      durationMs: 1400,
      summary: 'exit 0 in 1.4 s',
    },
    iso(-10),
  );
  running.step(
    {
      phase: 'preOff',
      index: 2,
      total: 3,
      kind: 'ssh',
      label: '',
      status: 'running',
      startedAt: iso(-10),
      durationMs: null,
    },
    iso(-10),
  );
  const lab = sockets(false)[4]!;
  const failed = new Plan(configs[4]!, 'off');
  const sshError = 'ssh root@10.0.0.5: cannot connect: connection refused';
  failed.finish(
    [
      {
        phase: 'preOff',
        index: 1,
        total: 2,
        kind: 'ssh',
        label: 'ssh root@10.0.0.5: sudo poweroff',
        status: 'failed',
        startedAt: iso(-5),
        durationMs: 3100,
        error: { code: 'SSH_UNREACHABLE', message: sshError },
      },
    ],
    'failed',
    false,
  );
  const buttons = (list: Array<[string, number]>) => [
    { type: 1, components: list.map(([label, style], i) => ({ type: 2, custom_id: `b${i}`, label, style })) },
  ];
  const progress = progressEmbed({
    socket: nas,
    direction: 'off',
    actor: alice,
    plan: running.lines,
    state: 'running',
    reason: 'disk swap',
  });
  const failure = progressEmbed({
    socket: lab,
    direction: 'off',
    actor: { kind: 'discord', id: '2', name: 'olly' },
    plan: failed.lines,
    state: 'failed',
    error: {
      code: 'SSH_UNREACHABLE',
      message: `preOff step 1 of 2 (ssh root@10.0.0.5: sudo poweroff) failed: ${sshError}`,
    },
  });
  const offlineStatus = statusEmbed(status(false, false), {
    offlineSince: iso(-180),
    lastReadingAt: iso(-185),
    time: iso(-185),
  });
  const router = sockets(false)[0]!;
  const confirm = confirmEmbed({ socket: router, config: configs[0]!, direction: 'off', expiresAt: iso(30) });
  const all = allResultEmbed(
    {
      action: 'off',
      outcomes: [3, 4, 6, 7, 9, 10]
        .map((n) => ({
          socket: n,
          ok: true as const,
          result: {
            socket: sockets(false)[n - 1]!,
            action: 'off' as const,
            changed: n < 9,
            durationMs: 10,
            steps: [],
            warnings: [],
          },
        }))
        .concat([
          { socket: 5, ok: false as never, error: new PduError('SSH_UNREACHABLE', sshError) } as never,
        ]),
      skipped: [1, 2],
      durationMs: 48_000,
    },
    { names: Object.fromEntries(NAMES.map((n, i) => [i + 1, n])), actor: alice, confirmedAt: iso(-50) },
  );
  const log = logMessage(
    [
      {
        time: iso(-3600),
        actor: alice,
        action: 'off',
        socket: 4,
        socketName: 'nas',
        result: 'ok',
        durationMs: 41_000,
        details: { changed: true, reason: 'disk swap', forcedBy: 'discord:bob' },
      },
      {
        time: iso(-3590),
        actor: { kind: 'discord', id: '3', name: 'bob' },
        action: 'off',
        socket: 4,
        socketName: 'nas',
        result: 'ok',
        durationMs: 10,
        details: { force: true, changed: true },
      },
      {
        time: iso(-600),
        actor: { kind: 'discord', id: '2', name: 'olly' },
        action: 'off',
        socket: 5,
        socketName: 'lab-server',
        result: 'error',
        code: 'SSH_UNREACHABLE',
        message: sshError,
        durationMs: 3100,
      },
      {
        time: iso(-60),
        actor: { kind: 'panel', id: 'button-7' },
        action: 'on',
        socket: 7,
        socketName: 'pi-hole',
        result: 'ok',
        durationMs: 12,
        details: { changed: true },
      },
    ],
    10,
    now,
  );
  return [
    { name: 'status', message: { embeds: [statusEmbed(status(true, true), { time: iso(0) })] } },
    { name: 'status-offline', message: { embeds: [offlineStatus] } },
    {
      name: 'progress-running',
      message: {
        embeds: [progress],
        components: buttons([
          ['Cancel', 2],
          ['Force off', 4],
        ]),
      },
    },
    {
      name: 'failure',
      message: {
        embeds: [failure],
        components: buttons([
          ['Retry', 1],
          ['Force off lab-server', 4],
        ]),
      },
    },
    {
      name: 'confirm',
      message: {
        embeds: [confirm],
        components: buttons([
          ['Switch off router', 4],
          ['Keep it on', 2],
        ]),
      },
    },
    { name: 'all-off', message: { embeds: [all] } },
    { name: 'log', message: { content: log } },
  ];
}
