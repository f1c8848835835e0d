import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { NodeSSH } from 'node-ssh';
import ssh2, { type ClientChannel, type ParsedKey, type PseudoTtyOptions } from 'ssh2';
import { type ErrorCode, HookStepError } from '../../errors.js';
import {
  describeKey,
  type KnownHostKeys,
  keyTypeOf,
  knownHostsName,
  lookupKnownHosts,
  type PublicKey,
  parsePublicKey,
  sameKey,
} from './known-hosts.js';
import { MAX_OUTPUT, type StepResult, type StepRunner, truncateOutput } from './step.js';

type SshStep = Parameters<StepRunner<'ssh'>>[0];

/** After the command, how long the server gets to close the connection before it is dropped. */
const CLOSE_GRACE_MS = 500;
/** Output kept while the command runs: plenty for truncateOutput, bounded against a flood. */
const OUTPUT_KEEP_CHARS = 16 * MAX_OUTPUT;
/**
 * The pty the command runs on: no echo, no CR before LF, no colours or
 * pagers worth speaking of. A pty makes the server hang the command up
 * (SIGHUP) when the connection is closed on a timeout or a cancel.
 */
const PTY: PseudoTtyOptions = { term: 'dumb', cols: 200, rows: 50, modes: { ECHO: 0, ONLCR: 0 } };
/** Signals a shutdown sends the sessions it ends: with `expectDisconnect`, dying of one is not a failure. */
const SHUTDOWN_SIGNALS = new Set(['SIGHUP', 'SIGTERM', 'SIGKILL']);
/** Host key algorithms ssh2 can verify, by the key type a known_hosts line or `hostKey` names. */
const HOST_KEY_ALGORITHMS: Record<string, ssh2.ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
};

/** Where the step is: timeouts and failures say which part did not finish. */
type Phase = 'preparing' | 'connecting' | 'handshake' | 'running' | 'closing';

/** The keys the server may present, and where they come from (for messages). */
interface Pinned extends KnownHostKeys {
  source: string;
}

/** How the remote command ended. */
type Ending =
  | { kind: 'exit'; code: number }
  | { kind: 'signal'; signal: string }
  | { kind: 'disconnected'; error?: Error };

/** What the step's parts share with the deadline and the cancel. */
interface Attempt {
  phase: Phase;
  /** False when the server refused a pty: closing the connection then does not hang the command up. */
  pty: boolean;
  /** Set once the step has settled: nothing new may start. */
  over: boolean;
  socket?: net.Socket;
  output: () => string;
  /** Called when the command has ended: its result no longer depends on the deadline. */
  commandEnded: () => void;
}

/**
 * `ssh`: runs `command` on `host` as `user`, authenticating with the private
 * key file `key`, and checks its exit status.
 *
 * - The host key is pinned: `hostKey` ("ssh-ed25519 AAAA...") or the entries
 *   for the host in the `knownHosts` file (hashed names and `[host]:port`
 *   for ports other than 22 included, `@revoked` honoured). Any other key, or
 *   a host the file does not list, is refused before authenticating:
 *   SSH_HOST_KEY_MISMATCH, with the SHA256 fingerprint the server presented.
 *   The pinned key types are asked for first, so a server with several host
 *   keys presents the pinned one.
 * - A passphrase-protected key is decrypted with the passphrase in the
 *   environment variable `passphraseEnv` (looked up in `context.env`). The
 *   decrypted key is kept in memory for the next steps while the file and
 *   passphrase stay the same: decrypting (bcrypt KDF) blocks the event loop
 *   for a quarter of a second or more. Passphrases and keys never appear in
 *   messages or logs.
 * - The command runs on a pty (like `ssh -t`), so closing the connection on
 *   a timeout or a cancel hangs it up (SIGHUP) instead of leaving it running;
 *   stderr therefore arrives merged into stdout. If the server refuses a pty
 *   (`no-pty` in authorized_keys), the command runs without one, with stdin
 *   closed, and a timeout or cancel then only closes the connection.
 * - Exit status 0 succeeds: summary `exit 0 in 42 ms`, output (truncated
 *   with truncateOutput) for the audit log. A non-zero status fails
 *   COMMAND_FAILED, death by a signal too. The connection closing before the
 *   command reported its exit status fails SSH_ERROR.
 * - `expectDisconnect` (shutdown, reboot): the connection closing during the
 *   command, or the command dying of SIGHUP/SIGTERM/SIGKILL, is a tolerated
 *   failure (`toleratedFailure`) instead. `allowFailure` tolerates every way
 *   the command can fail once it runs. Neither tolerates a failure to connect,
 *   to verify the host key or to authenticate, nor a timeout or a cancel.
 * - `timeout` bounds the whole step (connect, handshake, command): past it
 *   the connection is dropped and the step fails TIMEOUT, saying what had
 *   not finished. A listener that accepts and never speaks SSH is such a
 *   TIMEOUT ("connected, but the SSH handshake did not finish"), not SSH_UNREACHABLE: the
 *   host is reachable, something on the port does not answer.
 * - Failing to connect at all (refused, unreachable, unknown name) fails
 *   SSH_UNREACHABLE; the server refusing the key fails SSH_AUTH_FAILED, and
 *   so does a key that cannot be used (missing or unreadable file, not a
 *   private key, passphrase missing or wrong). Other protocol failures fail
 *   SSH_ERROR.
 * - A cancel (`context.signal`) drops the connection at once and rejects
 *   with the signal's reason. Nothing outlives the step: its socket is
 *   closed before it settles.
 */
