import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { ApiServer } from '../src/api/server.js';
import { ConfigError } from '../src/config/config-error.js';
import { parseConfig } from '../src/config/load.js';
import { hashPassword, verifyPassword } from '../src/config/password-hash.js';
import { type Certs, type Client, makeCerts, type Reply } from './helpers/api-client.js';
import { makeConfig, PduFixture } from './helpers/pdu-fixture.js';

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'pipdu.ts');
const MAKE_CERTS = join(import.meta.dirname, '..', 'scripts', 'make-certs.sh');
const run = promisify(execFile);

const SOCKETS = `
sockets:
  - { number: 1, name: pi-self, protected: true }
  - { number: 2, name: lab }
`;

const PASSWORDS = {
  alice: 'alice: correct horse battery',
  root: 'root: Tr0ub4dor&3',
  vera: 'vera: viewer only',
  otto: 'otto: sometimes typos',
} as const;
type User = keyof typeof PASSWORDS;

/** The api section's YAML: `users` maps each user to its role and hash. */
function apiYaml(head: string, users: Record<string, { role: string; passwordHash: string }>): string {
  const lines = Object.entries(users).map(
    ([name, { role, passwordHash }]) => `    ${name}: { role: ${role}, passwordHash: '${passwordHash}' }`,
  );
  return `${SOCKETS}api:\n${head}  users:\n${lines.join('\n')}\n`;
}

interface Ask {
  cookie?: string;
  body?: unknown;
  origin?: string;
  host?: string;
  /** the local address the request comes from (127.0.0.x): the throttle counts per address */
  from?: string;
  client?: Client;
  /** a PKCS#12 client identity instead of `client` */
  pfx?: Buffer;
  passphrase?: string;
}

/** One request on a fresh connection, from `from`, with the cookie, Origin and Host given. */
function ask(
  base: string,
  ca: Buffer | undefined,
  method: string,
  path: string,
  o: Ask = {},
): Promise<Reply> {
  const url = new URL(path, base);
  const headers: Record<string, string> = {};
  if (o.cookie) headers.cookie = o.cookie;
  if (o.origin) headers.origin = o.origin;
  if (o.host) headers.host = o.host;
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
      res.on('error', reject);
    };
    const common = { method, headers, agent: false as const, localAddress: o.from ?? '127.0.0.1' };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(
            url,
            { ...common, ca, cert: o.client?.cert, key: o.client?.key, pfx: o.pfx, passphrase: o.passphrase },
            onResponse,
          )
        : httpRequest(url, common, onResponse);
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end(body);
  });
}

/** The Set-Cookie header of a reply, as one string (it must be exactly one cookie). */
function setCookie(reply: Reply): string {
  const cookies = reply.headers['set-cookie'];
  assert.equal(cookies?.length, 1, `one Set-Cookie expected, got ${JSON.stringify(cookies)}`);
  return cookies[0]!;
}

/** `pipdu_session=<id>` from a Set-Cookie value, for a Cookie header. */
function cookieOf(reply: Reply): string {
  return setCookie(reply).split(';')[0]!;
}

