import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseDuration } from '../config/duration.js';
import { isLoopbackHost, parseListen } from '../config/listen.js';
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
import { httpStatusFor } from './http-status.js';
import type { PduMetrics } from './metrics.js';
import { handlePdudaemon } from './pdudaemon.js';
import { hasDotSegment } from './request-path.js';

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
  on: ['force', 'reason'],
  off: ['force', 'reason'],
  toggle: ['force', 'reason'],
  cycle: ['force', 'reason', 'offTime'],
  cancel: [],
  'all-on': ['reason'],
  'all-off': ['includeProtected', 'force', 'reason'],
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
  /** Energy per socket and the PDU, alarms, and GET /api/v1/history; absent: none of them. */
  energy?: Pick<Energy, 'withEnergy' | 'figures' | 'activeAlarms' | 'historyOf'>;
}

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
}

interface Stream {
  res: ServerResponse;
  close(): void;
}

/**
 * The HTTP(S) API v1 on the Pdu service (docs/decisions.md #2, #3, #9).
 *
 * Security: plain HTTP only on a loopback address, where every caller gets
 * `api.loopbackRole`. With `api.tls` it is HTTPS with mutual TLS: the client
 * must present a certificate signed by `tls.ca` (the handshake is refused
 * otherwise, so such a client never gets any data); the certificate's
 * subject CN is the actor and `api.clients` maps it to a role. A CN that is
 * not listed gets 403 on every route but `/ping`. Permissions are the same
 * functions Discord uses; refusals are audited. Protected sockets need an
 * admin, with no confirmation step (that is a Discord thing).
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

  constructor(deps: ApiServerDeps) {
    this.started = deps.config;
    this.service = deps.service;
    this.reload = deps.reload ?? null;
    this.logger = deps.logger.child({ component: 'api' });
    this.heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;
    this.metrics = deps.metrics ?? null;
    this.energy = deps.energy ?? null;
  }

  /** The api section in force: a reload changes clients and the loopback role, not where it listens. */
  private get config(): ApiConfig {
    return this.service.config.api ?? this.started;
  }

  /** Listens on `api.listen`; resolves with the base URL (the real port when `listen` asked for port 0). */
  async start(): Promise<{ url: string }> {
    if (this.server) throw new Error('the API server is already running');
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
      const https = createHttpsServer(
        { cert, key, ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
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

  /** Ends the event streams, answers what is in flight (briefly), closes every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.stopping = true;
    for (const stream of [...this.streams]) stream.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
    await closed;
    clearTimeout(grace);
  }

  // ------------------------------------------------------------------ requests

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const by = this.identify(req);
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
      await this.route({ req, res, url, by, actor });
    } catch (error) {
      this.fail(req, res, error);
    }
  }

  /** Who is asking: the client certificate's CN over mutual TLS, the loopback role over plain HTTP. */
  private identify(req: IncomingMessage): Requester {
    if (!this.tls) {
      return {
        actor: { kind: 'api', id: 'loopback' },
        role: this.config.loopbackRole,
        groups: [],
        confirms: false,
      };
    }
    const socket = req.socket as TLSSocket;
    const subjectCn: unknown = socket.authorized ? socket.getPeerCertificate()?.subject?.CN : undefined;
    // A certificate with several CNs names no single actor: no role.
    const cn = typeof subjectCn === 'string' && subjectCn.trim() !== '' ? subjectCn : null;
    if (cn === null)
      return { actor: { kind: 'api', id: '(no CN)' }, role: null, groups: [], confirms: false };
    return { actor: { kind: 'api', id: cn }, role: this.roleOf(cn), groups: [cn], confirms: false };
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
    const method = req.method ?? 'GET';
    if (path === '/ping') {
      allow(method, ['GET']);
      return send(ctx.res, 200, { ok: true }, this.stopping);
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
    const listeners = STREAMED_EVENTS.map((name) => {
      const listener = (event: unknown): void => write(`event: ${name}\ndata: ${JSON.stringify(event)}\n\n`);
      events.on(name, listener);
      return { name, listener };
    });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), this.heartbeatMs);
    heartbeat.unref();
    const stream: Stream = {
      res,
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

async function readTlsFile(key: 'cert' | 'key' | 'ca', path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new PduError('BAD_CONFIG', `cannot read api.tls.${key} (${path}): ${errorText(error)}`, {
      cause: error,
    });
  }
}

/** Why a listen failed, in words (the code stays, for searching). */
function listenProblem(error: NodeJS.ErrnoException): string {
  if (error.code === 'EADDRINUSE') return 'another program is using that port (EADDRINUSE)';
  if (error.code === 'EADDRNOTAVAIL') return 'this machine has no such address (EADDRNOTAVAIL)';
  if (error.code === 'EACCES')
    return 'not allowed to use that port (EACCES; ports below 1024 need privileges)';
  return error.code ?? error.message;
}
