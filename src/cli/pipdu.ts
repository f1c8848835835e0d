#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { AuditEntry } from '../audit/audit-log.js';
import { hashPassword } from '../config/password-hash.js';
import type { AllResult, PduStatus, PendingWork, SocketInfo, SwitchResult } from '../pdu/types.js';
import { ApiCallError, ApiClient, errorText, type TlsOptions, UnreachableError } from './client.js';
import {
  formatAll,
  formatAuditEntry,
  formatEvent,
  formatStatus,
  formatSwitch,
  localTime,
  paintFor,
  socketLabel,
} from './format.js';

// pipdu: the command line of the PiPDU API v1 (issue 6, item 5; issue 19).
// Exit status: 0 done, 1 the API said no (its code: message), 2 usage, 3 API not reachable,
// 130 interrupted (Ctrl-C).

const DEFAULT_URL = 'http://127.0.0.1:8080';
/** Where the daemon's local control socket is under systemd (RuntimeDirectory=pipdu). */
export const DEFAULT_SOCKET = '/run/pipdu/pipdu.sock';
/** Remote defaults (url, cert, key, ca), so they need not be typed every time. */
const CLI_CONFIG = join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'pipdu', 'cli.yaml');

const USAGE = `usage: pipdu [--url U | --socket S] [--cert C --key K --ca A] [--json] <command>

commands:
  status                         every socket: state, watts, amps, pending work; board; total power
  on <socket> [--force]          switch a socket (number or name) on; "all" for every socket
                                 (--force: an admin past the overload guard)
  off <socket> [--force]         switch off (--force skips its preOff hooks); "all" for every socket
  toggle <socket> [--force]      switch to the other state
  cycle <socket> [--force] [--off-time 10s]
                                 off, wait, on again
  cancel <socket>                cancel the work running or queued on a socket
  log [--limit N]                the audit log, newest last (admin)
  reload                         re-read the daemon's configuration file (admin)
  watch                          the current state, then one line per change, until Ctrl-C
  hash-password                  a password hash for api.users (asks twice, without echo;
                                 or reads the password from a pipe); nothing is sent anywhere
  help                           this text

A protected socket going off, and "off all", ask for a confirmation on a terminal;
scripts say --yes. Ctrl-C while a command runs asks whether to cancel its work.

options:
  --socket S     the daemon's local socket (default $PIPDU_SOCKET or ${DEFAULT_SOCKET}),
                 used when it exists and no URL is given: no certificates needed
  --url U        the API (default $PIPDU_URL, the url in ${CLI_CONFIG}, or ${DEFAULT_URL})
  --cert, --key  client certificate and key (PEM) for an https:// URL (or cert:, key: in cli.yaml)
  --ca A         the CA that signed the server's certificate (or ca: in cli.yaml)
  --reason TEXT  recorded in the audit log with the switch
  -y, --yes      confirm without asking (protected sockets off, off all)
  --json         the API's JSON as is (watch: one JSON object per line; times in UTC)
  -h, --help     this text

exit status: 0 ok, 1 the API refused or failed (code: message), 2 usage, 3 the API cannot be reached,
130 interrupted`;

class UsageError extends Error {}

const SWITCHES = ['on', 'off', 'toggle', 'cycle'] as const;
type Switch = (typeof SWITCHES)[number];
const COMMANDS = [...SWITCHES, 'cancel', 'status', 'log', 'reload', 'watch', 'hash-password', 'help'];

function isSwitch(command: string): command is Switch {
  return (SWITCHES as readonly string[]).includes(command);
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        socket: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        yes: { type: 'boolean', short: 'y', default: false },
        force: { type: 'boolean', default: false },
        reason: { type: 'string' },
        'off-time': { type: 'string' },
        limit: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(errorText(error));
  }
}