export const runSshStep: StepRunner<'ssh'> = async (step, context) => {
  const { signal } = context;
  signal.throwIfAborted();
  const started = performance.now();
  const output = collectOutput();
  let timer: NodeJS.Timeout | undefined;
  const attempt: Attempt = {
    phase: 'preparing',
    pty: true,
    over: false,
    output: output.text,
    commandEnded: () => clearTimeout(timer),
  };
  let interrupt!: (error: unknown) => void;
  const interrupted = new Promise<never>((_resolve, reject) => {
    interrupt = reject;
  });
  timer = setTimeout(() => {
    interrupt(stepError(step, 'TIMEOUT', timeoutReason(step, attempt), output.text() || undefined));
  }, step.timeout);
  const onAbort = () => interrupt(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });

  const work = connectAndRun(step, context, attempt, output.add, started);
  work.catch(() => {}); // if the deadline or the cancel wins, how the work ends no longer matters
  try {
    return await Promise.race([work, interrupted]);
  } finally {
    attempt.over = true;
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    attempt.socket?.destroy();
  }
};

async function connectAndRun(
  step: SshStep,
  context: Parameters<StepRunner<'ssh'>>[1],
  attempt: Attempt,
  addOutput: (chunk: string) => void,
  started: number,
): Promise<StepResult> {
  const [key, pinned] = await Promise.all([loadKey(step, context.env), loadPinnedKeys(step)]);
  if (attempt.over) throw new Error('the step is over');

  attempt.phase = 'connecting';
  // no Nagle: it would hold small SSH packets back ~40 ms, waiting for an ACK
  const socket = net.connect({ host: step.host, port: step.port, noDelay: true });
  attempt.socket = socket;
  socket.once('connect', () => {
    attempt.phase = 'handshake';
  });

  const preferred = preferredAlgorithms(pinned.keys);
  const publicKeyAuth: ssh2.PublicKeyAuthMethod = { type: 'publickey', username: step.user, key };
  let presented: PublicKey | undefined;
  let refusal: 'mismatch' | 'revoked' | undefined;
  const ssh = new NodeSSH();
  const connecting = ssh.connect({
    sock: socket,
    host: step.host,
    port: step.port,
    username: step.user,
    authHandler: [publicKeyAuth],
    hostVerifier: (blob: Buffer) => {
      const key = { type: keyTypeOf(blob) ?? 'unknown', blob };
      presented = key;
      if (pinned.revoked.some((revoked) => sameKey(revoked, key))) refusal = 'revoked';
      else if (!pinned.keys.some((pin) => sameKey(pin, key))) refusal = 'mismatch';
      return refusal === undefined;
    },
    // ssh2 ignores a `prepend` of an algorithm already in its list: remove them first
    algorithms: { serverHostKey: { remove: preferred, prepend: preferred, append: [] } },
    // the step's own deadline is the one that counts; this only replaces ssh2's 20 s default
    readyTimeout: step.timeout,
  });
  // After `ready`, node-ssh leaves no error listener: a reset connection would be an uncaught error.
  let lastError: Error | undefined;
  const noteError = (error: Error) => {
    lastError = error;
  };
  ssh.connection?.on('error', noteError); // node-ssh 13 creates the client synchronously (no key file to read)
  try {
    await connecting;
  } catch (error) {
    if (refusal)
      throw stepError(step, 'SSH_HOST_KEY_MISMATCH', hostKeyRefusal(step, pinned, presented!, refusal));
    throw connectError(step, attempt, error);
  }
  const client = ssh.connection!;
  if (!client.listeners('error').includes(noteError)) client.on('error', noteError);
  context.logger.debug({ host: step.host, port: step.port, user: step.user }, 'ssh step: connected');

  attempt.phase = 'running';
  const ending = await openCommand(client, step, attempt, (channel) =>
    commandEnding(channel, addOutput, () => lastError),
  );
  attempt.commandEnded();
  const ms = performance.now() - started;

  attempt.phase = 'closing';
  await closeConnection(ssh, socket);
  return judge(step, ending, ms, attempt.output());
}

