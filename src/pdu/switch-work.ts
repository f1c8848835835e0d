import { setTimeout as sleep } from 'node:timers/promises';
import type { RelayBoard } from '../../hardware/relay-board.js';
import type { PduConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { type Actor, describeActor } from './actor.js';
import { type HookPhase, notRun, runPhase, type StepReport } from './hooks/phase.js';
import type { InrushGate } from './inrush-gate.js';
import type { RelayChange, RelayMirror } from './relay-mirror.js';
import { label } from './request.js';
import type { LongWork, SocketLane } from './socket-lane.js';

/** The signal of quick work (no hooks): nothing ever aborts it. */
const NEVER_ABORTED = new AbortController().signal;

/** What a request's work gets: hook phases, the relay, waits; all bound to the work's abort signal. */
export interface WorkContext {
  /** The socket's relay as the board last said (null: not known). */
  isOn(): boolean | null;
  /** false: the board cannot report state, and a relay already "there" is switched again to be sure. */
  readonly reportsState: boolean;
  phase(phase: HookPhase): Promise<void>;
  relay(on: boolean): Promise<boolean>;
  wait(ms: number): Promise<void>;
}

/** What the work tells the service to announce: a step's progress, relays that changed. */
export type WorkAnnouncement =
  | { kind: 'step'; lane: SocketLane; step: StepReport }
  | { kind: 'relays'; changes: RelayChange[] };

export interface SwitchWorkDeps {
  board: RelayBoard;
  mirror: RelayMirror;
  gate: InrushGate;
  logger: Logger;
  /** The configuration in force (mains voltage, the sockets). */
  config: () => PduConfig;
  /** Throws BOARD_OFFLINE when the board is not there (after a cycle's off-time). */
  assertOnline: () => void;
  announce: (event: WorkAnnouncement) => void;
}

/**
 * The work a request does once the service decided it: the socket's hook
 * phases (bounded by the long work's signal, skippable by a forced off), the
 * relay (switch-ons through the inrush gate, the board's reply taken as the
 * truth), and a cycle's off-time.
 */
export class SwitchWork {
  private readonly deps: SwitchWorkDeps;

  constructor(deps: SwitchWorkDeps) {
    this.deps = deps;
  }

  /** The context of one request's work; `steps` and `warnings` collect what happened. */
  context(
    lane: SocketLane,
    actor: Actor,
    long: LongWork | null,
    steps: StepReport[],
    warnings: string[],
  ): WorkContext {
    const { board, mirror, logger } = this.deps;
    const signal = long?.abort.signal ?? NEVER_ABORTED;
    return {
      isOn: () => mirror.stateOf(lane.config.channel),
      reportsState: board.reportsState,
      phase: async (phase) => {
        const list = lane.config[phase];
        if (list.length === 0) return;
        if (phase === 'preOff' && long?.skip.signal.aborted) {
          steps.push(...notRun(phase, list, 'skipped: forced'));
          return;
        }
        await runPhase(phase, list, {
          reports: steps,
          signal,
          skipSignal: phase === 'preOff' ? long?.skip.signal : undefined,
          onFailure: lane.config.onFailure,
          warnings,
          context: {
            socket: { number: lane.config.number, name: lane.config.name ?? null },
            logger: logger.child({ socket: lane.config.number, phase }),
            power: mirror.powerReadings(
              lane.config.channel,
              () => this.deps.config().mainsVoltage,
              () => board.identity?.features.includes('current') ?? false,
            ),
            env: process.env,
          },
          progress: (report) => {
            lane.report(report);
            this.deps.announce({ kind: 'step', lane, step: report });
          },
        });
      },
      relay: (on) => {
        if (signal.aborted) throw signal.reason;
        return this.switchRelay(lane, on, actor);
      },
      wait: async (ms) => {
        // A timer can fire a fraction of a millisecond early: the off-time is a minimum.
        const due = performance.now() + ms;
        for (let left = ms; left > 0; left = due - performance.now()) {
          await sleep(Math.ceil(left), undefined, { signal }).catch(() => {
            throw signal.reason;
          });
        }
        this.deps.assertOnline();
      },
    };
  }

  /** Drives one relay; switch-ons go through the inrush gate. Resolves whether it changed. */
  private async switchRelay(lane: SocketLane, on: boolean, actor: Actor): Promise<boolean> {
    const { board, mirror, gate, logger } = this.deps;
    const { channel } = lane.config;
    const before = mirror.stateOf(channel);
    // An observed state that already matches needs no write; an assumed one is re-sent to be sure.
    if (board.reportsState && before === on) return false;
    const done = mirror.switchingOn(channel, actor.kind === 'system' ? 'restore' : 'command');
    try {
      const mask = on
        ? await gate.switchOn((onSent) => board.set(channel, true, { onSent }))
        : await board.set(channel, false);
      logger.info(
        { socket: lane.config.number, name: lane.config.name, on, actor: describeActor(actor) },
        `socket ${label(lane.config)} ${on ? 'on' : 'off'}`,
      );
      this.deps.announce({ kind: 'relays', changes: mirror.take(mask, 'board', this.deps.config().sockets) });
    } finally {
      done();
    }
    return before !== on;
  }
}

/**
 * The work of one direction: preOff → off → postOff, preOn → on → postOn, or
 * a whole cycle with `offTimeMs` between (docs/decisions.md #5). Resolves
 * whether the relay changed.
 */
export async function runPlan(
  work: WorkContext,
  direction: 'on' | 'off' | 'cycle',
  offTimeMs: number,
): Promise<boolean> {
  if (direction !== 'cycle') return switchPlan(work, direction === 'on');
  await switchPlan(work, false);
  await work.wait(offTimeMs);
  await switchPlan(work, true);
  return true;
}

/** One direction's work: its pre-steps, the relay, its post-steps; nothing when it already is there. */
async function switchPlan(work: WorkContext, on: boolean): Promise<boolean> {
  // Already there: no hooks (no shutting down a machine that has no power). An
  // assumed state (legacy board) is re-sent anyway, as it may be wrong.
  const already = work.isOn() === on;
  if (already && work.reportsState) return false;
  if (!already) await work.phase(on ? 'preOn' : 'preOff');
  const changed = await work.relay(on);
  if (!already) await work.phase(on ? 'postOn' : 'postOff');
  return changed;
}
