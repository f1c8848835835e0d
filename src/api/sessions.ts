import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie that carries a session id. */
export const SESSION_COOKIE = 'pipdu_session';
/** A session unused this long ends, unless `api.sessionIdle` says otherwise. */
export const DEFAULT_SESSION_IDLE_MS = 12 * 3_600_000;
/** A session ends this long after sign-in, unless `api.sessionMax` says otherwise. */
export const DEFAULT_SESSION_MAX_MS = 168 * 3_600_000;
/** Past this many live sessions the least recently used one ends (each sign-in makes one). */
export const MAX_SESSIONS = 1000;

/** One signed-in password account. */
export interface Session {
  user: string;
  /** The hash the password was checked against: a new password in the config ends the session. */
  passwordHash: string;
  created: number;
  lastSeen: number;
}

export interface SessionLimits {
  idleMs: number;
  maxMs: number;
}

/**
 * Sessions of password accounts, in memory only: a restart of the daemon
 * signs everyone out. The id is 32 random bytes (base64url) that only the
 * client holds; the store keys sessions by the id's SHA-256, so what is in
 * memory cannot be replayed as a cookie. A session ends at logout, after
 * `idleMs` without a request, or `maxMs` after sign-in, whichever is first;
 * expiry is checked when the session is used (no timers), and expired ones
 * are swept whenever a new one is made.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly now: () => number;

  /** `now` is the clock (Date.now unless a test moves time itself). */
  constructor(deps: { now?: () => number } = {}) {
    this.now = deps.now ?? Date.now;
  }

  /** A new session for `user`: the id to put in the cookie. */
  create(user: string, passwordHash: string, limits: SessionLimits): string {
    this.sweep(limits);
    while (this.sessions.size >= MAX_SESSIONS) {
      // Map order is insertion order, and get() re-inserts: the first is the least recently used.
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    this.sessions.set(digest(id), { user, passwordHash, created: now, lastSeen: now });
    return id;
  }

  /** The live session with this id, its idle time restarted; an expired one is ended and null. */
  get(id: string, limits: SessionLimits): Session | null {
    const key = digest(id);
    const session = this.sessions.get(key);
    if (!session) return null;
    this.sessions.delete(key);
    const now = this.now();
    if (expired(session, now, limits)) return null;
    session.lastSeen = now;
    this.sessions.set(key, session);
    return session;
  }

  /** The live session with this id, as get() but not counted as a use; an expired one is ended and null. */
  peek(id: string, limits: SessionLimits): Session | null {
    const key = digest(id);
    const session = this.sessions.get(key);
    if (!session) return null;
    if (!expired(session, this.now(), limits)) return session;
    this.sessions.delete(key);
    return null;
  }

  /** Ends the session with this id; whether there was one. */
  end(id: string): boolean {
    return this.sessions.delete(digest(id));
  }

  /** Live sessions (expired ones not yet swept included). */
  get size(): number {
    return this.sessions.size;
  }

  private sweep(limits: SessionLimits): void {
    const now = this.now();
    for (const [key, session] of this.sessions) {
      if (expired(session, now, limits)) this.sessions.delete(key);
    }
  }
}

function expired(session: Session, now: number, limits: SessionLimits): boolean {
  return now - session.lastSeen >= limits.idleMs || now - session.created >= limits.maxMs;
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** The session ids in the request's Cookie header (a browser may send the name more than once). */
export function sessionIds(req: IncomingMessage): string[] {
  const header = req.headers.cookie;
  if (!header) return [];
  const ids: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    // 32 bytes of base64url are 43 characters; anything else was never ours.
    if (/^[A-Za-z0-9_-]{43}$/.test(value)) ids.push(value);
  }
  return ids;
}

/** The Set-Cookie value that starts a session (`maxAgeMs` later the browser forgets it too). */
export function sessionCookie(id: string, options: { secure: boolean; maxAgeMs: number }): string {
  return `${SESSION_COOKIE}=${id}; Max-Age=${Math.floor(options.maxAgeMs / 1000)}; Path=/; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that makes the browser drop the session cookie. */
export function clearedSessionCookie(options: { secure: boolean }): string {
  return `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}
