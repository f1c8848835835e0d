import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BlockList, isIPv4, isIPv6, type Socket } from 'node:net';
import { parseListen } from '../config/listen.js';
import type { ApiConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import { type PdudaemonOutcome, runPdudaemonCommand } from './pdudaemon-command.js';
import { MAX_TCP_REQUEST_BYTES, serveTcpRequest, sniffProtocol, type TcpRequest } from './pdudaemon-tcp.js';
import { hasDotSegment } from './request-path.js';

/** pdudaemon's answers, byte for byte (its httplistener.py). */
export const PDUDAEMON_OK = 'OK - accepted request\n';
export const PDUDAEMON_INVALID = 'Invalid request\n';
/** A connection that has not said which protocol it speaks within this long is closed. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

/**
 * pdudaemon's HTTP interface, for LAVA and labgrid:
 * `GET /power/control/{on,off,reboot}?hostname=<pdu name>&port=<socket>[&delay=<s>]`.
 *
 * As pdudaemon: success is 200 "OK - accepted request", anything else 500
 * "Invalid request". The request itself is runPdudaemonCommand's (its rules
 * are written there); the answer comes once the switch happened, and a
 * client that hung up gets none.
 */
export async function handlePdudaemon(
  request: IncomingMessage,
  response: ServerResponse,
  deps: {
    /** The request's URL, as the listener parsed it. */
    url: URL;
    service: PduService;
    /** Who asks, with the role the listener gives them. */
    by: Requester;
    logger: Logger;
  },
): Promise<void> {
  const gone = new AbortController();
  // The client hanging up before we answer: whatever has not started yet never will.
  response.on('close', () => {
    if (!response.writableFinished) gone.abort();
  });
  const { url } = deps;
  const command = /^\/power\/control\/([^/]+)$/.exec(url.pathname)?.[1];
  let outcome: PdudaemonOutcome;
  if (request.method !== 'GET' || command === undefined) {
    outcome = { ok: false, kind: 'invalid', reason: 'not a pdudaemon route' };
  } else if (url.searchParams.has('alias')) {
    outcome = { ok: false, kind: 'invalid', reason: 'aliases are not configured here' };
  } else {
    outcome = await runPdudaemonCommand({
      service: deps.service,
      by: deps.by,
      hostname: url.searchParams.get('hostname'),
      command,
      port: url.searchParams.get('port'),
      delay: url.searchParams.get('delay'),
      signal: gone.signal,
    });
  }
  if (!outcome.ok) {
    deps.logger.info(
      { url: request.url, why: outcome.reason },
      outcome.kind === 'gone' ? 'pdudaemon client went away' : 'pdudaemon request refused',
    );
  }
  if (response.headersSent || gone.signal.aborted) return;
  response.writeHead(outcome.ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(outcome.ok ? PDUDAEMON_OK : PDUDAEMON_INVALID);
}

/**
 * The optional plain listener (`api.pdudaemon`) for pdudaemon's clients,
 * which speak no TLS. One port serves both of pdudaemon's protocols: a
 * connection whose first bytes are an HTTP request line gets the HTTP route
 * (`pduclient --http`, labgrid's PDUDaemonDriver); anything else is
 * pdudaemon's TCP protocol (`pduclient` without `--http`, as LAVA device
 * dictionaries call it): `<pdu> <port> <command> [delay]`, answered `ack` or
 * `nack`. Only source addresses in `allow` are served (others get 403, or
 * `nack`), with `role` for everyone allowed.
 */
export class PdudaemonListener {
  private readonly server: Server;
  private readonly allow = new BlockList();
  /** allow-list answers by source address: BlockList.check costs more than the rest of the routing. */
  private readonly allowed = new Map<string, boolean>();
  private readonly config: NonNullable<ApiConfig['pdudaemon']>;
  /** Open connections, whichever protocol: stop() closes them. */
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly deps: {
      config: NonNullable<ApiConfig['pdudaemon']>;
      service: PduService;
      logger: Logger;
    },
  ) {
    this.config = deps.config;
    for (const entry of deps.config.allow) {
      const [address = '', prefix] = entry.split('/');
      const type = isIPv6(address) ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.allow.addAddress(address, type);
      else this.allow.addSubnet(address, Number(prefix), type);
    }
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    // The HTTP server's own connection handling runs only for connections that speak HTTP.
    const httpConnection = this.server.listeners('connection') as Array<(socket: Socket) => void>;
    this.server.removeAllListeners('connection');
    this.server.on('connection', (socket: Socket) =>
      this.accept(socket, () => {
        for (const listener of httpConnection) listener.call(this.server, socket);
      }),
    );
  }

  async start(): Promise<{ url: string }> {
    const address = parseListen(this.config.listen);
    if (!address) throw new Error(`api.pdudaemon.listen is not host:port: ${this.config.listen}`);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(address.port, address.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const bound = this.server.address();
    const port = typeof bound === 'object' && bound ? bound.port : address.port;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    this.deps.logger.info({ listen: `${host}:${port}` }, 'pdudaemon listener running');
    return { url: `http://${host}:${port}` };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    });
  }

  /** Reads a connection's first bytes and gives it to the protocol they speak. */
  private accept(socket: Socket, http: () => void): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const onError = (): void => {
      socket.destroy();
    };
    socket.on('error', onError);
    const onTimeout = (): void => {
      socket.destroy();
    };
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, onTimeout);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const protocol = sniffProtocol(head);
      if (protocol === 'more') return;
      socket.off('data', onData);
      socket.off('error', onError);
      socket.setTimeout(0);
      socket.off('timeout', onTimeout);
      if (protocol === 'http') {
        // Given back as though never read: the HTTP server parses the request from its first byte.
        socket.pause();
        socket.unshift(head);
        http();
        socket.resume();
        return;
      }
      void this.serveTcp(socket, head);
    };
    socket.on('data', onData);
  }

  private async serveTcp(socket: Socket, head: Buffer): Promise<void> {
    const remote = normalize(socket.remoteAddress ?? '');
    const allowed = this.isAllowed(remote);
    await serveTcpRequest(socket, head, {
      remote,
      logger: this.deps.logger,
      run: async (request: TcpRequest | null, signal) => {
        if (!allowed) {
          return { ok: false, kind: 'invalid', reason: 'the source address is not in api.pdudaemon.allow' };
        }
        if (request === null || head.length > MAX_TCP_REQUEST_BYTES) {
          return { ok: false, kind: 'invalid', reason: 'not "<pdu> <port> <command> [delay]"' };
        }
        return runPdudaemonCommand({
          service: this.deps.service,
          by: this.requester(remote),
          ...request,
          signal,
        });
      },
    });
  }

  private isAllowed(remote: string): boolean {
    if (remote === '') return false;
    let allowed = this.allowed.get(remote);
    if (allowed === undefined) {
      allowed = this.allow.check(remote, isIPv4(remote) ? 'ipv4' : 'ipv6');
      // A scan from many addresses must not grow this without end.
      if (this.allowed.size >= MAX_REMEMBERED_ADDRESSES) this.allowed.clear();
      this.allowed.set(remote, allowed);
    }
    return allowed;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://pdudaemon');
    if (hasDotSegment(request.url ?? '/') || !/^\/power\/control\/(on|off|reboot)$/.test(url.pathname)) {
      // As pdudaemon's aiohttp router does for any other path.
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('404: Not Found');
      return;
    }
    const remote = normalize(request.socket.remoteAddress ?? '');
    if (!this.isAllowed(remote)) {
      response.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('Forbidden\n');
      return;
    }
    await handlePdudaemon(request, response, {
      url,
      service: this.deps.service,
      by: this.requester(remote),
      logger: this.deps.logger,
    });
  }

  /** A client of this listener: its address, and the role in force (a reload may change it). */
  private requester(remote: string): Requester {
    return {
      actor: { kind: 'pdudaemon', id: remote },
      role: this.deps.service.config.api?.pdudaemon?.role ?? this.config.role,
      groups: [remote],
      confirms: false,
    };
  }
}

/** How many source addresses' answers are remembered; past that the memory starts afresh. */
const MAX_REMEMBERED_ADDRESSES = 1024;

/** `::ffff:10.0.0.5` (an IPv4 client on a dual-stack socket) is 10.0.0.5. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
