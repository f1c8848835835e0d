import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { PdudaemonOutcome } from './pdudaemon-command.js';

/** pdudaemon's TCP answers, byte for byte (its tcplistener.py). */
export const PDUDAEMON_ACK = 'ack\n';
export const PDUDAEMON_NACK = 'nack\n';
/** pdudaemon reads a request with one read of at most this many bytes. */
export const MAX_TCP_REQUEST_BYTES = 16384;

/** Request methods an HTTP client starts with; anything else on the port is the TCP protocol. */
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PRI'];

/**
 * Which protocol a connection's first bytes speak: `http` when they are a
 * method, a space and a request target (which never starts with a digit:
 * `/…`, `*`, `http://…`); `tcp` otherwise (pdudaemon's `<pdu> <port> …`,
 * whose second field is digits, so a PDU named `GET` is still TCP); `more`
 * while the bytes could still become either.
 */
export function sniffProtocol(head: Buffer): 'http' | 'tcp' | 'more' {
  const text = head.toString('latin1', 0, 16);
  for (const method of HTTP_METHODS) {
    const start = `${method} `;
    if (text.length <= start.length) {
      if (start.startsWith(text)) return 'more';
      continue;
    }
    if (text.startsWith(start)) return /[\d\s]/.test(text.charAt(start.length)) ? 'tcp' : 'http';
  }
  return 'tcp';
}

/** One TCP request's fields, as the client wrote them (checked by runPdudaemonCommand). */
export interface TcpRequest {
  hostname: string;
  port: string;
  command: string;
  delay: string | null;
}

/**
 * `<pdu> <port> <command> [delay]`, as pdudaemon's listener.py parses it:
 * the request is the first line of what the first read brought (pduclient
 * sends it in one write, without a newline), blanks around it ignored.
 * Null when it does not have 3 or 4 fields.
 */
export function parseTcpRequest(head: Buffer): TcpRequest | null {
  const line = head.toString('utf8').split(/\r?\n/, 1)[0]?.trim() ?? '';
  const fields = line.split(/\s+/);
  if (fields.length < 3 || fields.length > 4) return null;
  const [hostname = '', port = '', command = '', delay] = fields;
  return { hostname, port, command, delay: delay ?? null };
}

/**
 * Serves one TCP-protocol connection whose request is `head`: runs it and
 * answers `ack` or `nack` once the switch happened or failed, then closes.
 * pduclient waits for the answer with its socket open, so the client's end
 * (FIN) or a reset before the answer means it left: `run`'s signal is
 * aborted and the connection is closed without an answer.
 */
export async function serveTcpRequest(
  socket: Socket,
  head: Buffer,
  deps: {
    /** Runs the parsed request (null: malformed) for this client. */
    run: (request: TcpRequest | null, signal: AbortSignal) => Promise<PdudaemonOutcome>;
    logger: Logger;
    remote: string;
  },
): Promise<void> {
  const gone = new AbortController();
  const leave = (): void => gone.abort();
  socket.once('end', leave);
  socket.once('close', leave);
  socket.on('error', leave);
  // Anything after the request is ignored (pdudaemon reads once); reading on is how the end is seen.
  socket.resume();
  const request = parseTcpRequest(head);
  const line = head.toString('utf8', 0, 200).trim();
  deps.logger.info({ remote: deps.remote, request: line }, 'pdudaemon TCP request');
  const outcome = await deps.run(request, gone.signal);
  if (!outcome.ok) {
    deps.logger.info(
      { remote: deps.remote, request: line, why: outcome.reason },
      outcome.kind === 'gone' ? 'pdudaemon client went away' : 'pdudaemon request refused',
    );
  }
  if (gone.signal.aborted) {
    socket.destroy();
    return;
  }
  // As pdudaemon: answer, then close both ways (a client that never closes its side holds nothing).
  socket.end(outcome.ok ? PDUDAEMON_ACK : PDUDAEMON_NACK, () => socket.destroy());
}
