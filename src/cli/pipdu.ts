#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AuditEntry } from '../audit/audit-log.js';
import { hashPassword } from '../config/password-hash.js';
import type { AllResult, PduStatus, SwitchResult } from '../pdu/types.js';
import { ApiCallError, ApiClient, errorText, type TlsOptions, UnreachableError } from './client.js';
import { formatAll, formatAuditEntry, formatEvent, formatStatus, formatSwitch } from './format.js';

// pipdu: the command line of the PiPDU API v1 (issue 6, item 5).
// Exit status: 0 done, 1 the API said no (its code: message), 2 usage, 3 API not reachable.

const DEFAULT_URL = 'http://127.0.0.1:8080';

const USAGE = `usage: pipdu [--url U] [--cert C --key K --ca A] [--json] <command>

commands:
  status                         every socket: state, watts, pending work; board; total power
  on <socket>                    switch a socket (number or name) on; "all" for every socket
  off <socket> [--force]         switch off (--force skips its preOff hooks); "all" for every socket
  toggle <socket> [--force]      switch to the other state
  cycle <socket> [--force] [--off-time 10s]
                                 off, wait, on again
  log [--limit N]                the audit log, newest last (admin)
  reload                         re-read the daemon's configuration file (admin)
  watch                          follow the event stream, one line per event, until Ctrl-C
  hash-password                  a password hash for api.users (asks twice, without echo;
                                 or reads the password from a pipe); nothing is sent anywhere

options:
  --url U        the API (default $PIPDU_URL or ${DEFAULT_URL})
  --cert, --key  client certificate and key (PEM) for an https:// URL
  --ca A         the CA that signed the server's certificate
  --reason TEXT  recorded in the audit log with the switch
  --json         the API's JSON as is (watch: one JSON object per line)
  -h, --help     this text

exit status: 0 ok, 1 the API refused or failed (code: message), 2 usage, 3 the API cannot be reached`;

class UsageError extends Error {}

const SWITCHES = ['on', 'off', 'toggle', 'cycle'] as const;
type Switch = (typeof SWITCHES)[number];

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
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
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

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    print(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError('no command given');
  if (command === 'hash-password') {
    if (rest.length > 0) throw new UsageError('hash-password takes no arguments: it asks for the password');
    print(await hashPassword(await readPassword()));
    return 0;
  }

  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError('--cert and --key go together');
  }
  const tls: TlsOptions = {};
  const cert = readPem('cert', values.cert);
  const key = readPem('key', values.key);
  const ca = readPem('ca', values.ca);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (ca) tls.ca = ca;
  const url = values.url ?? process.env.PIPDU_URL ?? DEFAULT_URL;
  let client: ApiClient;
  try {
    client = new ApiClient(url, tls);
  } catch (error) {
    throw new UsageError(`--url ${url}: ${errorText(error)}`);
  }
  if ((cert || ca) && !client.url.startsWith('https:')) {
    throw new UsageError('--cert, --key and --ca need an https:// URL');
  }

  const only = (option: 'force' | 'off-time' | 'limit' | 'reason', allowed: boolean, where: string): void => {
    const given = option === 'force' ? values.force : values[option] !== undefined;
    if (given && !allowed) throw new UsageError(`--${option} is only for ${where}`);
  };
  only('force', isSwitch(command) && command !== 'on', 'off, toggle and cycle');
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
      else for (const line of formatStatus(status)) print(line);
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
    default:
      if (!isSwitch(command)) throw new UsageError(`unknown command "${command}"`);
  }

  const [socket, ...extra] = rest;
  if (socket === undefined || socket === '')
    throw new UsageError(`${command} needs a socket (number or name)`);
  if (extra.length > 0) throw new UsageError(`${command} takes one socket, got ${rest.join(' ')}`);
  const body: Record<string, unknown> = {};
  if (values.force) body.force = true;
  if (values.reason !== undefined) body.reason = values.reason;
  if (values['off-time'] !== undefined) body.offTime = values['off-time'];

  if (socket === 'all') {
    if (command !== 'on' && command !== 'off') throw new UsageError('only on and off take "all"');
    let result: AllResult;
    let failure: ApiCallError | null = null;
    try {
      result = (await client.json('POST', `/api/v1/sockets/all/${command}`, body)) as AllResult;
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

  const result = (await client.json(
    'POST',
    `/api/v1/sockets/${encodeURIComponent(socket)}/${command}`,
    body,
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

/** Follows the event stream until Ctrl-C (exit 0); a stream that ends on its own is exit 3. */
async function watch(client: ApiClient, json: boolean): Promise<number> {
  const stop = (): void => process.exit(0);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await client.events((name, data) => {
    print(json ? JSON.stringify({ event: name, data }) : formatEvent(name, data));
  });
  throw new UnreachableError(`the event stream from ${client.url} ended`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(
        `pipdu: ${error.message}\n${USAGE.split('\n')[0]}\n(pipdu --help lists the commands)\n`,
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