/**
 * Opens the command's session channel, on a pty if the server allows one,
 * and resolves with how the command ended. `watch` is attached inside the
 * exec callback, synchronously: a quick command's exit status, EOF and close
 * can arrive in the same packet batch as the exec's success, and a listener
 * attached after an `await` would miss the exit status.
 */
async function openCommand(
  client: ssh2.Client,
  step: SshStep,
  attempt: Attempt,
  watch: (channel: ClientChannel) => Promise<Ending>,
): Promise<Ending> {
  const exec = (pty: boolean) =>
    new Promise<Ending>((resolve, reject) => {
      try {
        client.exec(step.command, pty ? { pty: PTY } : {}, (error, channel) => {
          if (error) return reject(error);
          const ending = watch(channel);
          // stdin without a pty: nothing to read, as with `ssh host command </dev/null`
          if (!pty) channel.end();
          resolve(ending);
        });
      } catch (error) {
        reject(error);
      }
    });
  let ending: Ending;
  try {
    ending = await exec(true);
  } catch (error) {
    if (!/pseudo-terminal/.test(String(error))) throw execError(step, error);
    attempt.pty = false;
    try {
      ending = await exec(false);
    } catch (retryError) {
      throw execError(step, retryError);
    }
  }
  return ending;
}

function execError(step: SshStep, error: unknown): HookStepError {
  const reason = error instanceof Error ? error.message : String(error);
  return stepError(step, 'SSH_ERROR', `the server would not run the command: ${reason}`, undefined, error);
}

/** Collects the command's output until its channel closes, and says how it ended. */
function commandEnding(
  channel: ClientChannel,
  addOutput: (chunk: string) => void,
  lastError: () => Error | undefined,
): Promise<Ending> {
  return new Promise((resolve) => {
    let ending: Ending | undefined;
    channel.setEncoding('utf8').on('data', addOutput);
    channel.stderr.setEncoding('utf8').on('data', addOutput);
    channel.on('exit', (code: number | null, signal?: string) => {
      ending =
        code === null ? { kind: 'signal', signal: signal ?? 'an unknown signal' } : { kind: 'exit', code };
    });
    // Without an exit status, the channel closes because the connection did.
    channel.on('close', () => resolve(ending ?? { kind: 'disconnected', error: lastError() }));
  });
}

/** Success, tolerated failure, or the step's error, from how the command ended. */
function judge(step: SshStep, ending: Ending, ms: number, output: string): StepResult {
  const kept = output ? { output } : {};
  if (ending.kind === 'exit' && ending.code === 0) return { summary: `exit 0 in ${formatMs(ms)}`, ...kept };

  let summary: string;
  let why: string;
  let code: ErrorCode = 'COMMAND_FAILED';
  let expected = false;
  if (ending.kind === 'exit') {
    summary = `exit ${ending.code} in ${formatMs(ms)}`;
    why = `the command exited with status ${ending.code}`;
  } else if (ending.kind === 'signal') {
    summary = `killed by ${ending.signal} after ${formatMs(ms)}`;
    why = `the command was killed by ${ending.signal}`;
    expected = step.expectDisconnect && SHUTDOWN_SIGNALS.has(ending.signal);
  } else {
    summary = `disconnected after ${formatMs(ms)}`;
    const cause = ending.error ? ` (${ending.error.message})` : '';
    why = `the connection closed before the command reported its exit status${cause}`;
    code = 'SSH_ERROR';
    expected = step.expectDisconnect;
  }
  const lastLine = output.split('\n').at(-1)!.slice(0, 200);
  const message = `${describe(step)}: ${why}${lastLine ? `: ${lastLine}` : ''}`;
  if (expected)
    return { summary: `${summary} (expected)`, ...kept, toleratedFailure: `${message} (expectDisconnect)` };
  if (step.allowFailure) return { summary, ...kept, toleratedFailure: message };
  const hint =
    ending.kind === 'disconnected' && !step.expectDisconnect
      ? ' (if the command ends the connection, as shutdown does, set expectDisconnect)'
      : '';
  throw new HookStepError(code, `${message}${hint}`, output || undefined);
}