function readPem(option: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read --${option} ${path}: ${errorText(error)}`);
  }
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** The edit distance of two words, a swap of two neighbours counting one (did-you-mean). */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The candidate closest to `word`, if it is close enough to be what was meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    // A candidate the word begins ("of" for off) wins a tie.
    const prefix = candidate.toLowerCase().startsWith(word.toLowerCase()) ? 0.5 : 0;
    const d = distance(word.toLowerCase(), candidate.toLowerCase()) - prefix;
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** ~/.config/pipdu/cli.yaml: url, cert, key, ca (paths relative to the file). Absent: {}. */
function cliConfig(): { url?: string; cert?: string; key?: string; ca?: string } {
  let text: string;
  try {
    text = readFileSync(CLI_CONFIG, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read ${CLI_CONFIG}: ${errorText(error)}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    throw new UsageError(`${CLI_CONFIG}: ${errorText(error).split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new UsageError(`${CLI_CONFIG}: expected url, cert, key, ca`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    if (!['url', 'cert', 'key', 'ca'].includes(key)) {
      throw new UsageError(`${CLI_CONFIG}: unknown key ${key}; expected url, cert, key, ca`);
    }
    if (typeof value !== 'string') throw new UsageError(`${CLI_CONFIG}: ${key} must be text`);
    out[key] = key === 'url' ? value : resolve(dirname(CLI_CONFIG), value);
  }
  return out;
}

/**
 * Where to send requests, first that applies: --url, --socket, $PIPDU_URL,
 * $PIPDU_SOCKET, the local socket if it exists, cli.yaml's url, the loopback default.
 */
function target(values: { url?: string; socket?: string }, saved: { url?: string }): string {
  if (values.url !== undefined && values.socket !== undefined)
    throw new UsageError('--url and --socket exclude each other');
  if (values.url !== undefined) return values.url;
  if (values.socket !== undefined) return `unix:${values.socket}`;
  if (process.env.PIPDU_URL) return process.env.PIPDU_URL;
  if (process.env.PIPDU_SOCKET) return `unix:${process.env.PIPDU_SOCKET}`;
  if (existsSync(DEFAULT_SOCKET)) return `unix:${DEFAULT_SOCKET}`;
  return saved.url ?? DEFAULT_URL;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    print(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError('no command given');
  if (command === 'help') {
    print(USAGE);
    return 0;
  }
  if (!COMMANDS.includes(command)) {
    const guess = closest(command, COMMANDS);
    throw new UsageError(`unknown command "${command}"${guess ? `: did you mean "${guess}"?` : ''}`);
  }
  if (command === 'hash-password') {
    if (rest.length > 0) throw new UsageError('hash-password takes no arguments: it asks for the password');
    print(await hashPassword(await readPassword()));
    return 0;
  }

  const saved = cliConfig();
  const base = target(values, saved);
  const remote = !base.startsWith('unix:');
  const certPath = values.cert ?? (remote ? saved.cert : undefined);
  const keyPath = values.key ?? (remote ? saved.key : undefined);
  const caPath = values.ca ?? (remote ? saved.ca : undefined);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new UsageError('--cert and --key go together');
  }
  const tls: TlsOptions = {};
  const cert = readPem('cert', certPath);
  const key = readPem('key', keyPath);
  const ca = readPem('ca', caPath);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (ca) tls.ca = ca;
  let client: ApiClient;
  try {
    client = new ApiClient(base, tls);
  } catch (error) {
    throw new UsageError(`--url ${base}: ${errorText(error)}`);
  }
  if ((cert || ca) && !client.url.startsWith('https:')) {
    throw new UsageError('--cert, --key and --ca need an https:// URL');
  }

  const only = (
    option: 'force' | 'off-time' | 'limit' | 'reason' | 'yes',
    allowed: boolean,
    where: string,
  ): void => {
    const given = option === 'force' || option === 'yes' ? values[option] : values[option] !== undefined;
    if (given && !allowed) throw new UsageError(`--${option} is only for ${where}`);
  };
  only('force', isSwitch(command), 'on, off, toggle and cycle');
  only('yes', isSwitch(command), 'on, off, toggle and cycle');
  only('off-time', command === 'cycle', 'cycle');
  only('limit', command === 'log', 'log');
  only('reason', isSwitch(command), 'on, off, toggle and cycle');

  if (command === 'status' || command === 'log' || command === 'watch' || command === 'reload') {
    if (rest.length > 0) throw new UsageError(`${command} takes no arguments`);
  }

  switch (command) {
    case 'status': {
      const status = (await client.json('GET', '/api/v1/sockets')) as PduStatus;
      if (values.json) printJson(status);
      else for (const line of formatStatus(status, paintFor(process.stdout))) print(line);
      return 0;
    }
    case 'log': {
      const limit = values.limit;
      if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('--limit must be a whole number');
      const query = limit === undefined ? '' : `?limit=${limit}`;
      const answer = (await client.json('GET', `/api/v1/audit${query}`)) as { entries: AuditEntry[] };
      if (values.json) printJson(answer);
      else for (const entry of answer.entries) print(formatAuditEntry(entry));
      return 0;
    }
    case 'watch':
      return watch(client, values.json);
    case 'reload': {
      const answer = (await client.json('POST', '/api/v1/reload')) as { summary: string };
      if (values.json) printJson(answer);
      else print(answer.summary);
      return 0;
    }
  }

  const [socket, ...extra] = rest;
  if (socket === undefined || socket === '')
    throw new UsageError(`${command} needs a socket (number or name)`);
  if (extra.length > 0) throw new UsageError(`${command} takes one socket, got ${rest.join(' ')}`);

  if (command === 'cancel') {
    if (socket === 'all') throw new UsageError('cancel takes one socket');
    const answer = (await withSocketHint(
      client,
      socket,
      client.json('POST', `/api/v1/sockets/${encodeURIComponent(socket)}/cancel`, {}),
    )) as { cancelled: PendingWork; socket: SocketInfo };
    if (values.json) printJson(answer);
    else print(`${socketLabel(answer.socket)}: ${cancelledText(answer.cancelled)}`);
    return 0;
  }
  if (!isSwitch(command)) throw new UsageError(`unknown command "${command}"`);

  const body: Record<string, unknown> = {};
  if (values.force) body.force = true;
  if (values.reason !== undefined) body.reason = values.reason;
  if (values['off-time'] !== undefined) body.offTime = values['off-time'];
  if (values.yes) body.confirmed = true;

  if (socket === 'all') {
    if (command !== 'on' && command !== 'off') throw new UsageError('only on and off take "all"');
    let result: AllResult;
    let failure: ApiCallError | null = null;
    try {
      result = (await confirming(body, (b) =>
        client.json('POST', `/api/v1/sockets/all/${command}`, b),
      )) as AllResult;
    } catch (error) {
      const partial = (error as ApiCallError).body as { result?: AllResult } | null;
      if (!(error instanceof ApiCallError) || !partial?.result) throw error;
      result = partial.result;
      failure = error;
    }
    if (values.json) printJson(failure ? failure.body : result);
    else for (const line of formatAll(result)) print(line);
    if (failure) throw failure;
    return 0;
  }

  const path = `/api/v1/sockets/${encodeURIComponent(socket)}/${command}`;
  const result = (await interruptible(client, socket, command, () =>
    withSocketHint(
      client,
      socket,
      confirming(body, (b) => client.json('POST', path, b)),
    ),
  )) as SwitchResult;
  if (values.json) {
    printJson(result);
  } else {
    const { line, warnings } = formatSwitch(result);
    print(line);
    for (const warning of warnings) process.stderr.write(`${warning}\n`);
  }
  return 0;
}

/**
 * Sends `body`; if the service answers NEEDS_CONFIRMATION (it alone decides
 * what needs one), asks on a terminal and sends it again confirmed. Not on a
 * terminal: refused, with --yes named as the way to confirm.
 */
async function confirming(
  body: Record<string, unknown>,
  send: (body: Record<string, unknown>) => Promise<unknown>,
): Promise<unknown> {
  try {
    return await send(body);
  } catch (error) {
    if (!(error instanceof ApiCallError) || error.code !== 'NEEDS_CONFIRMATION') throw error;
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new ApiCallError(
        error.code,
        `${error.message}; not a terminal to ask on: add --yes to confirm`,
        error.status,
        error.body,
      );
    }
    const question = error.message.replace(/; nothing was switched$/, '');
    if (!(await askYesNo(`${question}. Go ahead? [y/N] `))) {
      throw new ApiCallError('NEEDS_CONFIRMATION', 'not confirmed: nothing was switched', error.status);
    }
    return send({ ...body, confirmed: true });
  }
}