/** Where the logs go in these tests: every line kept, for the check that no secret is in them. */
class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('password sessions over HTTPS with client certificates optional', () => {
  let dir: string;
  let certs: Certs;
  let fixture: PduFixture;
  let server: ApiServer;
  let base: string;
  let hashes: Record<User, string>;
  let head: string;
  const logs = new LogCapture();
  let clock = Date.now();
  /** Every session id handed out, for the log check at the end. */
  const issued = new Set<string>();

  const as = (method: string, path: string, o: Ask = {}) => ask(base, certs.ca, method, path, o);
  const signIn = async (user: string, password: string, o: Ask = {}): Promise<Reply> => {
    const reply = await as('POST', '/api/v1/session', { ...o, body: { user, password } });
    if (reply.status === 204) issued.add(cookieOf(reply).split('=')[1]!);
    return reply;
  };
  const session = async (user: User, o: Ask = {}): Promise<string> => {
    const reply = await signIn(user, PASSWORDS[user], o);
    assert.equal(reply.status, 204, reply.text);
    return cookieOf(reply);
  };
  const users = (changes: Partial<Record<User, { role: string } | null>> = {}) => {
    const base: Record<string, { role: string; passwordHash: string }> = {
      alice: { role: 'operator', passwordHash: hashes.alice },
      root: { role: 'admin', passwordHash: hashes.root },
      vera: { role: 'viewer', passwordHash: hashes.vera },
      otto: { role: 'operator', passwordHash: hashes.otto },
    };
    for (const [name, change] of Object.entries(changes)) {
      if (change === null) delete base[name];
      else base[name] = { ...base[name]!, ...change };
    }
    return base;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pipdu-sessions-'));
    certs = await makeCerts(join(dir, 'pki'), ['boss', 'stranger']);
    hashes = Object.fromEntries(
      await Promise.all(Object.entries(PASSWORDS).map(async ([user, pw]) => [user, await hashPassword(pw)])),
    );
    const pki = join(dir, 'pki');
    head = `  listen: 127.0.0.1:0
  tls: { cert: ${pki}/server.crt, key: ${pki}/server.key, ca: ${pki}/ca.crt, clientCertificates: optional }
  clients: { boss: admin }
  sessionIdle: 1h
  sessionMax: 3h
`;
    fixture = await PduFixture.create(apiYaml(head, users()));
    await fixture.startDaemon();
    server = new ApiServer({
      config: fixture.config.api!,
      service: fixture.service,
      logger: pino({ level: 'trace' }, logs),
      now: () => clock,
      heartbeatMs: 50,
      loginLimits: { perAddress: 6, perUser: 3, refillMs: 600_000 },
    });
    base = (await server.start()).url;
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('without a certificate a client connects but has no role until it signs in', async () => {
    assert.deepEqual((await as('GET', '/api/v1/session')).body, { user: null, role: null, via: null });
    const audited = (await fixture.service.auditLog(1000)).length;
    const refused = await as('GET', '/api/v1/sockets');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'UNAUTHORIZED');
    assert.match(refused.body.error.message, /sign in/);
    assert.equal((await as('POST', '/api/v1/sockets/lab/on')).status, 401);
    assert.equal((await as('GET', '/metrics')).status, 401);
    assert.equal(fixture.service.info(2).on, false);
    assert.equal(
      (await fixture.service.auditLog(1000)).length,
      audited,
      'anonymous refusals are not audited',
    );
  });

  test('the right password: 204 and a Secure, HttpOnly, SameSite=Strict cookie that makes the caller that user', async () => {
    const reply = await signIn('alice', PASSWORDS.alice);
    assert.equal(reply.status, 204, reply.text);
    const cookie = setCookie(reply);
    const [pair, ...attributes] = cookie.split(';').map((part) => part.trim());
    assert.match(pair!, /^pipdu_session=[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
    assert.deepEqual(attributes.sort(), ['HttpOnly', 'Max-Age=10800', 'Path=/', 'SameSite=Strict', 'Secure']);
    const who = await as('GET', '/api/v1/session', { cookie: pair });
    assert.deepEqual(who.body, { user: 'alice', role: 'operator', via: 'password' });
    assert.equal((await as('GET', '/api/v1/sockets', { cookie: pair })).status, 200);
    const other = await session('alice');
    assert.notEqual(other, pair, 'each sign-in is a new session');
    const entry = (await fixture.service.auditLog(5)).findLast((one) => one.action === 'login');
    assert.deepEqual(entry?.actor, { kind: 'web', id: 'alice' });
    assert.equal(entry?.details?.address, '127.0.0.1');
  });

  test('a wrong password and an unknown user get the same 401, in about the same time, and are audited', async () => {
    const from = '127.0.0.2';
    const timed = async (user: string, password: string): Promise<{ reply: Reply; ms: number }> => {
      const started = performance.now();
      const reply = await signIn(user, password, { from });
      return { reply, ms: performance.now() - started };
    };
    const wrong = [await timed('vera', 'not her password'), await timed('vera', 'nor this')];
    const unknown = [await timed('nobody', 'anything'), await timed('nobody', 'something')];
    for (const { reply } of [...wrong, ...unknown]) {
      assert.equal(reply.status, 401);
      assert.equal(reply.headers['set-cookie'], undefined);
    }
    assert.deepEqual(wrong[0]!.reply.body, unknown[0]!.reply.body, 'nothing tells the two apart');
    assert.deepEqual(wrong[0]!.reply.body, {
      error: { code: 'UNAUTHORIZED', message: 'wrong user name or password' },
    });
    // Without the dummy hash an unknown user would be refused in ~1% of the time: scrypt dominates both.
    // (Load on the machine only makes a request slower, so the slower unknown and the faster wrong are compared.)
    const unknownMs = Math.max(...unknown.map((one) => one.ms));
    const wrongMs = Math.min(...wrong.map((one) => one.ms));
    assert.ok(unknownMs > wrongMs / 4, `unknown user ${unknownMs} ms, wrong password ${wrongMs} ms`);
    const failed = (await fixture.service.auditLog(10)).filter((one) => one.action === 'login-failed');
    assert.deepEqual(
      failed
        .slice(-4)
        .map((one) => [one.actor.id, one.actor.kind, one.result, one.code, one.details?.address]),
      ['vera', 'vera', 'nobody', 'nobody'].map((id) => [id, 'web', 'error', 'UNAUTHORIZED', from]),
    );
    const bad = await as('POST', '/api/v1/session', { body: { user: 'alice' }, from });
    assert.equal(bad.status, 400, 'no password');
    const extra = await as('POST', '/api/v1/session', {
      body: { ...PASSWORDS, user: 'a', password: 'b' },
      from,
    });
    assert.equal(extra.status, 400, 'unknown fields');
  });

  test('a session acts as its user with its role: an operator switches, is audited as web:alice, and may not cut a protected socket', async () => {
    const cookie = await session('alice');
    const from = fixture.received.length;
    const on = await as('POST', '/api/v1/sockets/lab/on', { cookie, body: { reason: 'web test' } });
    assert.equal(on.status, 200, on.text);
    assert.match(fixture.switchingLines(from)[0]!, /SET 1 1/);
    const entry = (await fixture.service.auditLog(1))[0];
    assert.deepEqual([entry?.actor, entry?.action, entry?.socket], [{ kind: 'web', id: 'alice' }, 'on', 2]);
    const root = await session('root');
    assert.equal((await as('POST', '/api/v1/sockets/pi-self/on', { cookie: root })).status, 200);
    const protectedOff = await as('POST', '/api/v1/sockets/pi-self/off', { cookie });
    assert.equal(protectedOff.status, 403);
    assert.match(protectedOff.body.error.message, /protected/);
    assert.equal(fixture.service.info(1).on, true);
    assert.equal((await as('GET', '/api/v1/audit', { cookie })).status, 403, 'the audit log is for admins');
    assert.equal((await as('GET', '/api/v1/audit', { cookie: root })).status, 200);
  });

  test('a listed client certificate wins over a session; an unlisted one gives way to it', async () => {
    const cookie = await session('alice');
    const boss = await as('GET', '/api/v1/session', { cookie, client: certs.clients.boss });
    assert.deepEqual(boss.body, { user: 'boss', role: 'admin', via: 'certificate' });
    const stranger = await as('GET', '/api/v1/session', { client: certs.clients.stranger });
    assert.deepEqual(stranger.body, { user: 'stranger', role: null, via: null });
    assert.equal((await as('GET', '/api/v1/sockets', { client: certs.clients.stranger })).status, 403);
    const both = await as('GET', '/api/v1/session', { cookie, client: certs.clients.stranger });
    assert.deepEqual(both.body, { user: 'alice', role: 'operator', via: 'password' });
  });

  test("make-certs.sh's .p12 is the client's identity, password-less or with PIPDU_P12_PASSWORD", async () => {
    const pki = join(dir, 'pki');
    const boss = await as('GET', '/api/v1/session', { pfx: await readFile(join(pki, 'boss.p12')) });
    assert.deepEqual(boss.body, { user: 'boss', role: 'admin', via: 'certificate' });
    await run('sh', [MAKE_CERTS, pki, 'carol'], {
      env: { ...process.env, PIPDU_P12_PASSWORD: 'p12 secret' },
    });
    const carol = await readFile(join(pki, 'carol.p12'));
    const asCarol = await as('GET', '/api/v1/session', { pfx: carol, passphrase: 'p12 secret' });
    assert.deepEqual(
      asCarol.body,
      { user: 'carol', role: null, via: null },
      'signed by the CA, not in api.clients',
    );
    await assert.rejects(as('GET', '/api/v1/session', { pfx: carol }), /mac verify|pkcs12|password/i);
  });

  test('logout ends the session and clears the cookie', async () => {
    const cookie = await session('alice');
    const out = await as('DELETE', '/api/v1/session', { cookie });
    assert.equal(out.status, 204);
    assert.deepEqual(
      setCookie(out)
        .split(';')
        .map((part) => part.trim())
        .sort(),
      ['HttpOnly', 'Max-Age=0', 'Path=/', 'SameSite=Strict', 'Secure', 'pipdu_session='],
    );
    assert.deepEqual((await as('GET', '/api/v1/session', { cookie })).body, {
      user: null,
      role: null,
      via: null,
    });
    assert.equal((await as('GET', '/api/v1/sockets', { cookie })).status, 401);
    const entry = (await fixture.service.auditLog(5)).findLast((one) => one.action === 'logout');
    assert.deepEqual(entry?.actor, { kind: 'web', id: 'alice' });
    assert.equal(entry?.details?.address, '127.0.0.1');
    assert.equal((await as('DELETE', '/api/v1/session')).status, 204, 'logging out twice is not an error');
  });

  test('an event stream opened with a session ends with it: at sign-out, and at expiry', async () => {
    const cookie = await session('alice');
    const first = await openStream(base, certs.ca, cookie);
    const out = await as('DELETE', '/api/v1/session', { cookie });
    assert.equal(out.status, 204);
    await first.ended;

    const other = await session('alice');
    const second = await openStream(base, certs.ca, other);
    clock += 61 * 60_000; // past sessionIdle: the next heartbeat ends the stream
    await second.ended;
    assert.equal((await as('GET', '/api/v1/session', { cookie: other })).body.user, null);
  });

  test('a session ends after sessionIdle without use, and sessionMax after sign-in however used', async () => {
    const minutes = (n: number): void => {
      clock += n * 60_000;
    };
    const who = async (cookie: string) => (await as('GET', '/api/v1/session', { cookie })).body.user;
    const idle = await session('alice');
    minutes(59);
    assert.equal(await who(idle), 'alice');
    minutes(59);
    assert.equal(await who(idle), 'alice', 'each request restarts the idle time');
    minutes(61);
    assert.equal(await who(idle), null, 'an hour unused: ended');
    assert.equal(await who(idle), null, 'and it stays ended');

    const busy = await session('alice');
    for (let i = 1; i <= 3; i++) {
      minutes(50);
      assert.equal(await who(busy), 'alice', `${50 * i} minutes after sign-in`);
    }
    minutes(50);
    assert.equal(await who(busy), null, '200 minutes: past sessionMax (3h), however used');
    assert.equal((await as('GET', '/api/v1/sockets', { cookie: busy })).status, 401);
  });

  test('a reload applies to live sessions at their next request: a new role, a removed user, a new password', async () => {
    const vera = await session('vera');
    const alice = await session('alice');
    assert.equal((await as('POST', '/api/v1/sockets/lab/off', { cookie: vera })).status, 403);
    const reconfigure = (
      changes: Parameters<typeof users>[0],
      hashOf: Partial<Record<User, string>> = {},
    ) => {
      const list = users(changes);
      for (const [user, hash] of Object.entries(hashOf)) list[user]!.passwordHash = hash;
      fixture.service.reconfigure(makeConfig(fixture.dir, apiYaml(head, list)));
    };
    try {
      reconfigure({ vera: { role: 'operator' } });
      const off = await as('POST', '/api/v1/sockets/lab/off', { cookie: vera });
      assert.equal(off.status, 200, off.text);
      reconfigure({ vera: null }, { alice: await hashPassword('a new password') });
      assert.deepEqual(
        (await as('GET', '/api/v1/session', { cookie: vera })).body.user,
        null,
        'vera is gone',
      );
      assert.equal((await as('GET', '/api/v1/sockets', { cookie: vera })).status, 401);
      assert.equal(
        (await as('GET', '/api/v1/session', { cookie: alice })).body.user,
        null,
        "a new password ends the old password's sessions",
      );
    } finally {
      reconfigure({});
    }
    assert.equal((await as('GET', '/api/v1/session', { cookie: vera })).body.user, null, 'ended for good');
  });

  test('failed sign-ins are throttled per user and per address with 429 and Retry-After; a success costs nothing', async () => {
    // Per user: three wrong passwords for root, then even the right one is refused, from any address.
    for (let i = 0; i < 3; i++) {
      assert.equal((await signIn('root', 'guess', { from: '127.0.0.3' })).status, 401);
    }
    const throttled = await signIn('root', PASSWORDS.root, { from: '127.0.0.3' });
    assert.equal(throttled.status, 429, throttled.text);
    assert.equal(throttled.body.error.code, 'TOO_MANY_REQUESTS');
    assert.equal(throttled.headers['retry-after'], '615', 'the refill (600 s) and a heartbeat (15 s)');
    assert.equal(throttled.headers['set-cookie'], undefined);
    assert.equal((await signIn('root', PASSWORDS.root, { from: '127.0.0.4' })).status, 429, 'per user');

    // Per address: six failures for six names, then a seventh name and even a right password are refused.
    for (let i = 1; i <= 6; i++) {
      assert.equal((await signIn(`ghost${i}`, 'guess', { from: '127.0.0.5' })).status, 401);
    }
    assert.equal((await signIn('ghost7', 'guess', { from: '127.0.0.5' })).status, 429);
    assert.equal((await signIn('alice', PASSWORDS.alice, { from: '127.0.0.5' })).status, 429, 'per address');
    assert.equal((await signIn('alice', PASSWORDS.alice, { from: '127.0.0.6' })).status, 204, 'alice is not');

    // A success gives back what the attempt took: otto's 3 tries are only spent by failures.
    const statuses: number[] = [];
    for (const password of ['typo', PASSWORDS.otto, PASSWORDS.otto, PASSWORDS.otto, 'typo', PASSWORDS.otto]) {
      statuses.push((await signIn('otto', password, { from: '127.0.0.7' })).status);
    }
    assert.deepEqual(statuses, [401, 204, 204, 204, 401, 204]);
  });

  test('a state-changing request from another origin is refused; same origin and no Origin pass', async () => {
    const cookie = await session('alice');
    const evil = 'https://evil.example';
    const cross = await as('POST', '/api/v1/sockets/lab/on', { cookie, origin: evil });
    assert.equal(cross.status, 403);
    assert.deepEqual(cross.body, { error: { code: 'FORBIDDEN', message: 'cross-origin request refused' } });
    assert.equal(fixture.service.info(2).on, false, 'nothing was switched');
    const login = await signIn('alice', PASSWORDS.alice, { origin: evil });
    assert.equal(login.status, 403, 'no sign-in from another origin either');
    assert.equal((await as('DELETE', '/api/v1/session', { cookie, origin: evil })).status, 403);
    assert.equal((await as('GET', '/api/v1/session', { cookie })).body.user, 'alice', 'still signed in');
    assert.equal((await as('GET', '/api/v1/sockets', { cookie, origin: evil })).status, 200, 'reads pass');
    const same = await as('POST', '/api/v1/sockets/lab/on', { cookie, origin: base });
    assert.equal(same.status, 200, same.text);
    const none = await as('POST', '/api/v1/sockets/lab/off', { cookie });
    assert.equal(none.status, 200, none.text);
    const otherPort = await as('POST', '/api/v1/sockets/lab/on', {
      cookie,
      origin: base.replace(/:\d+$/, ':1'),
    });
    assert.equal(otherPort.status, 403, 'another port is another origin');
  });

  // Last: it checks what every test above logged and audited.
  test('no password, hash or session id reaches the log or the audit log', async () => {
    assert.ok(issued.size >= 10, `sessions were made (${issued.size})`);
    assert.match(logs.text, /"url":"\/api\/v1\/session"/, 'the request log lines were captured');
    const audit = await readFile(fixture.audit.file, 'utf8');
    assert.match(audit, /"action":"login-failed"/);
    const secrets = [...Object.values(PASSWORDS), 'guess', 'typo', ...Object.values(hashes), ...issued];
    for (const secret of secrets) {
      assert.ok(!logs.text.includes(secret), `the log holds a secret (${secret.slice(0, 6)}…)`);
      assert.ok(!audit.includes(secret), `the audit log holds a secret (${secret.slice(0, 6)}…)`);
    }
  });
});

describe('password sessions with client certificates required (the default)', () => {
  test('no certificate, no connection; a certificate not in api.clients may still sign in with a password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pipdu-required-'));
    let fixture: PduFixture | undefined;
    let server: ApiServer | undefined;
    try {
      const pki = join(dir, 'pki');
      const certs = await makeCerts(pki, ['kiosk']);
      const head = `  listen: 127.0.0.1:0\n  tls: { cert: ${pki}/server.crt, key: ${pki}/server.key, ca: ${pki}/ca.crt }\n`;
      fixture = await PduFixture.create(
        apiYaml(head, { alice: { role: 'operator', passwordHash: await hashPassword(PASSWORDS.alice) } }),
      );
      await fixture.startDaemon();
      server = new ApiServer({
        config: fixture.config.api!,
        service: fixture.service,
        logger: pino({ level: 'silent' }),
      });
      const { url } = await server.start();
      await assert.rejects(ask(url, certs.ca, 'GET', '/api/v1/session'), 'the handshake is refused');
      const kiosk = { client: certs.clients.kiosk };
      assert.deepEqual((await ask(url, certs.ca, 'GET', '/api/v1/session', kiosk)).body, {
        user: 'kiosk',
        role: null,
        via: null,
      });
      assert.equal((await ask(url, certs.ca, 'GET', '/api/v1/sockets', kiosk)).status, 403);
      const login = await ask(url, certs.ca, 'POST', '/api/v1/session', {
        ...kiosk,
        body: { user: 'alice', password: PASSWORDS.alice },
      });
      assert.equal(login.status, 204, login.text);
      const cookie = cookieOf(login);
      const who = await ask(url, certs.ca, 'GET', '/api/v1/session', { ...kiosk, cookie });
      assert.deepEqual(who.body, { user: 'alice', role: 'operator', via: 'password' });
      assert.equal((await ask(url, certs.ca, 'GET', '/api/v1/sockets', { ...kiosk, cookie })).status, 200);
    } finally {
      await server?.stop();
      await fixture?.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('password sessions over plain HTTP on loopback', () => {
  let fixture: PduFixture;
  let server: ApiServer;
  let base: string;
  const as = (method: string, path: string, o: Ask = {}) => ask(base, undefined, method, path, o);

  before(async () => {
    const head = '  listen: 127.0.0.1:0\n  loopbackRole: admin\n';
    fixture = await PduFixture.create(
      apiYaml(head, { alice: { role: 'operator', passwordHash: await hashPassword(PASSWORDS.alice) } }),
    );
    await fixture.startDaemon();
    server = new ApiServer({
      config: fixture.config.api!,
      service: fixture.service,
      logger: pino({ level: 'silent' }),
    });
    base = (await server.start()).url;
  });

  after(async () => {
    await server?.stop();
    await fixture?.dispose();
  });

  test('loopback callers get loopbackRole; a session makes them its user, with a cookie that is not Secure', async () => {
    assert.deepEqual((await as('GET', '/api/v1/session')).body, {
      user: null,
      role: 'admin',
      via: 'loopback',
    });
    const login = await as('POST', '/api/v1/session', { body: { user: 'alice', password: PASSWORDS.alice } });
    assert.equal(login.status, 204, login.text);
    const attributes = setCookie(login)
      .split(';')
      .map((part) => part.trim());
    assert.ok(!attributes.includes('Secure'), 'no Secure over plain HTTP: the browser would drop it');
    assert.ok(attributes.includes('HttpOnly') && attributes.includes('SameSite=Strict'));
    const cookie = cookieOf(login);
    assert.deepEqual((await as('GET', '/api/v1/session', { cookie })).body, {
      user: 'alice',
      role: 'operator',
      via: 'password',
    });
    assert.equal(
      (await as('POST', '/api/v1/sockets/pi-self/off', { cookie })).status,
      403,
      "alice's role, not admin",
    );
    const out = await as('DELETE', '/api/v1/session', { cookie });
    assert.ok(!setCookie(out).includes('Secure'));
    assert.equal((await as('GET', '/api/v1/session', { cookie })).body.via, 'loopback');
  });

  test('a web page elsewhere cannot POST to the loopback listener, nor reach it by DNS rebinding', async () => {
    const cross = await as('POST', '/api/v1/sockets/lab/on', { origin: 'http://evil.example' });
    assert.equal(cross.status, 403);
    assert.equal(cross.body.error.message, 'cross-origin request refused');
    assert.equal(fixture.service.info(2).on, false);
    const port = new URL(base).port;
    const rebound = await as('GET', '/api/v1/sockets', { host: `evil.example:${port}` });
    assert.equal(rebound.status, 403, 'a non-loopback Host name');
    const reboundPost = await as('POST', '/api/v1/sockets/lab/on', {
      host: `evil.example:${port}`,
      origin: `http://evil.example:${port}`,
    });
    assert.equal(reboundPost.status, 403);
    assert.equal(fixture.service.info(2).on, false);
    assert.equal((await as('GET', '/api/v1/sockets', { host: `localhost:${port}` })).status, 200);
    const same = await as('POST', '/api/v1/sockets/lab/on', { origin: base });
    assert.equal(same.status, 200, same.text);
    assert.equal((await as('POST', '/api/v1/sockets/lab/off')).status, 200, 'no Origin: the CLI, curl');
  });
});

describe('password hashes in the config', () => {
  const config = (hash: string) =>
    `version: 1\nboard: { driver: simulator }\napi:\n  users:\n    alice: { role: operator, passwordHash: '${hash}' }\n`;

  test('a plaintext password is a config error at its place, and the error does not repeat it', () => {
    let error: unknown;
    try {
      parseConfig(config('hunter2-plaintext'), 'pipdu.yaml');
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.issues.length, 1);
    assert.match(
      error.format(),
      /^pipdu\.yaml:5:44 api\.users\.alice\.passwordHash: expected a scrypt hash made by `pipdu hash-password`.*plaintext passwords are not accepted$/,
    );
    assert.ok(!error.message.includes('hunter2'));
    assert.throws(
      () => parseConfig(config('scrypt$1000$8$1$c2FsdHNhbHQ=$aGFzaA=='), 'x.yaml'),
      /power of two/,
    );
  });

  test('pipdu hash-password reads a piped password and prints a hash that verifies and loads', async () => {
    const password = 'pässwörd with spaces $ and quotes "';
    const { code, stdout, stderr } = await runCli(['hash-password'], `${password}\n`);
    assert.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1);
    const hash = lines[0]!;
    assert.match(hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.ok(!stdout.includes(password) && !stderr.includes(password));
    assert.equal(await verifyPassword(password, hash), true);
    assert.equal(await verifyPassword(`${password} `, hash), false);
    assert.equal(parseConfig(config(hash), 'pipdu.yaml').api?.users?.alice?.passwordHash, hash);
    const again = await runCli(['hash-password'], `${password}\n`);
    assert.notEqual(again.stdout, stdout, 'a fresh salt each time');
    const empty = await runCli(['hash-password'], '');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no password on stdin/);
  });
});

/** An event stream opened with a session cookie; `ended` resolves when the server ends it. */
function openStream(base: string, ca: Buffer, cookie: string): Promise<{ ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL('/api/v1/events', base),
      { ca, headers: { cookie }, agent: false },
      (res) => {
        assert.equal(res.statusCode, 200);
        const ended = new Promise<void>((done) => res.on('end', done));
        res.once('data', () => resolve({ ended }));
        res.resume();
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function runCli(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
