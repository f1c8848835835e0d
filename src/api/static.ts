import { access, readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The headers every dashboard file is served with: the page may load only
 * what this origin serves, run no inline script or style, and be framed by
 * no one (clickjacking).
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

interface Variant {
  body: Buffer;
  etag: string;
}

interface StaticFile {
  type: string;
  /** Hashed names never change content: cached for a year. index.html is revalidated each time. */
  immutable: boolean;
  identity: Variant;
  gzip: Variant | null;
  br: Variant | null;
}

export interface StaticSiteDeps {
  /** The built dashboard (scripts/build-web.ts's output); absent: dist/web next to this build. */
  root?: string;
}

/**
 * The web dashboard's files, as `npm run build` wrote them, served from
 * memory (they are small): `GET /` is index.html, `/assets/<name>-<hash>.*`
 * the rest. Each file is sent in the best precompressed form the client's
 * Accept-Encoding takes (br, gzip, else as is), with the page security
 * headers and an ETag. start() reads the files; a missing build is not an
 * error (the API still works), `GET /` then says how to build it.
 */
export class StaticSite {
  private readonly root: string | null;
  private files = new Map<string, StaticFile>();
  private built = false;

  constructor(deps: StaticSiteDeps = {}) {
    this.root = deps.root ?? null;
  }

  /** Whether a dashboard build was found. */
  get available(): boolean {
    return this.built;
  }

  /** The directory served from, or null when no build was found. */
  async start(): Promise<string | null> {
    const root = this.root ?? (await defaultRoot());
    if (root === null) return null;
    const files = new Map<string, StaticFile>();
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = relative(root, join(entry.parentPath, entry.name)).split('\\').join('/');
      if (path.endsWith('.gz') || path.endsWith('.br')) continue;
      const full = join(root, path);
      const type = TYPES[extname(path)] ?? 'application/octet-stream';
      const [identity, gzip, br] = await Promise.all([
        readFile(full),
        readFile(`${full}.gz`).catch(() => null),
        readFile(`${full}.br`).catch(() => null),
      ]);
      const tag = `${path}-${identity.length}-${hashOf(identity)}`;
      files.set(`/${path}`, {
        type,
        immutable: path.startsWith('assets/'),
        identity: { body: identity, etag: `"${tag}"` },
        gzip: gzip && { body: gzip, etag: `"${tag}-gz"` },
        br: br && { body: br, etag: `"${tag}-br"` },
      });
    }
    this.files = files;
    this.built = files.has('/index.html');
    return this.built ? root : null;
  }

  /** Whether `path` is the dashboard's: `/`, `/index.html` or under `/assets/`. */
  owns(path: string): boolean {
    return path === '/' || path === '/index.html' || path.startsWith('/assets/');
  }

  /** Answers a GET or HEAD for a path `owns()` said yes to. */
  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const file = this.files.get(path === '/' ? '/index.html' : path);
    if (!file) {
      const text =
        path === '/' || path === '/index.html'
          ? 'The PiPDU web dashboard is not built: run `npm run build` (the API itself works without it).\n'
          : `There is no dashboard file ${path}.\n`;
      res.writeHead(404, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        ...PAGE_SECURITY_HEADERS,
      });
      res.end(text);
      return;
    }
    const accepted = acceptedEncodings(req.headers['accept-encoding']);
    const [encoding, variant] =
      file.br && accepted.has('br')
        ? (['br', file.br] as const)
        : file.gzip && accepted.has('gzip')
          ? (['gzip', file.gzip] as const)
          : ([null, file.identity] as const);
    const headers: Record<string, string | number> = {
      'content-type': file.type,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag: variant.etag,
      vary: 'accept-encoding',
      ...PAGE_SECURITY_HEADERS,
    };
    if (encoding) headers['content-encoding'] = encoding;
    if (req.headers['if-none-match'] === variant.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    headers['content-length'] = variant.body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : variant.body);
  }
}

/** dist/web next to the compiled server (dist/src/api → dist/web), or from the sources (src/api → dist/web). */
async function defaultRoot(): Promise<string | null> {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [resolve(here, '../../web'), resolve(here, '../../dist/web')]) {
    try {
      await access(join(candidate, 'index.html'));
      return candidate;
    } catch {}
  }
  return null;
}

/** The codings a client takes (`q=0` excluded). */
function acceptedEncodings(header: string | undefined): Set<string> {
  const accepted = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    accepted.add(name);
  }
  return accepted;
}

/** A short content hash for the ETag (FNV-1a; not security-relevant). */
function hashOf(body: Buffer): string {
  let hash = 0x811c9dc5;
  for (const byte of body) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(36);
}
