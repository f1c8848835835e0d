import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Client certificate options for an https:// URL (mutual TLS). */
export interface TlsOptions {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

/** The API answered with an error body (or something that is not the API's JSON): exit 1. */
export class ApiCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly body: unknown = null,
  ) {
    super(message);
  }
}

/** No answer at all: refused, unresolvable, TLS handshake refused, connection lost: exit 3. */
export class UnreachableError extends Error {}

/**
 * A small client of the PiPDU API v1: over the daemon's local Unix socket
 * (`unix:/run/pipdu/pipdu.sock`), plain HTTP (loopback) or HTTPS with a
 * client certificate. Every request says the CLI asks its user to confirm
 * (x-pipdu-confirms): the service answers NEEDS_CONFIRMATION where it wants one.
 */
export class ApiClient {
  private readonly base: URL;
  /** The Unix socket's path for a `unix:` address, else null. */
  readonly socketPath: string | null;

  constructor(
    base: string,
    private readonly tls: TlsOptions = {},
  ) {
    if (base.startsWith('unix:')) {
      this.socketPath = base.slice('unix:'.length);
      this.base = new URL('http://localhost');
      return;
    }
    this.socketPath = null;
    this.base = new URL(base);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new TypeError(`--url must be http:// or https://, not ${this.base.protocol}`);
    }
  }

  /** Where requests go, for messages: `unix:/run/pipdu/pipdu.sock` or the URL's origin. */
  get url(): string {
    return this.socketPath === null ? this.base.origin : `unix:${this.socketPath}`;
  }

  /** GET or POST a JSON route; resolves with the parsed body of a 2xx answer, rejects otherwise. */
  async json(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<unknown> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.open(method, path, text);
    const raw = await readAll(res).catch((error: unknown) => {
      throw new UnreachableError(`the connection to ${this.url} broke: ${errorText(error)}`);
    });
    return parseAnswer(res.statusCode ?? 0, raw);
  }

  /**
   * GET /api/v1/events and calls `onEvent` for each server-sent event until the stream ends
   * (resolves) or breaks (rejects with UnreachableError). A non-200 answer rejects with ApiCallError.
   */
  async events(
    onEvent: (name: string, data: unknown) => void,
    options: { telemetry?: boolean } = {},
  ): Promise<void> {
    const path = options.telemetry ? '/api/v1/events?telemetry=1' : '/api/v1/events';
    const res = await this.open('GET', path, undefined, { accept: 'text/event-stream' });
    if (res.statusCode !== 200) {
      parseAnswer(res.statusCode ?? 0, await readAll(res));
      throw new ApiCallError(
        'UNEXPECTED',
        `the event stream answered ${res.statusCode}`,
        res.statusCode ?? 0,
      );
    }
    res.setEncoding('utf8');
    let buffer = '';
    let name = 'message';
    let data: string[] = [];
    const line = (text: string): void => {
      if (text === '') {
        if (data.length > 0) {
          const payload = data.join('\n');
          let parsed: unknown = payload;
          try {
            parsed = JSON.parse(payload);
          } catch {}
          onEvent(name, parsed);
        }
        name = 'message';
        data = [];
        return;
      }
      if (text.startsWith(':')) return;
      const colon = text.indexOf(':');
      const field = colon === -1 ? text : text.slice(0, colon);
      let value = colon === -1 ? '' : text.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    };
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.search(/\r?\n/);
        while (end !== -1) {
          const text = buffer.slice(0, end);
          buffer = buffer.slice(buffer[end] === '\r' ? end + 2 : end + 1);
          line(text);
          end = buffer.search(/\r?\n/);
        }
      });
      res.on('end', () => resolve());
      res.on('error', (error) =>
        reject(new UnreachableError(`the event stream from ${this.url} broke: ${errorText(error)}`)),
      );
      res.on('aborted', () => reject(new UnreachableError(`the event stream from ${this.url} was cut`)));
    });
  }

  private open(
    method: string,
    path: string,
    body: string | undefined,
    extra: Record<string, string> = {},
  ): Promise<IncomingMessage> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { accept: 'application/json', 'x-pipdu-confirms': '1', ...extra };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void =>
        reject(new UnreachableError(`cannot reach PiPDU at ${this.url}: ${explainConnectError(error)}`));
      const req =
        this.socketPath !== null
          ? httpRequest(url, { method, headers, socketPath: this.socketPath }, resolve)
          : url.protocol === 'https:'
            ? httpsRequest(url, { method, headers, ...this.tls }, resolve)
            : httpRequest(url, { method, headers }, resolve);
      req.on('error', onError);
      req.end(body);
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** The JSON of a 2xx answer; an ApiCallError with the API's code and message otherwise. */
function parseAnswer(status: number, raw: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ApiCallError(
      'UNEXPECTED',
      `the server answered ${status} with something that is not JSON: ${raw.slice(0, 200)}`,
      status,
    );
  }
  if (status >= 200 && status < 300) return body;
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    throw new ApiCallError(error.code, error.message, status, body);
  }
  throw new ApiCallError('UNEXPECTED', `the server answered ${status}: ${raw.slice(0, 200)}`, status, body);
}

/** A connection failure in words, with what to do about it (TLS above all). */
export function explainConnectError(error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  const words: Record<string, string> = {
    ECONNREFUSED: 'nothing is listening there (is the daemon running? systemctl status pipdu)',
    ENOENT: 'the socket does not exist (is the daemon running? systemctl status pipdu)',
    EACCES:
      'permission denied: only the pipdu group may use the local socket (sudo usermod -aG pipdu $USER, then log in again)',
    ENOTFOUND: 'that host name is unknown',
    ETIMEDOUT: 'no answer (wrong address, or a firewall?)',
    EHOSTUNREACH: 'the host is unreachable',
    ECONNRESET:
      'the connection was closed at once (with mutual TLS: the server refused this client certificate, or none was given: --cert and --key)',
    SELF_SIGNED_CERT_IN_CHAIN:
      "the server's certificate is signed by a CA this client does not trust: give that CA with --ca (the ca.crt from make-certs.sh)",
    DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed: give it with --ca",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      "the server's certificate cannot be checked: give the CA that signed it with --ca",
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      "the server's certificate cannot be checked: give the CA that signed it with --ca",
    CERT_HAS_EXPIRED: "the server's certificate has expired: make a new one (scripts/make-certs.sh)",
    ERR_TLS_CERT_ALTNAME_INVALID:
      "the server's certificate is not for this name: use a name it was made for, or remake it with PIPDU_SAN",
    EPROTO: 'the TLS handshake failed (an http:// server asked with https://?)',
  };
  if (words[code]) return words[code];
  if (
    /alert certificate required|alert handshake failure|alert bad certificate|alert unknown ca/i.test(
      error.message,
    )
  ) {
    return 'the server refused this client: give a client certificate it accepts with --cert and --key';
  }
  return code || error.message;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
