import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderScreen, type ScreenState } from '../src/controller/panel-lcd.js';
import type { PduStatus, SocketInfo } from '../src/pdu/types.js';

// The LCD's screens as text, on both sizes, from a status built by hand.

function socket(number: number, extra: Partial<SocketInfo> = {}): SocketInfo {
  return {
    number,
    name: null,
    channel: number - 1,
    on: false,
    assumed: false,
    protected: false,
    restore: 'last',
    pending: null,
    currentMa: null,
    watts: null,
    apparentVa: null,
    powerFactor: 1,
    realWatts: null,
    changedAt: null,
    ...extra,
  };
}

function state(sockets: SocketInfo[], extra: Partial<ScreenState> = {}): ScreenState {
  const status = {
    name: 'rack-7-pdu-with-a-long-name',
    mainsVoltage: 230,
    board: { online: true },
    sockets,
    totalWatts: 431.6,
  } as unknown as PduStatus;
  return {
    status,
    alarms: [],
    discord: null,
    view: null,
    longPress: 3000,
    energyToday: () => null,
    now: 0,
    ...extra,
  };
}

const sixteen = Array.from({ length: 16 }, (_, i) => socket(i + 1, { on: i < 3 }));

test('16×2: idle, a socket, pending work and a refusal each fit two lines', () => {
  assert.deepEqual(renderScreen(state(sixteen), '16x2'), ['rack-7-pdu-with-a-long-name', '432 W    3/16 on']);
  const offline = state(sixteen);
  (offline.status.board as { online: boolean }).online = false;
  assert.deepEqual(renderScreen(offline, '16x2')[0], 'rack-7-p OFFLINE');
  const named = sixteen.map((s) => (s.number === 5 ? { ...s, name: 'nas', on: true, watts: 61.2 } : s));
  assert.deepEqual(renderScreen(state(named, { view: { kind: 'socket', socket: 5, until: 1 } }), '16x2'), [
    '5 nas',
    'ON          61 W',
  ]);
  const since = new Date(0).toISOString();
  const busy = sixteen.map((s) =>
    s.number === 2
      ? {
          ...s,
          pending: {
            action: 'toggle' as const,
            direction: 'off' as const,
            actor: { kind: 'panel' as const, id: 'button-2' },
            since,
            requests: 1,
            step: {
              phase: 'preOff' as const,
              index: 1,
              total: 2,
              kind: 'ssh' as const,
              label: 'shutdown',
              status: 'running' as const,
              startedAt: since,
              durationMs: null,
            },
          },
        }
      : s,
  );
  assert.deepEqual(renderScreen(state(busy, { now: 75_000 }), '16x2'), [
    '2 Off...   1m15s',
    'preOff 1/2 shutdown',
  ]);
  assert.deepEqual(renderScreen(state(busy, { now: 75_000 }), '20x4'), [
    '2 Socket 2',
    'Switching off',
    'preOff 1/2 shutdown',
    'Elapsed 1m15s',
  ]);
  assert.deepEqual(
    renderScreen(
      state(sixteen, { view: { kind: 'error', socket: 1, error: { code: 'BUSY', message: 'x' }, until: 1 } }),
      '16x2',
    ),
    ['Refused BUSY', 'Busy: other work'],
  );
});
