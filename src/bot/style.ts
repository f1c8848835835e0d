import type { Actor } from '../pdu/actor.js';
import type { HookPhase } from '../pdu/hooks/phase.js';

/**
 * The bot's one visual language: every emoji, colour and word for a state
 * or an outcome is defined here and nowhere else, so that a person learns it
 * once. Rules:
 *
 * - One emoji per meaning, one meaning per emoji: refused (⛔) is not
 *   cancelled (✖️); left alone because protected (🔒) is not skipped by a
 *   force (⏭️); not run (➖) is not "no change" (▫️).
 * - Colours follow the outcome: green done, red failed or refused (and the
 *   red of a confirmation that cuts power), blurple running, yellow done
 *   with warnings or needing attention, grey cancelled, expired or stale.
 * - A socket is named `4 · nas` (its number first: numbers are on the box).
 */

export const COLORS = {
  ok: 0x57f287,
  warn: 0xfee75c,
  error: 0xed4245,
  running: 0x5865f2,
  neutral: 0x99aab5,
  /** A board that is offline: what is shown is stale. */
  stale: 0x4f545c,
} as const;

export const ICONS = {
  // a socket's state
  on: '🟢',
  off: '⚫',
  unknown: '❔',
  /** Last known on, while the board is offline (not live). */
  wasOn: '⚪',
  protected: '🔒',
  // the board
  online: '🟢',
  offline: '🔴',
  // work and its outcome
  waiting: '◻️',
  running: '⏳',
  done: '✅',
  failed: '❌',
  refused: '⛔',
  cancelled: '✖️',
  expired: '⌛',
  notRun: '➖',
  skipped: '⏭️',
  noChange: '▫️',
  warning: '⚠️',
  alarm: '🚨',
  power: '⚡',
  ask: '❓',
} as const;

/** A step report's status, as the icon and word a person reads. */
export const STEP_LOOK = {
  waiting: { icon: ICONS.waiting, word: 'waiting' },
  running: { icon: ICONS.running, word: 'running' },
  ok: { icon: ICONS.done, word: 'done' },
  tolerated: { icon: ICONS.warning, word: 'failed, tolerated' },
  failed: { icon: ICONS.failed, word: 'failed' },
  skipped: { icon: ICONS.skipped, word: 'skipped: forced' },
  cancelled: { icon: ICONS.cancelled, word: 'cancelled' },
  notRun: { icon: ICONS.notRun, word: 'not run' },
} as const;
export type LineStatus = keyof typeof STEP_LOOK;

export function phaseWords(phase: HookPhase): string {
  return { preOff: 'before off', postOff: 'after off', preOn: 'before on', postOn: 'after on' }[phase];
}

/** `preOff step 1 of 2` in a service message, as people read it: `before off step 1 of 2`. */
export function phaseWordsIn(text: string): string {
  return text.replace(/\b(preOff|postOff|preOn|postOn)\b/g, (phase) => phaseWords(phase as HookPhase));
}

export type Direction = 'on' | 'off' | 'cycle';

/** "Switching off", "Switching on", "Power-cycling": a title for work in progress. */
export function doing(direction: Direction): string {
  return { on: 'Switching on', off: 'Switching off', cycle: 'Power-cycling' }[direction];
}

/** "switch off", "switch on", "power-cycle": what a button or a question names. */
export function verb(direction: Direction): string {
  return { on: 'switch on', off: 'switch off', cycle: 'power-cycle' }[direction];
}

export function stateIcon(on: boolean | null, live = true): string {
  if (on === null) return ICONS.unknown;
  if (!live) return on ? ICONS.wasOn : ICONS.off;
  return on ? ICONS.on : ICONS.off;
}

export function stateWord(on: boolean | null): string {
  return on === null ? 'unknown' : on ? 'on' : 'off';
}

/** `4 · nas`, or `4` for a socket without a name. */
export function socketLabel(socket: { number: number; name: string | null | undefined }): string {
  return socket.name ? `${socket.number} · ${socket.name}` : String(socket.number);
}

/** `nas`, or `socket 4` without a name: the subject of a sentence. */
export function socketSubject(socket: { number: number; name: string | null | undefined }): string {
  return socket.name ?? `socket ${socket.number}`;
}

/**
 * One way of naming people everywhere (progress, status, logs, alerts):
 * their name (or id); the interface in brackets unless it is Discord; the
 * daemon itself is "PiPDU". Not escaped: callers pass it through `safe`.
 */
export function personName(actor: Actor): string {
  if (actor.kind === 'system') return 'PiPDU';
  const who = actor.name ?? actor.id;
  return actor.kind === 'discord' ? who : `${who} (${actor.kind})`;
}

/** `4.1 W`, `120 W`, `—` without a reading. */
export function formatWatts(watts: number | null): string {
  if (watts === null) return '—';
  return watts < 10 ? `${watts.toFixed(1)} W` : `${Math.round(watts)} W`;
}

/** A socket shown off that draws at least this much is a contradiction worth flagging. */
export const OFF_DRAW_WATTS = 10;
