import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes for `api.users`: scrypt, written as one self-describing
 * line `scrypt$<N>$<r>$<p>$<salt, base64>$<hash, base64>` so the parameters
 * can be raised later without breaking the hashes already in configs.
 *
 * New hashes use N = 2^15, r = 8, p = 1: 32 MiB of memory for the moment
 * of a sign-in, and 0.1-0.2 s of one core on an x86 development machine (a
 * Pi 4 is a few times slower: still under a second), which is also what each
 * guess costs a guesser. OWASP's first choice for scrypt, N = 2^17, takes
 * 128 MiB at once: too much on a small Pi that runs other things.
 * Verification accepts other parameters within PARAMETER_LIMITS, so a
 * hand-made or hostile hash cannot make a sign-in take gigabytes.
 */
export const SCRYPT_DEFAULTS = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** What a hash in a config may ask for: at most 256 MiB (128 × N × r) and p ≤ 16. */
const PARAMETER_LIMITS = { maxLogN: 20, maxR: 32, maxP: 16, maxMemory: 256 * 1024 ** 2 };

export interface PasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The parts of a hash line, or why it is not one. The reason never quotes
 * the text: what someone wrote there may be a plaintext password.
 */
export function parsePasswordHash(
  text: string,
): { ok: true; hash: PasswordHash } | { ok: false; reason: string } {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return {
      ok: false,
      reason:
        'expected a scrypt hash made by `pipdu hash-password` (scrypt$N$r$p$salt$hash); plaintext passwords are not accepted',
    };
  }
  const [, nText, rText, pText, saltText, hashText] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (![nText, rText, pText].every((value) => /^\d{1,8}$/.test(value))) {
    return { ok: false, reason: 'the scrypt parameters N, r and p must be whole numbers' };
  }
  const N = Number(nText);
  const r = Number(rText);
  const p = Number(pText);
  const logN = Math.log2(N);
  if (!Number.isInteger(logN) || logN < 1 || logN > PARAMETER_LIMITS.maxLogN) {
    return { ok: false, reason: `scrypt N must be a power of two up to 2^${PARAMETER_LIMITS.maxLogN}` };
  }
  if (r < 1 || r > PARAMETER_LIMITS.maxR || p < 1 || p > PARAMETER_LIMITS.maxP) {
    return {
      ok: false,
      reason: `scrypt r must be 1..${PARAMETER_LIMITS.maxR} and p 1..${PARAMETER_LIMITS.maxP}`,
    };
  }
  if (128 * N * r > PARAMETER_LIMITS.maxMemory) {
    return { ok: false, reason: 'scrypt N × r asks for more than 256 MiB of memory' };
  }
  if (!BASE64.test(saltText) || !BASE64.test(hashText)) {
    return { ok: false, reason: 'the salt and hash must be base64' };
  }
  const salt = Buffer.from(saltText, 'base64');
  const hash = Buffer.from(hashText, 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) {
    return {
      ok: false,
      reason: 'the salt (at least 8 bytes) or the hash (16..64 bytes) is too short or long',
    };
  }
  return { ok: true, hash: { N, r, p, salt, hash } };
}

function derive(
  password: string,
  salt: Buffer,
  length: number,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
      salt,
      length,
      { ...params, maxmem: 2 * 128 * params.N * params.r + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/** A new hash line for `password`, with a fresh random salt and SCRYPT_DEFAULTS. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { N, r, p } = SCRYPT_DEFAULTS;
  const key = await derive(password, salt, KEY_BYTES, SCRYPT_DEFAULTS);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Whether `password` matches the hash line, compared in constant time.
 * `null` (no such user) still costs one scrypt with SCRYPT_DEFAULTS, so
 * an unknown user name takes about as long to refuse as a wrong password.
 */
export async function verifyPassword(password: string, line: string | null): Promise<boolean> {
  const parsed = line === null ? null : parsePasswordHash(line);
  if (!parsed?.ok) {
    await derive(password, randomBytes(SALT_BYTES), KEY_BYTES, SCRYPT_DEFAULTS);
    return false;
  }
  const { N, r, p, salt, hash } = parsed.hash;
  const key = await derive(password, salt, hash.length, { N, r, p });
  return timingSafeEqual(key, hash);
}
