import { isIPv6 } from 'node:net';
import type Bottleneck from 'bottleneck/light.js';

/**
 * How many sign-in attempts a source address and a user name get: `perAddress`
 * and `perUser` at first, then one more every `refillMs` up to that many again.
 */
export interface LoginLimits {
  perAddress: number;
  perUser: number;
  refillMs: number;
}

/** 5 tries per user name and 20 per address, then one a minute: a guesser gets ~1,500 guesses a day per name. */
export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAddress: 20, perUser: 5, refillMs: 60_000 };

export type ThrottleVerdict = { ok: true } | { ok: false; retryAfterS: number };

type Groups = { address: Bottleneck.Group; user: Bottleneck.Group };

/**
 * Failed sign-ins, throttled per source address and per user name with
 * bottleneck: one Bottleneck.Group per kind, one limiter per key, each
 * with a reservoir of attempts that refills over time. An attempt takes one
 * from both reservoirs before the password is checked (so parallel guesses
 * cannot all slip through), and a successful sign-in gives them back: only
 * failures cost. A reservoir at zero drops the job (highWater 0, OVERFLOW):
 * the attempt is refused with a Retry-After.
 *
 * bottleneck is imported the first time a sign-in arrives: it costs a few MB
 * resident, and most daemons never see a password sign-in. Its timers are
 * unref'd; stop() clears them.
 */
export class LoginThrottle {
  private readonly limits: LoginLimits;
  private groups: Promise<Groups> | null = null;

  constructor(limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {
    this.limits = limits;
  }

  /** Takes one attempt from the address's and the user's allowance; when either has none, nothing is taken. */
  async take(address: string, user: string): Promise<ThrottleVerdict> {
    const groups = await this.load();
    // An attempt comes back within refillMs and one of bottleneck's heartbeats (which adds it).
    const wait = this.limits.refillMs + heartbeatOf(this.limits.refillMs);
    const refused: ThrottleVerdict = { ok: false, retryAfterS: Math.max(1, Math.ceil(wait / 1000)) };
    const byAddress = groups.address.key(addressKey(address));
    if (!(await consume(byAddress))) return refused;
    if (!(await consume(groups.user.key(user.toLowerCase())))) {
      await byAddress.incrementReservoir(1);
      return refused;
    }
    return { ok: true };
  }

  /** Gives back what take() took: the attempt succeeded. */
  async refund(address: string, user: string): Promise<void> {
    const groups = await this.load();
    await Promise.all([
      refill(groups.address.key(addressKey(address)), this.limits.perAddress),
      refill(groups.user.key(user.toLowerCase()), this.limits.perUser),
    ]);
  }

  /** Stops every limiter's timer and the groups' clean-up timers. */
  async stop(): Promise<void> {
    const loading = this.groups;
    this.groups = null;
    if (!loading) return;
    const groups = await loading;
    for (const group of [groups.address, groups.user]) {
      await Promise.all(group.keys().map((key) => group.deleteKey(key)));
      // Group keeps its clean-up interval in `interval` and has no call that clears it.
      clearInterval((group as unknown as { interval?: NodeJS.Timeout }).interval);
    }
  }

  private load(): Promise<Groups> {
    this.groups ??= import('bottleneck/light.js').then(({ default: Bottleneck }) => {
      const { perAddress, perUser, refillMs } = this.limits;
      const group = (size: number): Bottleneck.Group =>
        new Bottleneck.Group({
          reservoir: size,
          reservoirIncreaseAmount: 1,
          reservoirIncreaseInterval: refillMs,
          reservoirIncreaseMaximum: size,
          highWater: 0,
          strategy: Bottleneck.strategy.OVERFLOW,
          heartbeatInterval: heartbeatOf(refillMs),
          // A limiter untouched this long is full again: drop it (a new one starts full).
          timeout: size * refillMs,
        });
      return { address: group(perAddress), user: group(perUser) };
    });
    return this.groups;
  }
}

/** How often a limiter looks whether an attempt is due back: each limiter has its own timer, so not often. */
function heartbeatOf(refillMs: number): number {
  return Math.max(10, Math.min(15_000, Math.round(refillMs / 4)));
}

/**
 * The key an address is counted under: IPv4 (also IPv4-mapped IPv6) as it
 * is, IPv6 by its /64, since one host commonly holds a whole /64.
 */
export function addressKey(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}

/** Runs an empty job of weight 1: true if the reservoir had one for it, false if bottleneck dropped it. */
async function consume(limiter: Bottleneck): Promise<boolean> {
  try {
    await limiter.schedule({ weight: 1 }, async () => undefined);
    return true;
  } catch {
    return false;
  }
}

async function refill(limiter: Bottleneck, maximum: number): Promise<void> {
  const left = (await limiter.currentReservoir()) ?? maximum;
  if (left < maximum) await limiter.incrementReservoir(1);
}