/** An UNKNOWN_SOCKET answer gets "did you mean" from the socket names the API lists. */
async function withSocketHint<T>(client: ApiClient, socket: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof ApiCallError) || error.code !== 'UNKNOWN_SOCKET') throw error;
    const status = (await client.json('GET', '/api/v1/sockets').catch(() => null)) as PduStatus | null;
    const names = status?.sockets.flatMap((s) => (s.name ? [s.name] : [])) ?? [];
    const guess = closest(socket, names);
    if (!guess) throw error;
    throw new ApiCallError(
      error.code,
      `${error.message}; did you mean "${guess}"?`,
      error.status,
      error.body,
    );
  }
}

/**
 * Runs a switch; Ctrl-C meanwhile does not leave its work running unnoticed.
 * On a terminal it asks: cancel the work (the API's cancel) or leave it
 * running; elsewhere (a script's SIGINT) it cancels. Either way exit 130.
 */
async function interruptible<T>(
  client: ApiClient,
  socket: string,
  command: Switch,
  work: () => Promise<T>,
): Promise<T> {
  let asking = false;
  const cancel = async (): Promise<void> => {
    try {
      const answer = (await client.json(
        'POST',
        `/api/v1/sockets/${encodeURIComponent(socket)}/cancel`,
        {},
      )) as { cancelled: PendingWork };
      process.stderr.write(`pipdu: ${cancelledText(answer.cancelled)}\n`);
    } catch (error) {
      process.stderr.write(`pipdu: could not cancel: ${errorText(error)}\n`);
    }
    process.exit(130);
  };
  const onInterrupt = (): void => {
    if (asking) {
      process.stderr.write('\npipdu: left running\n');
      process.exit(130);
    }
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      void cancel();
      return;
    }
    asking = true;
    void askYesNo(
      `\nCancel the ${command} of socket ${socket}? [y = cancel it / N = leave it running] `,
    ).then((yes) => {
      if (yes) return cancel();
      process.stderr.write(`pipdu: the ${command} goes on in the daemon (pipdu watch follows it)\n`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onInterrupt);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function cancelledText(work: PendingWork): string {
  const queued = work.requests > 1 ? ` and ${work.requests - 1} queued request(s)` : '';
  return `cancelled the ${work.action}${queued}`;
}

/** A y/n answer from the terminal (one key); anything but y or Y is no, Ctrl-C too. */
function askYesNo(prompt: string): Promise<boolean> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve) => {
    const onData = (text: string): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      const yes = text.trim().toLowerCase().startsWith('y');
      process.stderr.write(`${yes ? 'yes' : 'no'}\n`);
      resolve(yes);
    };
    stdin.on('data', onData);
  });
}

