import { randomUUID } from 'node:crypto';
import { chmod, lstat, readFile, unlink } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseDuration } from '../config/duration.js';
import { isLoopbackHost, parseListen } from '../config/listen.js';
import { verifyPassword } from '../config/password-hash.js';
import type { ApiConfig, Role } from '../config/schema.js';
import type { Energy } from '../energy/energy.js';
import { parseHistoryQuery } from '../energy/history-query.js';
import { type ApiErrorCode, isPduError, PduError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Actor, Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import { type Check, canAdminister, canRead, forbiddenError } from '../pdu/permissions.js';
import type { PduRequest, RequestOptions, RequestOutcome } from '../pdu/request.js';
import type { Alarm, EnergyFigures, PduEvents, PduStatus, SwitchAction } from '../pdu/types.js';
import { BoardWatch, dashboardView } from './dashboard.js';
import { httpStatusFor } from './http-status.js';
import { DEFAULT_LOGIN_LIMITS, type LoginLimits, LoginThrottle } from './login-throttle.js';
import type { PduMetrics } from './metrics.js';
import { handlePdudaemon } from './pdudaemon.js';
import { peerCredentials, userName } from './peer-credentials.js';
import { hasDotSegment } from './request-path.js';
import {
  clearedSessionCookie,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_SESSION_MAX_MS,
  type Session,
  type SessionLimits,
  SessionStore,
  sessionCookie,
  sessionIds,
} from './sessions.js';
import { StaticSite } from './static.js';

/** Request bodies larger than this are refused with 413. */
export const MAX_BODY_BYTES = 4096;
/** A comment line on every event stream this often, so proxies and clients see it is alive. */
export const HEARTBEAT_MS = 15_000;
/** On stop(), requests in flight get this long to be answered before their connections are closed. */
const STOP_GRACE_MS = 2_000;
/** An event stream whose client reads slower than this much backlog is dropped. */
const MAX_STREAM_BACKLOG = 1024 * 1024;
const MAX_REASON_LENGTH = 200;
const DEFAULT_AUDIT_LIMIT = 100;
const MAX_AUDIT_LIMIT = 10_000;

/** The service events the event stream forwards, one SSE event each. */
const STREAMED_EVENTS = [
  'socketChanged',
  'pending',
  'step',
  'boardOnline',
  'boardOffline',
  'boardReset',
  'alarm',
] as const satisfies readonly (keyof PduEvents)[];

const REQUEST_ACTIONS: readonly (SwitchAction | 'cancel')[] = ['on', 'off', 'toggle', 'cycle', 'cancel'];

/** Body keys each POST accepts; anything else is a 400. */
const BODY_KEYS: Record<SwitchAction | 'cancel' | 'all-on' | 'all-off', readonly string[]> = {
  // force on: an admin past the overload guard
  // confirmed: the caller's user confirmed (see CONFIRMS_HEADER)
  on: ['force', 'reason', 'confirmed'],
  off: ['force', 'reason', 'confirmed'],
  toggle: ['force', 'reason', 'confirmed'],
  cycle: ['force', 'reason', 'offTime', 'confirmed'],
  cancel: [],
  'all-on': ['reason', 'confirmed'],
  'all-off': ['includeProtected', 'force', 'reason', 'confirmed'],
};

export interface ApiServerDeps {
  /** The api section as the daemon started (listen, tls); clients and roles are read from the service's current config. */
  config: ApiConfig;
  service: PduService;
  logger: Logger;
  /** The daemon's reload (POST /api/v1/reload); absent: the route answers that reloading is not available here. */
  reload?: (by: Requester) => Promise<string>;
  /** Served at GET /metrics (readers and up). */
  metrics?: PduMetrics;
  /** Event stream heartbeat period; HEARTBEAT_MS unless a test wants it shorter. */
  heartbeatMs?: number;
  /** The sessions' clock: Date.now unless a test moves time itself. */
  now?: () => number;
  /** Failed sign-ins allowed per address and per user; DEFAULT_LOGIN_LIMITS unless a test wants fewer. */
  loginLimits?: LoginLimits;
  /** The built web dashboard's directory; absent: dist/web (see StaticSite). */
  webRoot?: string;
  /** Energy per socket and the PDU, alarms, and GET /api/v1/history; absent: none of them. */
  energy?: Pick<Energy, 'withEnergy' | 'figures' | 'activeAlarms' | 'historyOf'>;
  /**
   * Listen on this Unix socket instead of `api.listen` (the local control
   * socket, for the Pi's own `pipdu`): plain HTTP, mode 0660 (the daemon's
   * group may connect), every caller is the Unix user at the other end
   * (peer credentials) with `api.localRole`, and confirms (CONFIRMS_HEADER).
   */
  socketPath?: string;
}

/** The local socket's file mode: the daemon's user and group. */
export const LOCAL_SOCKET_MODE = 0o660;

/**
 * A client that asks its user before a protected socket goes off (the CLI)
 * sends this header (`1`): its requests are then refused NEEDS_CONFIRMATION
 * by the service unless the body says `confirmed: true`. Local-socket callers
 * always confirm.
 */
export const CONFIRMS_HEADER = 'x-pipdu-confirms';

/** How the caller was identified: GET /api/v1/session says it, the audit log shows the actor. */
export type Via = 'loopback' | 'certificate' | 'password' | 'local';

/** A user name or password longer than this is refused before any hashing. */
const MAX_USER_LENGTH = 64;
const MAX_PASSWORD_LENGTH = 1024;
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A failure of the request itself (route, method, body); its code maps to a status like a PduError's. */
class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Who asks: every request to the service carries it. */
  by: Requester;
  actor: Actor;
  /** How `by` was identified; null: it was not (no role). */
  via: Via | null;
  /** The session id the request's cookie named, if that session is live. */
  sessionId: string | null;
}

