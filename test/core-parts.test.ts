import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BoardIdentity, RelayBoardEvents } from '../hardware/relay-board.js';
import { parseConfig } from '../src/config/load.js';
import type { SocketConfig } from '../src/config/schema.js';
import type { PduError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { BoardRecovery } from '../src/pdu/board-recovery.js';
import { InrushGate } from '../src/pdu/inrush-gate.js';
import { RelayMirror } from '../src/pdu/relay-mirror.js';
import { SocketLane } from '../src/pdu/socket-lane.js';
import type { PduEvents } from '../src/pdu/types.js';
import { StateStore } from '../src/state/state-store.js';

// The service's parts, each without a board: the lane, the inrush gate, and
// board recovery against a fake board (an EventEmitter that records calls).

const SOCKETS = parseConfig('version: 1\nboard: { driver: simulator }\n', 'parts.yaml').sockets;
const ACTOR = { kind: 'api', id: 'test' } as const;

describe('SocketLane', () => {
  test('runs jobs in arrival order, one at a time, and shows the head as pending', async () => {
    const shown: (string | null)[] = [];
    const lane = new SocketLane({
      config: SOCKETS[0] as SocketConfig,
      onPending: (l) => shown.push(l.pending ? `${l.pending.action}×${l.pending.requests}` : null),
    });
    const order: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = lane.enqueue('on', ACTOR, async () => {
      await gate;
      order.push(1);
    });
    const second = lane.enqueue('toggle', ACTOR, async (resolved) => {
      resolved('off');
      order.push(2);
      assert.equal(lane.pending?.direction, 'off', 'the head shows the direction it took');
    });
    assert.equal(lane.pending?.action, 'on');
    assert.equal(lane.pending?.requests, 2);
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, [1, 2]);
    assert.equal(lane.pending, null);
    assert.deepEqual(shown.slice(0, 3), ['on×1', 'on×2', 'toggle×1']);
  });

  test('close(): the running job finishes, the ones waiting fail STOPPED, long work is cancelled', async () => {
    const lane = new SocketLane({ config: SOCKETS[1] as SocketConfig, onPending: () => {} });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const long = lane.beginLong('off', 'off', ACTOR, 60_000);
    const running = lane.enqueue('off', ACTOR, async () => {
      await gate;
      return 'done';
    });
    const waiting = lane.enqueue('on', ACTOR, async () => 'ran');
    lane.close();
    assert.equal((long.abort.signal.reason as PduError).code, 'STOPPED');
    release();
    assert.equal(await running, 'done');
    await assert.rejects(waiting, (error: PduError) => error.code === 'STOPPED');
    await lane.drained();
  });
});

describe('InrushGate', () => {
  test('switch-ons go out one at a time, at least the spacing apart from when each went out', async () => {
    const gate = new InrushGate({ spacingMs: 40 });
    const sentAt: number[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(() =>
        gate.switchOn(async (onSent) => {
          const at = performance.now();
          sentAt.push(at);
          onSent(at);
        }),
      ),
    );
    assert.equal(sentAt.length, 4);
    for (let i = 1; i < sentAt.length; i++) {
      assert.ok((sentAt[i] as number) - (sentAt[i - 1] as number) >= 40, `gap ${i} is at least the spacing`);
    }
    await gate.idle();
  });

  test('no spacing: sent at once, no turn taken', async () => {
    const gate = new InrushGate({ spacingMs: 0 });
    let sent = false;
    const done = gate.switchOn(async () => {
      sent = true;
    });
    assert.equal(sent, true, 'called synchronously');
    await done;
  });
});

/** A board as BoardRecovery sees it: events it emits, `state()` calls it counts. */
class FakeBoard extends EventEmitter<RelayBoardEvents> {
  readonly driver = 'prp1' as const;
  readonly reportsState = true;
  online = true;
  identity: BoardIdentity | null = null;
  stateReads = 0;
  stats = { requests: 0, timeouts: 0, reconnects: 0, garbageLines: 0, unknownEvents: 0, staleReplies: 0 };
  mask = 0;
  async state(): Promise<number> {
    this.stateReads++;
    this.emit('mask', this.mask);
    return this.mask;
  }
  async powerUpMask(): Promise<number> {
    return 0;
  }
  async setPowerUpMask(mask: number): Promise<number> {
    return mask;
  }
}

describe('BoardRecovery', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-parts-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('current on a socket shown off triggers a STATE read (at most one per spell), and the mirror takes it', async () => {
    const logger = silentLogger();
    const store = new StateStore({ dir, logger });
    const mirror = new RelayMirror({ store, logger });
    await mirror.load();
    const board = new FakeBoard();
    const events = new EventEmitter<PduEvents>();
    const changes: number[] = [];
    const recovery = new BoardRecovery({
      // biome-ignore lint/suspicious/noExplicitAny: the fake has what recovery uses
      board: board as any,
      boardConfig: { driver: 'prp1', port: '/dev/ttyFAKE' },
      mirror,
      logger,
      events,
      sockets: () => SOCKETS,
      observe: (list) => changes.push(...list.map((change) => change.socket.number)),
      telemetry: () => {},
      restore: async () => {},
    });
    recovery.start();
    board.identity = {
      protocol: 'PIPDU/1',
      channels: 16,
      firmware: '1',
      features: ['current'],
      bootId: 'A1',
      serial: 'S1S1S1S1',
    };
    board.emit('connected', { identity: board.identity, mask: 0, reconnect: false, bootDuringConnect: null });
    await recovery.settled();
    assert.equal(changes.length, 16, 'first contact: every socket from unknown to off');
    changes.length = 0;
    const quiet = Array.from({ length: 16 }, () => 10);
    board.emit('current', quiet);
    assert.equal(board.stateReads, 0, 'sensor noise on off sockets is no contradiction');
    // The relay of socket 5 switched without the daemon hearing of it; current flows.
    board.mask = 1 << 4;
    const flowing = [...quiet];
    flowing[4] = 900;
    board.emit('current', flowing);
    assert.equal(board.stateReads, 1);
    assert.equal(mirror.isOn(4), true, "the mirror took the board's answer");
    assert.deepEqual(changes, [5]);
    board.emit('current', flowing);
    assert.equal(board.stateReads, 1, 'no second read while it agrees');
    await recovery.stop();
    // The mirror saves state.json in the background: written before the directory goes.
    await store.flush();
  });
});