/**
 * The password to hash: typed twice at the terminal without echo, or read
 * from stdin when it is a pipe (one line; the final newline is not part of
 * it). It is only ever held in memory.
 */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    const password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (password === '') throw new UsageError('no password on stdin');
    if (password.includes('\n')) throw new UsageError('the password on stdin must be one line');
    return password;
  }
  const first = await askHidden('Password: ');
  if (first === '') throw new UsageError('the password is empty');
  if ((await askHidden('Again: ')) !== first) throw new UsageError('the two passwords differ');
  return first;
}

/** One line from the terminal in raw mode, echoing nothing; Ctrl-C aborts (exit 130). */
function askHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  let typed = '';
  return new Promise((resolve) => {
    const onData = (text: string): void => {
      for (const char of text) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          stdin.off('data', onData);
          stdin.setRawMode(false);
          stdin.pause();
          process.stderr.write('\n');
          resolve(typed);
          return;
        }
        if (char === '\u0003') {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        }
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else if (char >= ' ') typed += char;
      }
    };
    stdin.on('data', onData);
  });
}

/** Watts changes smaller than this (and than a tenth) are not worth a line. */
const WATTS_STEP = 2;

/**
 * The current state, then one line per change until Ctrl-C (exit 0): socket
 * changes, work, board, alarms and power (a socket's watts moving by more than
 * WATTS_STEP and a tenth). A line the same as the one before is not repeated.
 * When the daemon goes away (a restart) it says so once and reconnects.
 */
