import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'make-certs.sh');

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  // biome-ignore lint/suspicious/noExplicitAny: JSON replies, checked field by field
  body: any;
  text: string;
}

export interface Client {
  cert?: Buffer;
  key?: Buffer;
}

export interface Certs {
  ca: Buffer;
  clients: Record<string, Client>;
}

/** A CA, a server certificate and one client certificate per CN, made by scripts/make-certs.sh in `dir`. */
export async function makeCerts(dir: string, cns: string[]): Promise<Certs> {
  await run('sh', [SCRIPT, dir, ...cns]);
  const clients: Record<string, Client> = {};
  for (const cn of cns) {
    clients[cn] = {
      cert: await readFile(join(dir, `${cn}.crt`)),
      key: await readFile(join(dir, `${cn}.key`)),
    };
  }
  return { ca: await readFile(join(dir, 'ca.crt')), clients };
}

/** One request on a fresh connection; `body` a string is sent as is (content-type json unless given). */
export function call(
  base: string,
  method: string,
  path: string,
  options: { client?: Client; ca?: Buffer; body?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const common = { method, headers, agent: false as const };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
      res.on('error', reject);
    };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(
            url,
            { ...common, ca: options.ca, cert: options.client?.cert, key: options.client?.key },
            onResponse,
          )
        : httpRequest(url, common, onResponse);
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end(options.body);
  });
}