interface Stream {
  res: ServerResponse;
  /** The session the stream was opened with: it ends with it. */
  sessionId: string | null;
  close(): void;
}

/**
 * The HTTP(S) API v1 on the Pdu service (docs/decisions.md #2, #3, #9).
 *
 * Security: plain HTTP only on a loopback address, where every caller gets
 * `api.loopbackRole`. With `api.tls` it is HTTPS with mutual TLS: the client
 * must present a certificate signed by `tls.ca` (unless clientCertificates is
 * optional, the handshake is refused otherwise, so such a client never gets
 * any data); the certificate's subject CN is the actor and `api.clients` maps
 * it to a role. A CN that is not listed gets 403 on every route but `/ping`
 * and `/api/v1/session` (and no certificate, 401). Permissions are the same
 * functions Discord uses; refusals are audited. Protected sockets need an
 * admin, with no confirmation step (that is a Discord thing).
 *
 * Password accounts (`api.users`, for the web page): `POST /api/v1/session`
 * signs in and sets an HttpOnly, SameSite=Strict session cookie (Secure over
 * TLS); with `api.tls.clientCertificates: optional` a browser without a
 * certificate connects and can only do that until it has signed in. Who a
 * request is: a client certificate whose CN is listed in `api.clients`, else
 * a live session, else on plain HTTP `loopbackRole`. A state-changing request
 * carrying an Origin header must come from this listener's own origin (CSRF),
 * and plain HTTP answers only Host names that are loopback (DNS rebinding).
 *
 * The web dashboard's files (`/`, `/assets/…`) hold no PDU data: every caller
 * that got through TLS gets them (the page is where one signs in). The page
 * asks its user to confirm protected offs and all-off itself, as Discord does.
 */
export class ApiServer {
  /** The api section as started: where it listens and with which certificates. */
  private readonly started: ApiConfig;
  private readonly service: PduService;
  private readonly reload: ((by: Requester) => Promise<string>) | null;
  private readonly logger: Logger;
  private readonly heartbeatMs: number;
  private server: Server | null = null;
  private tls = false;
  private stopping = false;
  private readonly metrics: PduMetrics | null;
  private readonly energy: ApiServerDeps['energy'] | null;
  private readonly streams = new Set<Stream>();
  private readonly sessions: SessionStore;
  private readonly throttle: LoginThrottle;
  private readonly site: StaticSite;
  private readonly watch: BoardWatch;
  private readonly socketPath: string | null;
  /** Each local connection's user, asked once per connection. */
  private readonly peers = new WeakMap<Socket, Promise<Requester>>();

  constructor(deps: ApiServerDeps) {
    this.started = deps.config;
    this.service = deps.service;
    this.reload = deps.reload ?? null;
    this.logger = deps.logger.child({ component: 'api' });
    this.heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;
    this.metrics = deps.metrics ?? null;
    this.sessions = new SessionStore({ now: deps.now ?? Date.now });
    this.throttle = new LoginThrottle(deps.loginLimits ?? DEFAULT_LOGIN_LIMITS);
    this.site = new StaticSite(deps.webRoot === undefined ? {} : { root: deps.webRoot });
    this.watch = new BoardWatch(deps.service);
    this.energy = deps.energy ?? null;
    this.socketPath = deps.socketPath ?? null;
  }

  /** The api section in force: a reload changes clients and the loopback role, not where it listens. */
  private get config(): ApiConfig {
    return this.service.config.api ?? this.started;
  }

