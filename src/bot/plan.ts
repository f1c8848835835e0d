import type { HookStep, SocketConfig } from '../config/schema.js';
import { describeStep } from '../pdu/hooks/index.js';
import type { HookPhase, StepReport } from '../pdu/hooks/phase.js';
import type { Direction, LineStatus } from './style.js';

/** One line of a switch's plan: a hook step, the relay, or a cycle's off-time. */
export interface PlanLine {
  kind: 'step' | 'relay' | 'wait';
  /** Hook steps: their phase and place in it. */
  phase?: HookPhase;
  index?: number;
  total?: number;
  /** The step as configured ("ssh pi@nas: sudo poweroff"); "cut power", "power on", "stay off 10 s". */
  label: string;
  status: LineStatus;
  startedAt: string | null;
  durationMs: number | null;
  /** When a running wait is due to end: a delay's end, a wait-for's give-up, a cycle's "back on". */
  dueAt: string | null;
  /** For the relay line: which way it switches. */
  on?: boolean;
  summary?: string;
  error?: { code: string; message: string };
  /** The configured step (for its timeout or duration). */
  step?: HookStep;
}

/**
 * The whole plan of one switch, known from the start: every hook step of
 * the direction's phases, the relay itself, and a cycle's off-time, in the
 * order the service runs them (docs/decisions.md #5: preOff → off → postOff
 * → off-time → preOn → on → postOn). It starts all `waiting` and is moved
 * on by the service's events (`step`, `socketChanged`); `finish` settles it
 * with the result's or the error's steps. Pure bookkeeping: times are given.
 */
export class Plan {
  readonly lines: PlanLine[] = [];
  readonly direction: Direction;
  readonly offTimeMs: number;

  constructor(socket: SocketConfig, direction: Direction, offTimeMs?: number) {
    this.direction = direction;
    this.offTimeMs = offTimeMs ?? socket.offTime;
    const half = (on: boolean) => {
      const pre: HookPhase = on ? 'preOn' : 'preOff';
      const post: HookPhase = on ? 'postOn' : 'postOff';
      this.addPhase(pre, socket[pre]);
      this.lines.push(blank({ kind: 'relay', label: on ? 'power on' : 'cut power', on }));
      this.addPhase(post, socket[post]);
    };
    if (direction === 'on') half(true);
    else if (direction === 'off') half(false);
    else {
      half(false);
      this.lines.push(blank({ kind: 'wait', label: `stay off ${formatWait(this.offTimeMs)}` }));
      half(true);
    }
  }

  private addPhase(phase: HookPhase, steps: readonly HookStep[]): void {
    steps.forEach((step, i) => {
      this.lines.push(
        blank({ kind: 'step', phase, index: i + 1, total: steps.length, label: describeStep(step), step }),
      );
    });
  }

  /** A hook step started or ended (`step` event): lines before it are done. */
  step(report: StepReport, at: string): void {
    const i = this.lines.findIndex(
      (line) => line.kind === 'step' && line.phase === report.phase && line.index === report.index,
    );
    if (i === -1) return;
    this.reach(i, at);
    const line = this.lines[i]!;
    const notStarted = report.status === 'skipped' && report.startedAt === null;
    line.status =
      notStarted && report.summary !== 'skipped: forced' ? 'notRun' : (report.status as LineStatus);
    line.startedAt = report.startedAt;
    line.durationMs = report.durationMs;
    line.summary = report.summary;
    line.error = report.error;
    line.dueAt = line.status === 'running' && report.startedAt ? dueOf(line.step, report.startedAt) : null;
    if (line.status !== 'running') this.afterDone(i, at);
  }

  /** The relay switched (`socketChanged` from a command). */
  relay(on: boolean, at: string): void {
    const i = this.lines.findIndex((line) => line.kind === 'relay' && line.on === on && line.status !== 'ok');
    if (i === -1) return;
    this.reach(i, at);
    const line = this.lines[i]!;
    line.status = 'ok';
    line.startedAt = at;
    this.afterDone(i, at);
  }

  /**
   * Settles the plan when the work ended: the reports the service returned
   * (the result's or the audit's steps) replace what the events said; lines
   * never reached are `notRun`, and the relays are done when `changed`.
   */
  finish(steps: readonly StepReport[], ended: 'done' | 'failed' | 'cancelled', changed: boolean): void {
    for (const report of steps) {
      const line = this.lines.find(
        (candidate) =>
          candidate.kind === 'step' && candidate.phase === report.phase && candidate.index === report.index,
      );
      if (!line) continue;
      const notStarted = report.status === 'skipped' && report.startedAt === null;
      line.status =
        notStarted && report.summary !== 'skipped: forced' ? 'notRun' : (report.status as LineStatus);
      line.durationMs = report.durationMs;
      line.startedAt = report.startedAt;
      line.summary = report.summary;
      line.error = report.error;
      line.dueAt = null;
    }
    for (const line of this.lines) {
      if (line.kind === 'relay' && ended === 'done' && changed) line.status = 'ok';
      if (line.kind === 'wait' && ended === 'done' && changed) line.status = 'ok';
      if (line.status === 'running') line.status = ended === 'cancelled' ? 'cancelled' : 'notRun';
      else if (line.status === 'waiting') line.status = 'notRun';
      line.dueAt = null;
    }
  }

  /** Whether the relay of this plan was switched (its first relay line is done). */
  get relayTouched(): boolean {
    return this.lines.some((line) => line.kind === 'relay' && line.status === 'ok');
  }

  /** The time the cycle's power comes back, while its off-time runs. */
  get backOnAt(): string | null {
    const wait = this.lines.find((line) => line.kind === 'wait');
    return wait?.status === 'running' ? wait.dueAt : null;
  }

  /** Lines before `i` that still wait were passed: the service moved on. */
  private reach(i: number, at: string): void {
    for (let j = 0; j < i; j++) {
      const line = this.lines[j]!;
      if (line.status === 'waiting' || line.status === 'running') {
        line.status = 'ok';
        line.dueAt = null;
        if (line.kind === 'relay' || line.kind === 'wait') line.startedAt ??= at;
      }
    }
  }

  /** After a line ends: a cycle's off-time starts once everything before it is done. */
  private afterDone(i: number, at: string): void {
    const next = this.lines[i + 1];
    if (next?.kind === 'wait' && next.status === 'waiting') {
      next.status = 'running';
      next.startedAt = at;
      next.dueAt = new Date(Date.parse(at) + this.offTimeMs).toISOString();
    }
  }
}

function blank(line: Partial<PlanLine> & Pick<PlanLine, 'kind' | 'label'>): PlanLine {
  return { status: 'waiting', startedAt: null, durationMs: null, dueAt: null, ...line };
}

/** When a wait step started at `startedAt` ends at the latest: a delay's end, a wait-for's timeout. */
function dueOf(step: HookStep | undefined, startedAt: string): string | null {
  if (!step) return null;
  const ms =
    step.kind === 'delay'
      ? step.duration
      : step.kind === 'waitHostDown' || step.kind === 'waitHostUp' || step.kind === 'waitPowerBelow'
        ? step.timeout
        : null;
  if (ms === null) return null;
  return new Date(Date.parse(startedAt) + ms).toISOString();
}

function formatWait(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${Number((ms / 60_000).toFixed(1))} min`;
}
