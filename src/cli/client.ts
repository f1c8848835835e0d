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

/** A small client of the PiPDU API v1 over plain HTTP (loopback) or HTTPS with a client certificate. */
export class ApiClient {
  private readonly base: URL;

  constructor(
    base: string,
    private readonly tls: TlsOptions = {},
  ) {
    this.base = new URL(base);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new TypeError(`--url must be http:// or https://, not ${this.base.protocol}`);
    }
  }

  get url(): string {
    return this.base.origin;
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
  async events(onEvent: (name: string, data: unknown) => void): Promise<void> {
    const res = await this.open('GET', '/api/v1/events', undefined, { accept: 'text/event-stream' });
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
    const headers: Record<string, string> = { accept: 'application/json', ...extra };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void =>
        reject(
          new UnreachableError(`cannot reach the PiPDU API at ${this.url}: ${error.code ?? error.message}`),
        );
      const req =
        url.protocol === 'https:'
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

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