  /** Listens on `api.listen`; resolves with the base URL (the real port when `listen` asked for port 0). */
  async start(): Promise<{ url: string }> {
    if (this.server) throw new Error('the API server is already running');
    if (this.socketPath !== null) return this.startLocal(this.socketPath);
    const address = parseListen(this.config.listen);
    if (!address) {
      throw new PduError('BAD_CONFIG', `api.listen "${this.config.listen}" is not host:port`);
    }
    const loopback = isLoopbackHost(address.host);
    const tls = this.config.tls;
    if (!tls && !loopback) {
      throw new PduError(
        'BAD_CONFIG',
        `api.listen is ${this.config.listen}, which is not a loopback address: that needs api.tls (cert, key and the ca that signs client certificates); plain HTTP is only served on 127.0.0.1 or ::1`,
      );
    }
    const web = await this.site.start();
    if (web === null) this.logger.warn('the web dashboard is not built (npm run build): GET / says so');
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res);
    };
    let server: Server;
    if (tls) {
      const [cert, key, ca] = await Promise.all([
        readTlsFile('cert', tls.cert),
        readTlsFile('key', tls.key),
        readTlsFile('ca', tls.ca),
      ]);
      // optional: the certificate is asked for, and a client without a valid one is let in with no role.
      const required = tls.clientCertificates !== 'optional';
      const https = createHttpsServer(
        { cert, key, ca, requestCert: true, rejectUnauthorized: required, minVersion: 'TLSv1.2' },
        handler,
      );
      https.on('tlsClientError', (error, socket) => {
        this.logger.info(
          { err: error.message, remote: socket.remoteAddress },
          'TLS handshake refused (no valid client certificate?)',
        );
      });
      server = https as unknown as Server;
    } else {
      server = createHttpServer(handler);
    }
    this.tls = tls !== undefined;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new PduError(
            'BAD_CONFIG',
            `the API cannot listen on ${this.config.listen}: ${listenProblem(error)}`,
            { cause: error },
          ),
        );
      };
      server.once('error', onError);
      server.listen(address.port, address.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error({ err: error }, 'API server error'));
    this.server = server;
    this.watch.start();
    this.stopping = false;
    const { port } = server.address() as AddressInfo;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    const url = `${this.tls ? 'https' : 'http'}://${host}:${port}`;
    this.logger.info(
      { url, mutualTls: this.tls, clients: Object.keys(this.config.clients).length },
      `API listening on ${url}`,
    );
    return { url };
  }

  /** The local control socket: a stale socket file is replaced, a live one (another daemon) is an error. */
  private async startLocal(path: string): Promise<{ url: string }> {
    await removeStaleSocket(path);
    const server = createHttpServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new PduError('BAD_CONFIG', `the local socket cannot listen on ${path}: ${listenProblem(error)}`, {
            cause: error,
          }),
        );
      };
      server.once('error', onError);
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    });
    await chmod(path, LOCAL_SOCKET_MODE);
    server.on('error', (error) => this.logger.error({ err: error }, 'local socket error'));
    this.server = server;
    this.watch.start();
    this.stopping = false;
    const url = `unix:${path}`;
    this.logger.info({ url, role: this.config.localRole ?? 'admin' }, `local control socket on ${path}`);
    return { url };
  }

  /** Ends the event streams, answers what is in flight (briefly), closes every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.stopping = true;
    this.watch.stop();
    for (const stream of [...this.streams]) stream.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
    await closed;
    clearTimeout(grace);
    await this.throttle.stop();
  }

  // ------------------------------------------------------------------ requests

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const { by, via, sessionId } =
      this.socketPath === null
        ? this.identify(req)
        : { by: await this.localCaller(req.socket), via: 'local' as const, sessionId: null };
    const { actor } = by;
    res.on('finish', () => {
      this.logger.debug(
        {
          method: req.method,
          url: req.url,
          status: res.statusCode,
          actor: actor.id,
          ms: Math.round(performance.now() - started),
        },
        'API request',
      );
      if (this.stopping) this.server?.closeIdleConnections();
    });
    try {
      // URL parsing would resolve them: a path means what it says, or it is refused.
      if (hasDotSegment(req.url ?? '/')) {
        throw new ApiError('BAD_REQUEST', 'a request path may not have "." or ".." segments');
      }
      const url = new URL(req.url ?? '/', 'http://pipdu');
      if (this.socketPath === null) this.checkOrigin(req);
      await this.route({ req, res, url, by, actor, via, sessionId });
    } catch (error) {
      this.fail(req, res, error);
    }
  }

  /**
   * Who is asking, first match wins: a valid client certificate whose CN is
   * listed in `api.clients`; a live session (of a user still in `api.users`
   * with the same password hash: a reload that removes the user or changes
   * the password ends it, one that changes the role applies now); on plain
   * HTTP, the loopback role; else a certificate's unlisted CN or nobody, with
   * no role.
   */
  private identify(req: IncomingMessage): { by: Requester; via: Via | null; sessionId: string | null } {
    let cn: string | null = null;
    if (this.tls) {
      const socket = req.socket as TLSSocket;
      const subjectCn: unknown = socket.authorized ? socket.getPeerCertificate()?.subject?.CN : undefined;
      // A certificate with several CNs names no single actor: no role.
      cn = typeof subjectCn === 'string' && subjectCn.trim() !== '' ? subjectCn : null;
      const role = cn === null ? null : this.roleOf(cn);
      if (cn !== null && role !== null) {
        return {
          by: { actor: { kind: 'api', id: cn }, role, groups: [cn], confirms: false },
          via: 'certificate',
          sessionId: null,
        };
      }
    }
    const session = this.session(req);
    if (session) return { by: session.by, via: 'password', sessionId: session.id };
    if (!this.tls) {
      return {
        by: {
          actor: { kind: 'api', id: 'loopback' },
          role: this.config.loopbackRole,
          groups: [],
          confirms: false,
        },
        via: 'loopback',
        sessionId: null,
      };
    }
    if (cn !== null) {
      return {
        by: { actor: { kind: 'api', id: cn }, role: null, groups: [cn], confirms: false },
        via: null,
        sessionId: null,
      };
    }
    const socket = req.socket as TLSSocket;
    const id = socket.authorized ? '(no CN)' : '(no certificate)';
    return {
      by: { actor: { kind: 'api', id }, role: null, groups: [], confirms: false },
      via: null,
      sessionId: null,
    };
  }

  /**
   * A local-socket caller: its Unix user (peer credentials) with
   * `api.localRole`; `local` when the credentials cannot be read (then only
   * the socket's mode said who may connect).
   */
  private localCaller(socket: Socket): Promise<Requester> {
    let caller = this.peers.get(socket);
    if (!caller) {
      caller = peerCredentials(socket).then(async (peer) => {
        const id = peer === null ? 'local' : await userName(peer.uid);
        const actor: Actor =
          peer === null ? { kind: 'cli', id } : { kind: 'cli', id, name: `${id} (uid ${peer.uid})` };
        return { actor, role: this.config.localRole ?? 'admin', groups: [id], confirms: true };
      });
      this.peers.set(socket, caller);
    }
    return caller;
  }

  /** The request's live session and its user as a Requester, or null. */
  private session(req: IncomingMessage): { id: string; by: Requester } | null {
    for (const id of sessionIds(req)) {
      const session = this.sessions.get(id, this.sessionLimits());
      const account = session && this.accountOf(id, session);
      if (!session || !account) continue;
      const user = session.user;
      return {
        id,
        by: { actor: { kind: 'web', id: user }, role: account.role, groups: [user], confirms: false },
      };
    }
    return null;
  }

  /** The session's account as the config now has it; null (and the session ended) if it is gone or has a new password. */
  private accountOf(id: string, session: Session): { role: Role; passwordHash: string } | null {
    const users = this.config.users ?? {};
    const account = Object.hasOwn(users, session.user) ? users[session.user] : undefined;
    if (account && account.passwordHash === session.passwordHash) return account;
    this.sessions.end(id);
    return null;
  }

  /** Whether the session is still live, without counting this as its use (an open event stream is not). */
  private sessionLive(id: string): boolean {
    const session = this.sessions.peek(id, this.sessionLimits());
    return session !== null && this.accountOf(id, session) !== null;
  }

  private sessionLimits(): SessionLimits {
    return {
      idleMs: this.config.sessionIdle ?? DEFAULT_SESSION_IDLE_MS,
      maxMs: this.config.sessionMax ?? DEFAULT_SESSION_MAX_MS,
    };
  }

  /**
   * CSRF and DNS rebinding. A state-changing request that says where it comes
   * from (browsers send Origin on every POST/PUT/PATCH/DELETE; curl and the
   * CLI send none) must come from this listener's own origin, as its Host
   * header names it. On plain HTTP the Host must be a loopback name: a page
   * whose DNS name was re-pointed at 127.0.0.1 would otherwise be same-origin.
   */
  private checkOrigin(req: IncomingMessage): void {
    const host = req.headers.host ?? '';
    // No Host at all is an HTTP/1.0 tool, never a browser.
    if (!this.tls && host !== '' && !isLoopbackHostHeader(host)) {
      throw new PduError(
        'FORBIDDEN',
        'plain HTTP answers only loopback host names (127.0.0.1, ::1, localhost)',
      );
    }
    const origin = req.headers.origin;
    if (origin === undefined || !STATE_CHANGING.has(req.method ?? 'GET')) return;
    const own = `${this.tls ? 'https' : 'http'}://${host}`.toLowerCase();
    if (origin.toLowerCase() !== own) throw new PduError('FORBIDDEN', 'cross-origin request refused');
  }

  /** `api.clients[cn]`, the CN matched case-insensitively as socket `roles` are. */
  private roleOf(cn: string): Role | null {
    const exact = this.config.clients[cn];
    if (exact) return exact;
    const wanted = cn.trim().toLowerCase();
    for (const [name, role] of Object.entries(this.config.clients)) {
      if (name.trim().toLowerCase() === wanted) return role;
    }
    return null;
  }

  private async route(ctx: Context): Promise<void> {
    const { req, url } = ctx;
    const path = url.pathname;
    // A client that asks its user (the CLI) says so; the service then wants `confirmed`.
    if (req.headers[CONFIRMS_HEADER] === '1') ctx.by = { ...ctx.by, confirms: true };
    const method = req.method ?? 'GET';
    if (path === '/ping') {
      allow(method, ['GET']);
      return send(ctx.res, 200, { ok: true }, this.stopping);
    }
    // The dashboard's files hold no PDU data: served to every caller that got
    // through TLS, so one without a role still gets the page that signs in.
    if (this.site.owns(path)) {
      allow(method, ['GET', 'HEAD']);
      return this.site.serve(ctx.req, ctx.res, path);
    }
    // Any caller may ask who they are, sign in and sign out.
    if (path === '/api/v1/session') {
      allow(method, ['GET', 'POST', 'DELETE']);
      if (method === 'POST') return this.signIn(ctx);
      if (method === 'DELETE') return this.signOut(ctx);
      return this.whoAmI(ctx);
    }
    // Nobody at all (no certificate, no session: clientCertificates optional) is told to sign in;
    // not audited, as anyone who can reach the port could fill the audit log with it.
    if (this.tls && ctx.via === null && ctx.by.groups.length === 0) {
      throw new PduError(
        'UNAUTHORIZED',
        'sign in first (POST /api/v1/session) or present a client certificate',
      );
    }
    // An unlisted certificate gets nothing else, not even which routes exist.
    const readCheck = canRead(ctx.by);
    if (!readCheck.ok) this.refuse(ctx, 'request', null, readCheck);

    if (path === '/metrics' && this.metrics) {
      allow(method, ['GET']);
      const { contentType, body } = await this.metrics.render();
      ctx.res.writeHead(200, { 'content-type': contentType });
      ctx.res.end(body);
      return;
    }
    if (path.startsWith('/power/control/')) {
      // pdudaemon's route, on this listener too; it answers as pdudaemon does.
      return handlePdudaemon(ctx.req, ctx.res, {
        url,
        service: this.service,
        by: ctx.by,
        logger: this.logger,
      });
    }
    if (path === '/api/v1/events') {
      allow(method, ['GET']);
      return this.eventStream(ctx);
    }
    if (path === '/api/v1/dashboard') {
      allow(method, ['GET']);
      return send(
        ctx.res,
        200,
        this.readable(ctx, () => dashboardView(this.service, ctx.by, this.watch)),
        this.stopping,
      );
    }
    if (path === '/api/v1/audit') {
      allow(method, ['GET']);
      return this.auditLog(ctx);
    }
    if (path === '/api/v1/reload') {
      allow(method, ['POST']);
      return this.reloadConfig(ctx);
    }
    if (path === '/api/v1/history' || path === '/api/v1/alarms') {
      allow(method, ['GET']);
      const energy = this.energy;
      if (!energy)
        throw new PduError('UNSUPPORTED', 'energy, history and alarms are not kept by this server');
      if (path === '/api/v1/alarms')
        return send(ctx.res, 200, { alarms: energy.activeAlarms() }, this.stopping);
      const q = parseHistoryQuery(url.searchParams, Date.now());
      const answer = energy.historyOf(q.sockets, q.from, q.to, q.stepMs);
      const series = q.sockets.map((socket, i) => ({ socket: socket ?? 'total', points: answer.series[i] }));
      const { resolution, stepMs, from, to } = answer;
      return send(
        ctx.res,
        200,
        { unit: 'W', power: 'real (estimate)', resolution, stepMs, from, to, series },
        this.stopping,
      );
    }
    const match = /^\/api\/v1\/sockets(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/.exec(path);
    if (match) {
      const id = match[1] === undefined ? undefined : decodeSegment(match[1]);
      const verb = match[2];
      if (id === undefined) {
        allow(method, ['GET']);
        return send(
          ctx.res,
          200,
          this.readable(ctx, () => this.withEnergy(this.service.status())),
          this.stopping,
        );
      }
      if (verb === undefined) {
        allow(method, ['GET']);
        return send(
          ctx.res,
          200,
          this.readable(ctx, () => this.energy?.withEnergy(this.service.info(id)) ?? this.service.info(id)),
          this.stopping,
        );
      }
      const action = REQUEST_ACTIONS.find((candidate) => candidate === verb);
      if (action) {
        allow(method, ['POST']);
        return this.request(ctx, id, action);
      }
    }
    throw new ApiError('NOT_FOUND', `there is no route ${method} ${path}`);
  }

  /**
   * POST /api/v1/session `{ "user", "password" }`: 204 and a session cookie,
   * or 401 alike for an unknown user and a wrong password (an unknown user
   * costs a scrypt too), or 429 when the address or the user name has used
   * up its failed attempts. Audited as login / login-failed with the address;
   * the password, its hash and the session id are never logged or audited.
   */
  private async signIn(ctx: Context): Promise<void> {
    const started = Date.now();
    const address = ctx.req.socket.remoteAddress ?? 'unknown';
    // Plain HTTP is only ever served on loopback; this holds even if that changes.
    if (!this.tls && !isLoopbackAddress(address)) {
      throw new PduError('FORBIDDEN', 'password sign-in off loopback needs TLS (api.tls)');
    }
    const body = await readJsonBody(ctx.req, ['user', 'password']);
    const { user, password } = body;
    if (
      typeof user !== 'string' ||
      user === '' ||
      user.length > MAX_USER_LENGTH ||
      typeof password !== 'string' ||
      password.length > MAX_PASSWORD_LENGTH
    ) {
      throw new ApiError(
        'BAD_REQUEST',
        `expected {"user": "...", "password": "..."} (a user name of at most ${MAX_USER_LENGTH} characters)`,
      );
    }
    const verdict = await this.throttle.take(address, user);
    if (!verdict.ok) {
      throw new ApiError(
        'TOO_MANY_REQUESTS',
        `too many failed sign-ins from this address or for this user; try again in ${verdict.retryAfterS} s`,
        { 'retry-after': String(verdict.retryAfterS) },
      );
    }
    const users = this.config.users ?? {};
    const account = Object.hasOwn(users, user) ? users[user] : undefined;
    const valid = await verifyPassword(password, account?.passwordHash ?? null);
    const actor: Actor = { kind: 'web', id: user };
    if (!valid || !account) {
      const error = new PduError('UNAUTHORIZED', 'wrong user name or password');
      this.service.recordAction(actor, 'login-failed', started, { address }, error);
      throw error;
    }
    await this.throttle.refund(address, user);
    const limits = this.sessionLimits();
    const id = this.sessions.create(user, account.passwordHash, limits);
    this.service.recordAction(actor, 'login', started, { address, role: account.role });
    ctx.res.writeHead(204, {
      'set-cookie': sessionCookie(id, { secure: this.tls, maxAgeMs: limits.maxMs }),
      'cache-control': 'no-store',
      ...(this.stopping ? { connection: 'close' } : {}),
    });
    ctx.res.end();
  }

  /** DELETE /api/v1/session: ends the request's session (if any) and clears the cookie; 204 either way. */
  private async signOut(ctx: Context): Promise<void> {
    await readJsonBody(ctx.req, []);
    if (ctx.sessionId !== null && this.sessions.end(ctx.sessionId)) {
      const address = ctx.req.socket.remoteAddress ?? 'unknown';
      this.service.recordAction(ctx.actor, 'logout', Date.now(), { address });
      for (const stream of [...this.streams]) if (stream.sessionId === ctx.sessionId) stream.close();
    }
    ctx.res.writeHead(204, {
      'set-cookie': clearedSessionCookie({ secure: this.tls }),
      'cache-control': 'no-store',
      ...(this.stopping ? { connection: 'close' } : {}),
    });
    ctx.res.end();
  }

  /**
   * GET /api/v1/session: `{ user, role, via }`. `user` is the account or
   * certificate CN (null on loopback and for nobody), `via` how the caller
   * was identified (null: not at all, or a CN that is not in api.clients).
   * Over TLS, every other route answers nobody 401 UNAUTHORIZED: sign in.
   */
  private whoAmI(ctx: Context): void {
    const { by, via } = ctx;
    // A certificate's CN and a user are their own group; loopback and nobody have none.
    const user = by.groups.length > 0 ? by.actor.id : null;
    send(ctx.res, 200, { user, role: by.role, via }, this.stopping);
  }

  /** The status with each socket's energy, the PDU's, and the alarms raised (when the energy part runs). */
  private withEnergy(status: PduStatus): PduStatus & { energy?: EnergyFigures; alarms?: Alarm[] } {
    const energy = this.energy;
    if (!energy) return status;
    return {
      ...status,
      sockets: status.sockets.map((socket) => energy.withEnergy(socket)),
      energy: energy.figures(null),
      alarms: energy.activeAlarms(),
    };
  }

  private readable<T>(ctx: Context, read: () => T): T {
    const check = canRead(ctx.by);
    if (!check.ok) this.refuse(ctx, 'read', null, check);
    return read();
  }

  /**
   * POST /api/v1/sockets/:id/{on,off,toggle,cycle,cancel}[?wait=false], `:id`
   * a number, a name or `all` (on, off): the body becomes one request to the
   * service, which decides and audits it; this only renders the outcome.
   * With `wait=false`, work still running after this turn is answered 202.
   */
  private async request(ctx: Context, id: string, action: SwitchAction | 'cancel'): Promise<void> {
    const all = id.trim().toLowerCase() === 'all';
    const keys = all
      ? action === 'on' || action === 'off'
        ? BODY_KEYS[`all-${action}`]
        : []
      : BODY_KEYS[action];
    const wait = waitParam(ctx.url);
    const body = await readJsonBody(ctx.req, keys);
    const options: RequestOptions = {};
    const force = optionalBoolean(body, 'force');
    const reason = optionalReason(body);
    const includeProtected = optionalBoolean(body, 'includeProtected');
    if (force !== undefined) options.force = force;
    if (reason !== undefined) options.reason = reason;
    if (includeProtected !== undefined) options.includeProtected = includeProtected;
    const confirmed = optionalBoolean(body, 'confirmed');
    if (confirmed !== undefined) options.confirmed = confirmed;
    if (typeof body.offTime === 'string') options.offTimeMs = parseDuration(body.offTime);
    else if (body.offTime !== undefined)
      throw new ApiError('BAD_REQUEST', 'offTime must be a duration string like "10s"');
    const request: PduRequest = { socket: id, action, by: ctx.by, options };
    const work = this.service.submit(request);
    if (!wait && !all && action !== 'cancel' && !(await settlesAtOnce(work))) {
      work.catch((error: unknown) =>
        this.logger.info(
          { socket: id, action, actor: ctx.actor.id, err: errorText(error) },
          'API request answered 202 failed later',
        ),
      );
      const info = this.service.info(id);
      send(ctx.res, 202, { accepted: true, action, socket: info, pending: info.pending }, this.stopping);
      return;
    }
    this.render(ctx, await work);
  }

  /** A request's outcome as the API answers it: 200, or for all sockets the first failure's status. */
  private render(ctx: Context, outcome: RequestOutcome): void {
    if (outcome.kind === 'switch') {
      send(ctx.res, 200, outcome.result, this.stopping);
      return;
    }
    if (outcome.kind === 'cancel') {
      send(ctx.res, 200, { cancelled: outcome.cancelled, socket: outcome.socket }, this.stopping);
      return;
    }
    if (outcome.kind === 'cancelAll') {
      send(ctx.res, 200, { stopped: outcome.stopped, cancelled: outcome.cancelled }, this.stopping);
      return;
    }
    const { result } = outcome;
    const failed = result.outcomes.filter((one) => !one.ok);
    const first = failed[0];
    if (!first || first.ok) {
      send(ctx.res, 200, result, this.stopping);
      return;
    }
    const message = `${failed.length} of ${result.outcomes.length} sockets failed; socket ${first.socket}: ${first.error.message}`;
    send(
      ctx.res,
      httpStatusFor(first.error.code),
      { error: { code: 'PARTIAL', message }, result },
      this.stopping,
    );
  }

  /** POST /api/v1/reload (admins): the daemon re-reads its configuration file. */
  private async reloadConfig(ctx: Context): Promise<void> {
    await readJsonBody(ctx.req, []);
    if (!this.reload) throw new ApiError('NOT_FOUND', 'reloading is not available on this listener');
    send(ctx.res, 200, { summary: await this.reload(ctx.by) }, this.stopping);
  }

  /** GET /api/v1/audit?limit=N (admin) */
  private async auditLog(ctx: Context): Promise<void> {
    const text = ctx.url.searchParams.get('limit');
    const limit = text === null ? DEFAULT_AUDIT_LIMIT : Number(text);
    if (!/^\d+$/.test(text ?? '1') || limit < 1 || limit > MAX_AUDIT_LIMIT) {
      throw new ApiError('BAD_REQUEST', `limit must be a whole number 1..${MAX_AUDIT_LIMIT}`);
    }
    const check = canAdminister(ctx.by, 'reading the audit log');
    if (!check.ok) this.refuse(ctx, 'audit', null, check);
    send(ctx.res, 200, { entries: await this.service.auditLog(limit) }, this.stopping);
  }

  /** GET /api/v1/events: server-sent events, one per service event, until the client goes or stop(). */
  private eventStream(ctx: Context): void {
    const check = canRead(ctx.by);
    if (!check.ok) this.refuse(ctx, 'events', null, check);
    // Telemetry only for those who ask (`?telemetry=1`, the dashboard): one a second per board.
    const names: readonly (keyof PduEvents)[] = telemetryParam(ctx.url)
      ? [...STREAMED_EVENTS, 'telemetry']
      : STREAMED_EVENTS;
    const { req, res } = ctx;
    const events = this.service.events;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': PiPDU event stream\n\n');
    const write = (chunk: string): void => {
      if (res.writableLength > MAX_STREAM_BACKLOG) {
        this.logger.warn({ actor: ctx.actor.id }, 'event stream client too slow: dropped');
        stream.close();
        res.destroy();
        return;
      }
      res.write(chunk);
    };
    // Each stream listens to every streamed event: twenty open dashboards are not a leak.
    const wanted = this.streams.size + 16;
    if (events.getMaxListeners() !== 0 && events.getMaxListeners() < wanted) events.setMaxListeners(wanted);
    const listeners = names.map((name) => {
      const listener = (event: unknown): void => write(`event: ${name}\ndata: ${JSON.stringify(event)}\n\n`);
      events.on(name, listener);
      return { name, listener };
    });
    // A stream opened with a session ends with it: checked at each heartbeat (sign-out ends it at once).
    const heartbeat = setInterval(() => {
      if (ctx.sessionId !== null && !this.sessionLive(ctx.sessionId)) stream.close();
      else write(': heartbeat\n\n');
    }, this.heartbeatMs);
    heartbeat.unref();
    const stream: Stream = {
      res,
      sessionId: ctx.sessionId,
      close: () => {
        if (!this.streams.delete(stream)) return;
        clearInterval(heartbeat);
        for (const { name, listener } of listeners) events.off(name, listener);
        if (!res.writableEnded) res.end();
      },
    };
    this.streams.add(stream);
    req.on('close', stream.close);
    res.on('close', stream.close);
  }

  /** Audits the refusal and answers 403 (thrown, so the caller's flow ends here). */
  private refuse(ctx: Context, action: string, socket: number | null, check: Check & { ok: false }): never {
    const error = forbiddenError(check);
    this.service.recordRefusal(ctx.actor, action, socket, error);
    throw error;
  }

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (error instanceof ApiError) {
      if (error.code === 'PAYLOAD_TOO_LARGE') res.shouldKeepAlive = false;
      send(
        res,
        httpStatusFor(error.code),
        errorBody(error.code, error.message),
        this.stopping,
        error.headers,
      );
      return;
    }
    if (isPduError(error)) {
      const status = httpStatusFor(error.code);
      if (status === 500)
        this.logger.error({ err: error, method: req.method, url: req.url }, 'API request failed');
      send(res, status, errorBody(error.code, error.message), this.stopping);
      return;
    }
    const id = randomUUID().slice(0, 8);
    this.logger.error(
      { err: error, errorId: id, method: req.method, url: req.url },
      'unexpected error in the API',
    );
    send(res, 500, errorBody('INTERNAL', `internal error ${id} (see the PiPDU log)`), this.stopping);
  }
}