/** Ends the connection politely, then drops it if the server has not closed it within CLOSE_GRACE_MS. */
async function closeConnection(ssh: NodeSSH, socket: net.Socket): Promise<void> {
  if (socket.destroyed) return;
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    timer = setTimeout(resolve, CLOSE_GRACE_MS);
  });
  ssh.dispose();
  await closed;
  clearTimeout(timer);
  socket.destroy();
}

// ------------------------------------------------------------ key and host key

/**
 * Decrypted keys by path, with a digest of the file and the passphrase they
 * were decrypted from: decrypting takes ~0.25 s of blocked event loop on a
 * PC, several times that on a Pi, so each protected key is decrypted once.
 */
const decryptedKeys = new Map<string, { digest: string; key: ParsedKey }>();

/** Reads and parses the private key; every problem is SSH_AUTH_FAILED, saying which file or variable. */
async function loadKey(step: SshStep, env: NodeJS.ProcessEnv): Promise<ParsedKey> {
  const fail = (why: string) => stepError(step, 'SSH_AUTH_FAILED', why);
  let text: string;
  try {
    text = await readFile(step.key, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fail(`the private key file ${step.key} does not exist`);
    if (code === 'EACCES') throw fail(`the private key file ${step.key} cannot be read: permission denied`);
    throw fail(`the private key file ${step.key} cannot be read: ${(error as Error).message}`);
  }
  const plain = ssh2.utils.parseKey(text);
  if (!(plain instanceof Error)) {
    if (!plain.isPrivateKey())
      throw fail(`${step.key} holds a public key: point \`key\` at the private key file`);
    return plain;
  }
  if (!/encrypted.*no passphrase given/i.test(plain.message)) {
    throw fail(`${step.key} is not a private key ssh can use: ${plain.message}`);
  }
  if (!step.passphraseEnv) {
    throw fail(
      `the private key ${step.key} is protected by a passphrase: set passphraseEnv to the name of the environment variable that holds it`,
    );
  }
  const passphrase = env[step.passphraseEnv];
  if (!passphrase) {
    throw fail(
      `the private key ${step.key} is protected by a passphrase, and the environment variable ${step.passphraseEnv} (passphraseEnv) is not set`,
    );
  }
  const digest = createHash('sha256').update(text).update('\0').update(passphrase).digest('base64');
  const cached = decryptedKeys.get(step.key);
  if (cached?.digest === digest) return cached.key;
  const key = ssh2.utils.parseKey(text, passphrase);
  if (key instanceof Error) {
    throw fail(`the passphrase in ${step.passphraseEnv} does not decrypt the private key ${step.key}`);
  }
  decryptedKeys.set(step.key, { digest, key });
  return key;
}

/** The pinned host keys, from `hostKey` or the `knownHosts` file. */
async function loadPinnedKeys(step: SshStep): Promise<Pinned> {
  const fail = (why: string) => stepError(step, 'SSH_HOST_KEY_MISMATCH', why);
  if (step.hostKey !== undefined) {
    const key = parsePublicKey(step.hostKey);
    if (!key)
      throw fail('cannot check the host key: hostKey is not a valid public key line ("ssh-ed25519 AAAA...")');
    return { keys: [key], revoked: [], source: 'hostKey' };
  }
  if (step.knownHosts === undefined) throw fail('cannot check the host key: set hostKey or knownHosts');
  let text: string;
  try {
    text = await readFile(step.knownHosts, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(error as Error).message}`;
    throw fail(`cannot check the host key: the known_hosts file ${step.knownHosts} ${why}`);
  }
  return { ...lookupKnownHosts(text, step.host, step.port), source: step.knownHosts };
}

/** The pinned key types' algorithms, to be offered first. */
function preferredAlgorithms(keys: PublicKey[]): ssh2.ServerHostKeyAlgorithm[] {
  return [...new Set(keys.flatMap((key) => HOST_KEY_ALGORITHMS[key.type] ?? []))];
}

function hostKeyRefusal(
  step: SshStep,
  pinned: Pinned,
  presented: PublicKey,
  refusal: 'mismatch' | 'revoked',
): string {
  const shown = describeKey(presented);
  if (refusal === 'revoked') {
    return `refused the host key: the server presented ${shown}, which ${pinned.source} marks @revoked`;
  }
  if (pinned.keys.length === 0) {
    const name = knownHostsName(step.host, step.port);
    return `refused the host key: ${name} is not listed in ${pinned.source}; the server presented ${shown}`;
  }
  const where = pinned.source === 'hostKey' ? 'the pinned hostKey' : `the key pinned in ${pinned.source}`;
  const expected = pinned.keys.map(describeKey).join(', ');
  return `refused the host key: it is not ${where}: the server presented ${shown}, pinned is ${expected}`;
}

// ------------------------------------------------------------ errors and messages

/** An error from connecting, before the command runs. */
function connectError(step: SshStep, attempt: Attempt, error: unknown): HookStepError {
  const err = error as Error & { level?: string; code?: string };
  const reason = err?.message ?? String(error);
  const socketLevel = err?.level === 'client-socket' || err?.level === 'client-dns';
  if (socketLevel && attempt.phase === 'connecting') {
    return stepError(step, 'SSH_UNREACHABLE', `cannot connect: ${socketProblem(err)}`, undefined, error);
  }
  if (err?.level === 'client-authentication') {
    return stepError(
      step,
      'SSH_AUTH_FAILED',
      `the server refused the key ${step.key} for ${step.user}`,
      undefined,
      error,
    );
  }
  if (err?.level === 'client-timeout') {
    return stepError(step, 'TIMEOUT', timeoutReason(step, attempt), undefined, error);
  }
  if (/before handshake/.test(reason)) {
    return stepError(
      step,
      'SSH_ERROR',
      'the server closed the connection before the SSH handshake',
      undefined,
      error,
    );
  }
  return stepError(step, 'SSH_ERROR', `the SSH connection failed: ${reason}`, undefined, error);
}

function socketProblem(error: Error & { code?: string }): string {
  switch (error?.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on the port, or the host is still booting)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to the host (${error.code})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name does not resolve (${error.code})`;
    case 'ETIMEDOUT':
      return 'no answer (ETIMEDOUT)';
    default:
      return error?.message ?? String(error);
  }
}

function timeoutReason(step: SshStep, attempt: Attempt): string {
  const limit = formatMs(step.timeout);
  switch (attempt.phase) {
    case 'preparing':
      return `timed out after ${limit} reading the key and the host key`;
    case 'connecting':
      return `timed out after ${limit}: no TCP connection to port ${step.port} (host down, or packets dropped)`;
    case 'handshake':
      return `timed out after ${limit}: connected, but the SSH handshake did not finish (does port ${step.port} speak SSH?)`;
    case 'running':
    case 'closing': {
      const after = attempt.pty
        ? 'closed the connection, which hangs it up'
        : 'closed the connection (without a pty, the command may go on running)';
      return `timed out after ${limit}: the command was still running; ${after}`;
    }
  }
}

function stepError(
  step: SshStep,
  code: ErrorCode,
  why: string,
  output?: string,
  cause?: unknown,
): HookStepError {
  return new HookStepError(
    code,
    `${describe(step)}: ${why}`,
    output,
    cause === undefined ? undefined : { cause },
  );
}

/** `ssh pi@192.168.1.20:22`, for messages. */
function describe(step: SshStep): string {
  const host = step.host.includes(':') ? `[${step.host}]` : step.host;
  return `ssh ${step.user}@${host}:${step.port}`;
}

/** Milliseconds for people: `12 ms`, `3.2 s`, `2 min`. */
function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${Number((ms / 60_000).toFixed(1))} min`;
}

/** The command's output in arrival order, as one text; only the last OUTPUT_KEEP_CHARS are kept. */
function collectOutput(): { add: (chunk: string) => void; text: () => string } {
  let kept = '';
  let dropped = 0;
  return {
    add: (chunk) => {
      kept += chunk;
      const excess = kept.length - OUTPUT_KEEP_CHARS;
      if (excess > 0) {
        kept = kept.slice(excess);
        dropped += excess;
      }
    },
    text: () => {
      const text = truncateOutput(kept);
      return dropped > 0 ? `…[${dropped} earlier characters not kept]…\n${text}` : text;
    },
  };
}
