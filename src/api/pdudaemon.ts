import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseListen } from '../config/listen.js';
import type { ApiConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';

/** pdudaemon's answers, byte for byte (its httplistener.py). */
export const PDUDAEMON_OK = 'OK - accepted request\n';
export const PDUDAEMON_INVALID = 'Invalid request\n';
/** pdudaemon's default reboot delay, in seconds. */
const DEFAULT_REBOOT_DELAY_S = 5;
/** A delay longer than this is refused (pdudaemon would hold the request that long). */
const MAX_DELAY_S = 3600;

/**
 * pdudaemon's HTTP interface, for LAVA and labgrid:
 * `GET /power/control/{on,off,reboot}?hostname=<pdu name>&port=<socket>[&delay=<s>]`.
 *
 * As pdudaemon: `port` is the 1-based socket, `reboot` is off, `delay`
 * seconds (default 5), on; a `delay` on on/off waits that long first; success
 * is 200 "OK - accepted request", anything else 500 "Invalid request".
 * Unlike pdudaemon it answers 200 only once the switch happened, and a
 * request whose client went away before it ran (during its delay) never
 * switches later. The caller's role decides as in Decisions 2 and 3.
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
  const answer = (ok: boolean): void => {
    if (response.headersSent || gone.signal.aborted) return;
    response.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(ok ? PDUDAEMON_OK : PDUDAEMON_INVALID);
  };
  const { url } = deps;
  const action = /^\/power\/control\/(on|off|reboot)$/.exec(url.pathname)?.[1] as
    | 'on'
    | 'off'
    | 'reboot'
    | undefined;
  const hostname = url.searchParams.get('hostname');
  const port = url.searchParams.get('port');
  const delayText = url.searchParams.get('delay');
  const delay = delayText === null ? null : Number(delayText);
  const invalid = (why: string): void => {
    deps.logger.info({ url: request.url, why }, 'pdudaemon request refused');
    answer(false);
  };
  if (request.method !== 'GET' || !action) return invalid('not a pdudaemon route');
  if (url.searchParams.has('alias')) return invalid('aliases are not configured here');
  const pduName = deps.service.config.name;
  if (hostname !== pduName) return invalid(`hostname is not "${pduName}"`);
  if (!port || !/^\d+$/.test(port)) return invalid('port is not a socket number');
  if (delay !== null && (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_S)) {
    return invalid('delay is not a whole number of seconds');
  }
  let socket: ReturnType<PduService['resolve']>;
  try {
    socket = deps.service.resolve(Number(port));
  } catch {
    return invalid('no such socket');
  }
  try {
    // The service decides whether this requester may, when the request acts (FORBIDDEN is audited there).
    if (action === 'reboot') {
      const offTimeMs = (delay ?? DEFAULT_REBOOT_DELAY_S) * 1000;
      await deps.service.submit({
        socket: socket.number,
        action: 'cycle',
        by: deps.by,
        options: { offTimeMs, reason: 'pdudaemon reboot' },
      });
    } else {
      if (delay) await sleep(delay * 1000, undefined, { signal: gone.signal });
      if (gone.signal.aborted) return;
      await deps.service.submit({
        socket: socket.number,
        action,
        by: deps.by,
        options: action === 'off' ? { reason: 'pdudaemon off' } : {},
      });
    }
    answer(true);
  } catch (error) {
    if (gone.signal.aborted) {
      deps.logger.info(
        { url: request.url },
        'pdudaemon client went away before its request ran: nothing switched',
      );
      return;
    }
    deps.logger.warn(
      { url: request.url, err: error instanceof Error ? error.message : String(error) },
      'pdudaemon request failed',
    );
    answer(false);
  }
}

/**
 * The optional plain-HTTP listener (`api.pdudaemon`) for clients that speak
 * no TLS: only the pdudaemon route, only for source addresses in `allow`
 * (others get 403), with `role` for everyone allowed.
 */
export class PdudaemonListener {
  private readonly server: Server;
  private readonly allow = new BlockList();
  /** allow-list answers by source address: BlockList.check costs more than the rest of the routing. */
  private readonly allowed = new Map<string, boolean>();
  private readonly config: NonNullable<ApiConfig['pdudaemon']>;

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
    if (!/^\/power\/control\/(on|off|reboot)$/.test(url.pathname)) {
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
      by: {
        actor: { kind: 'pdudaemon', id: remote },
        // The role in force: a reload may change it.
        role: this.deps.service.config.api?.pdudaemon?.role ?? this.config.role,
        groups: [remote],
        confirms: false,
      },
      logger: this.deps.logger,
    });
  }
}

/** How many source addresses' answers are remembered; past that the memory starts afresh. */
const MAX_REMEMBERED_ADDRESSES = 1024;

/** `::ffff:10.0.0.5` (an IPv4 client on a dual-stack socket) is 10.0.0.5. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