// ------------------------------------------------------------------ helpers

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  closing: boolean,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(closing || !res.shouldKeepAlive ? { connection: 'close' } : {}),
    ...headers,
  });
  res.end(text);
}

function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

function allow(method: string, methods: readonly string[]): void {
  if (!methods.includes(method)) {
    throw new ApiError('METHOD_NOT_ALLOWED', `${method} is not allowed here; use ${methods.join(' or ')}`, {
      allow: methods.join(', '),
    });
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError('BAD_REQUEST', `"${segment}" is not a valid URL path segment`);
  }
}

function telemetryParam(url: URL): boolean {
  const value = url.searchParams.get('telemetry');
  if (value === null || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw new ApiError('BAD_REQUEST', 'telemetry must be true or false');
}

function waitParam(url: URL): boolean {
  const value = url.searchParams.get('wait');
  if (value === null || value === 'true' || value === '1' || value === '') return true;
  if (value === 'false' || value === '0') return false;
  throw new ApiError('BAD_REQUEST', 'wait must be true or false');
}

/**
 * The body as a JSON object with only `allowed` keys; an empty body is `{}`.
 * Over MAX_BODY_BYTES: 413. A body that is not application/json: 415.
 */
async function readJsonBody(
  req: IncomingMessage,
  allowed: readonly string[],
): Promise<Record<string, unknown>> {
  const tooLarge = (): ApiError =>
    new ApiError('PAYLOAD_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  // Not `for await`: leaving it early would destroy the socket before the 413 is written.
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      // Read no more of it; the connection closes after the answer.
      req.off('data', onData);
      req.off('end', onEnd);
      req.pause();
      reject(tooLarge());
    };
    const onEnd = (): void => resolve();
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', reject);
  });
  if (size === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      'the request body must be JSON (content-type: application/json)',
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new ApiError('BAD_REQUEST', `the request body is not valid JSON: ${errorText(error)}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('BAD_REQUEST', 'the request body must be a JSON object');
  }
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    const accepted =
      allowed.length > 0 ? `accepted: ${allowed.join(', ')}` : 'this route takes no body fields';
    throw new ApiError('BAD_REQUEST', `unknown field(s) ${unknown.join(', ')}; ${accepted}`);
  }
  return body as Record<string, unknown>;
}

function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || typeof value === 'boolean') return value;
  throw new ApiError('BAD_REQUEST', `${key} must be true or false`);
}

function optionalReason(body: Record<string, unknown>): string | undefined {
  const value = body.reason;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > MAX_REASON_LENGTH) {
    throw new ApiError('BAD_REQUEST', `reason must be a string of at most ${MAX_REASON_LENGTH} characters`);
  }
  return value;
}

/** Whether the promise settles within this turn of the event loop (a refusal, an answer at once). */
async function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Unlinks `path` if it is a socket nobody listens on (a daemon that did not stop cleanly). */
async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => null);
  if (stats === null) return;
  if (!stats.isSocket()) {
    throw new PduError('BAD_CONFIG', `the local socket path ${path} exists and is not a socket`);
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new PduError('BAD_CONFIG', `another PiPDU is already listening on ${path}`);
  await unlink(path);
}

async function readTlsFile(key: 'cert' | 'key' | 'ca', path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new PduError('BAD_CONFIG', `cannot read api.tls.${key} (${path}): ${errorText(error)}`, {
      cause: error,
    });
  }
}

/** Whether a Host header (`127.0.0.1:8080`, `[::1]:8080`, `localhost`) names this machine's loopback. */
function isLoopbackHostHeader(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  return name.toLowerCase() === 'localhost' || (isIP(name) !== 0 && isLoopbackAddress(name));
}

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x. */
function isLoopbackAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Why a listen failed, in words (the code stays, for searching). */
function listenProblem(error: NodeJS.ErrnoException): string {
  if (error.code === 'EADDRINUSE') return 'another program is using that port (EADDRINUSE)';
  if (error.code === 'EADDRNOTAVAIL') return 'this machine has no such address (EADDRNOTAVAIL)';
  if (error.code === 'EACCES')
    return 'not allowed to use that port (EACCES; ports below 1024 need privileges)';
  return error.code ?? error.message;
}