async function watch(client: ApiClient, json: boolean): Promise<number> {
  const stop = (): void => process.exit(0);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const paint = paintFor(process.stdout);
  let last = '';
  const say = (line: string): void => {
    const text = line.replace(/^\S+ \S+ {2}/, ''); // without the time
    if (text === last) return;
    last = text;
    print(line);
  };
  const watts = new Map<number, number | null>();
  let connectedOnce = false;
  let lost = false;
  for (;;) {
    try {
      const status = (await client.json('GET', '/api/v1/sockets')) as PduStatus;
      if (json) print(JSON.stringify({ event: 'status', data: status }));
      else if (!connectedOnce) {
        print(paint.dim(`watching ${client.url} (Ctrl-C to stop)`));
        for (const line of formatStatus(status, paint)) print(line);
      } else {
        say(
          `${localTime(new Date())}  connected again; ${status.board.online ? 'board online' : 'board OFFLINE'}`,
        );
      }
      for (const socket of status.sockets) watts.set(socket.number, socket.watts);
      connectedOnce = true;
      lost = false;
      await client.events(
        (name, data) => {
          if (json) {
            if (name !== 'telemetry') print(JSON.stringify({ event: name, data }));
            return;
          }
          if (name === 'telemetry') {
            for (const socket of (data as { sockets: SocketInfo[] }).sockets) {
              const before = watts.get(socket.number) ?? null;
              const now = socket.watts;
              if (
                now === null ||
                (before !== null && Math.abs(now - before) < Math.max(WATTS_STEP, before / 10))
              )
                continue;
              watts.set(socket.number, now);
              if (before === null && now === 0) continue;
              say(`${localTime(new Date())}  ${socketLabel(socket)} ${now.toFixed(1)} W`);
            }
            return;
          }
          say(formatEvent(name, data));
        },
        { telemetry: !json },
      );
    } catch (error) {
      if (!(error instanceof UnreachableError) || !connectedOnce) throw error;
    }
    if (!lost) {
      say(`${localTime(new Date())}  ${paint.warn('lost the daemon; reconnecting (Ctrl-C to stop)')}`);
      lost = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Piped into `head` or a closed pager: stop quietly, as other Unix tools do. */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
quietOnClosedPipe(process.stdout);
quietOnClosedPipe(process.stderr);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(
        `pipdu: ${error.message}\n${USAGE.split('\n')[0]}\n(pipdu help lists the commands)\n`,
      );
      process.exitCode = 2;
    } else if (error instanceof ApiCallError) {
      process.stderr.write(`pipdu: ${error.code}: ${error.message}\n`);
      process.exitCode = 1;
    } else if (error instanceof UnreachableError) {
      process.stderr.write(`pipdu: ${error.message}\n`);
      process.exitCode = 3;
    } else {
      process.stderr.write(
        `pipdu: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
