import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Host public keys for pinning: parsing `ssh-ed25519 AAAA...` lines and
 * looking a host up in an OpenSSH known_hosts file, as `ssh` does (plain and
 * hashed `|1|` host names, `*`/`?` wildcards, `!` negation, `[host]:port`
 * for ports other than 22, `@revoked`). `@cert-authority` lines are skipped:
 * host certificates are not supported.
 */

/** A public key as the server sends it: the raw key blob, and the type name the blob starts with. */
export interface PublicKey {
  readonly type: string;
  readonly blob: Buffer;
}

export interface KnownHostKeys {
  /** Keys the host may present. */
  keys: PublicKey[];
  /** Keys marked `@revoked`: refused even if also listed as valid. */
  revoked: PublicKey[];
}

/** The type name at the start of a key blob (an SSH string), or null if the blob is malformed. */
export function keyTypeOf(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return null;
  return blob.toString('latin1', 4, 4 + length);
}

/** The key's fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** "ssh-ed25519 SHA256:..." for messages. */
export function describeKey(key: PublicKey): string {
  return `${key.type} ${fingerprint(key.blob)}`;
}

/** Parses `<type> <base64> [comment]`; null unless the base64 decodes to a blob of that type. */
export function parsePublicKey(line: string): PublicKey | null {
  const [type, data] = line.trim().split(/\s+/);
  if (!type || !data || !/^[A-Za-z0-9+/]+={0,3}$/.test(data)) return null;
  const blob = Buffer.from(data, 'base64');
  return keyTypeOf(blob) === type ? { type, blob } : null;
}

/** True when both are the same key. */
export function sameKey(a: PublicKey, b: { blob: Buffer }): boolean {
  return a.blob.length === b.blob.length && timingSafeEqual(a.blob, b.blob);
}

/** The name a host is listed under in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** The keys a known_hosts file lists for `host` on `port`. */
export function lookupKnownHosts(text: string, host: string, port: number): KnownHostKeys {
  const name = knownHostsName(host, port);
  const found: KnownHostKeys = { keys: [], revoked: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    if (marker !== undefined && marker !== '@revoked') continue;
    const [hosts, type, data] = fields;
    if (!hosts || !type || !data || !hostsMatch(hosts, name)) continue;
    const key = parsePublicKey(`${type} ${data}`);
    if (!key) continue;
    (marker === '@revoked' ? found.revoked : found.keys).push(key);
  }
  return found;
}

/** OpenSSH's rule: the name matches some pattern of the list and no negated one. */
function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) return hashedMatch(hosts, name);
  let matched = false;
  for (const entry of hosts.toLowerCase().split(',')) {
    const negated = entry.startsWith('!');
    const pattern = negated ? entry.slice(1) : entry;
    if (!wildcardMatch(pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `|1|<base64 salt>|<base64 HMAC-SHA1(salt, name)>`, as `ssh-keygen -H` writes. */
function hashedMatch(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** `*` matches any run of characters, `?` any one character. */
function wildcardMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(name);
}
