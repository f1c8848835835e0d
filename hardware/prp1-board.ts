import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { BoardOfflineError, BoardReplyError, BoardTimeoutError, PduError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { type BackoffOptions, LineSplitter, type LineTransport } from './line-transport.js';
import { emptyStats, LinkKeeper } from './link-keeper.js';
import type {
  BoardBootEvent,
  BoardConnectedEvent,
  BoardDriverName,
  BoardFeature,
  BoardIdentity,
  RelayBoard,
  RelayBoardEvents,
  RelayBoardStats,
  SetOptions,
} from './relay-board.js';

export interface Prp1BoardDeps {
  transport: LineTransport;
  logger: Logger;
  /** `prp1` for a serial board, `simulator` for the embedded one. */
  driver?: Extract<BoardDriverName, 'prp1' | 'simulator'>;
  /** How long to wait for each reply (PRP/1: 500 ms). */
  replyTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** A `! BOOT` this soon after opening the port means the board resets on open (DTR). */
  resetOnOpenWindowMs?: number;
  /** Say so loudly when that happens; off for an in-process board, which has no DTR line. */
  warnResetOnOpen?: boolean;
}

/** Timeouts in a row after which the board is offline (PRP/1 "Timing"). */
export const TIMEOUTS_BEFORE_OFFLINE = 3;
/** HELLO+STATE rounds in one connect before the port is closed and reopened. */
const MAX_HANDSHAKE_ROUNDS = 6;
/** Rounds redone because of a `! BOOT` before its result is taken anyway. */
const MAX_BOOT_ROUNDS = 3;
const MAX_ID = 65535;
/** PRP/1 line limit, the `\n` included. */
const MAX_LINE = 128;

export const RESET_ON_OPEN_WARNING =
  'the board reset when the port was opened — disable auto-reset (10 µF between RESET and GND on a Mega)';

interface Request {
  line: string;
  parse: (payload: string) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: PduError) => void;
  /** Driver-internal requests (handshake, probes) may go out before `online` and jump the queue. */
  internal: boolean;
  /** The STATE re-read after a SET/MASK whose outcome is unknown: goes first, its mask is emitted. */
  reread?: boolean;
  onSent?: (at: number) => void;
}

interface InFlight {
  request: Request;
  id: number;
  timer: NodeJS.Timeout;
}

/**
 * The PRP/1 client (docs/relay-board-protocol.md) over any `LineTransport`.
 *
 * - One request outstanding; ids 1..65535, wrapping; a reply whose id is not
 *   the outstanding one is discarded and counted as stale.
 * - A reply timeout fails the request (BOARD_TIMEOUT), fails the callers'
 *   requests queued behind it at once, and probes with `PING` (or with the
 *   driver's own pending re-read after a `! BOOT`). The third timeout in a
 *   row (probes included) makes the board offline: the port is closed — which
 *   also ends the bindings-cpp #162 busy-read — and reopened with back-off.
 * - A `SET`/`MASK` that timed out or failed in flight may still have switched
 *   its relay (a board that answers late did): the caller's error says so,
 *   and the next contact re-reads `STATE` before anything else is sent — at
 *   once as the probe while the link is up (again after each timeout), else
 *   the reconnect's handshake — and that mask is emitted as `mask`.
 * - On every (re)connect: `HELLO` then `STATE`, the reply taken as truth, and
 *   nothing else; the handshake is redone if a `! BOOT` arrives during it.
 *   While connecting, a HELLO timeout is retried on the open port (an
 *   auto-resetting Arduino answers after its bootloader) until the third in a
 *   row closes it.
 * - `! BOOT` while online: `HELLO` and `STATE` are re-read first (so
 *   `identity.bootId` is fresh), then `boot` is emitted. A reset within
 *   `resetOnOpenWindowMs` of opening the port is logged as a warning.
 * - Closed port, write error or vanished device: calls fail at once with
 *   BOARD_OFFLINE, `disconnected` is emitted, reopen with back-off.
 *
 * The port, sessions and reopening are a `LinkKeeper`'s (hardware/link-keeper.ts);
 * its `linked` phase is this driver's handshake.
 */
export class Prp1Board extends EventEmitter<RelayBoardEvents> implements RelayBoard {
  readonly driver: BoardDriverName;
  readonly reportsState = true;

  private readonly link: LinkKeeper;
  private readonly logger: Logger;
  private readonly replyTimeoutMs: number;
  private readonly resetOnOpenWindowMs: number;
  private readonly warnResetOnOpen: boolean;
  private readonly splitter = new LineSplitter(MAX_LINE);
  private readonly counters: RelayBoardStats = emptyStats();

  private currentIdentity: BoardIdentity | null = null;
  private queue: Request[] = [];
  private inFlight: InFlight | null = null;
  private nextId = 1;
  private consecutiveTimeouts = 0;
  private openedAt = 0;
  private bootDuringHandshake: BoardBootEvent | null = null;
  /** A SET/MASK's outcome is unknown: STATE must be re-read before anything else goes out. */
  private relaysInDoubt = false;

  constructor(deps: Prp1BoardDeps) {
    super();
    this.driver = deps.driver ?? 'prp1';
    this.logger = deps.logger.child({ board: this.driver });
    this.replyTimeoutMs = deps.replyTimeoutMs ?? 500;
    this.resetOnOpenWindowMs = deps.resetOnOpenWindowMs ?? 2000;
    this.warnResetOnOpen = deps.warnResetOnOpen ?? true;
    this.link = new LinkKeeper(
      { transport: deps.transport, logger: this.logger, backoff: deps.backoff },
      {
        onOpen: (session) => this.connect(session),
        onData: (text) => this.onData(text),
        onLost: (reason, wasOnline) => this.onLost(reason, wasOnline),
        onStop: (reason) => this.failAll(reason),
      },
    );
  }

  get online(): boolean {
    return this.link.phase === 'online';
  }

  get identity(): BoardIdentity | null {
    return this.currentIdentity;
  }

  get stats(): Readonly<RelayBoardStats> {
    return { ...this.counters };
  }

  start(): Promise<void> {
    return this.link.start();
  }

  stop(): Promise<void> {
    return this.link.stop();
  }

  state(): Promise<number> {
    return this.call('STATE', (payload) => this.parseRelayMask(payload));
  }

  set(channel: number, on: boolean, options: SetOptions = {}): Promise<number> {
    if (!Number.isInteger(channel) || channel < 0) {
      return Promise.reject(
        new PduError('BAD_REQUEST', `channel must be a whole number from 0, got ${channel}`),
      );
    }
    return this.call(
      `SET ${channel} ${on ? 1 : 0}`,
      (payload) => this.parseRelayMask(payload),
      options.onSent,
    );
  }

  setMask(mask: number): Promise<number> {
    const text = this.formatOwnMask(mask);
    if (text instanceof PduError) return Promise.reject(text);
    return this.call(`MASK ${text}`, (payload) => this.parseRelayMask(payload));
  }

  current(): Promise<number[]> {
    return this.call('CURRENT', (payload) => parseCurrents(payload, this.channels()));
  }

  powerUpMask(): Promise<number> {
    return this.call('DEFAULT', (payload) => parseMask(payload, this.channels()));
  }

  setPowerUpMask(mask: number): Promise<number> {
    const text = this.formatOwnMask(mask);
    if (text instanceof PduError) return Promise.reject(text);
    return this.call(`DEFAULT ${text}`, (payload) => parseMask(payload, this.channels()));
  }

  async ping(): Promise<void> {
    await this.call('PING', parsePong);
  }

  // --- connection -----------------------------------------------------------

  /** The port has opened (link `linked`): handshake, then online; the link is dropped on failure. */
  private async connect(session: number): Promise<void> {
    this.openedAt = performance.now();
    this.splitter.reset();
    this.consecutiveTimeouts = 0;
    this.logger.debug({ port: this.link.description }, 'relay board port open: handshake');

    const result = await this.handshake(session);
    if (!result || session !== this.link.session) return;
    this.currentIdentity = result.identity;
    this.relaysInDoubt = false; // the handshake's STATE is the truth, emitted as `mask` below
    const reconnect = this.link.online();
    if (reconnect) this.counters.reconnects++;
    const event: BoardConnectedEvent = {
      identity: result.identity,
      mask: result.mask,
      reconnect,
      bootDuringConnect: result.boot,
    };
    this.logger.info(
      {
        port: this.link.description,
        firmware: result.identity.firmware,
        bootId: result.identity.bootId,
        serial: result.identity.serial,
        mask: formatMask(result.mask, result.identity.channels),
        reconnect,
      },
      'relay board connected',
    );
    this.emit('connected', event);
    if (session === this.link.session) this.emit('mask', result.mask);
  }

  /** HELLO then STATE, redone when the board resets meanwhile; null when the link was given up. */
  private async handshake(
    session: number,
  ): Promise<{ identity: BoardIdentity; mask: number; boot: BoardBootEvent | null } | null> {
    let boot: BoardBootEvent | null = null;
    let bootRounds = 0;
    for (let round = 1; round <= MAX_HANDSHAKE_ROUNDS; round++) {
      this.bootDuringHandshake = null;
      try {
        const identity = (await this.send('HELLO', parseHello, true)) as BoardIdentity;
        // `identity` is published at `connected`; STATE is parsed with its channel count.
        const mask = (await this.send(
          'STATE',
          (payload) => parseMask(payload, identity.channels),
          true,
        )) as number;
        if (session !== this.link.session) return null;
        const seen = this.bootDuringHandshake as BoardBootEvent | null;
        if (seen) {
          boot = seen;
          // The board reset meanwhile: ask again, unless it keeps doing so.
          if (++bootRounds < MAX_BOOT_ROUNDS) continue;
        }
        return { identity, mask, boot };
      } catch (error) {
        if (session !== this.link.session) return null;
        if (error instanceof BoardTimeoutError) continue; // the third one in a row drops the link
        this.logger.error(
          { err: error instanceof Error ? error.message : String(error) },
          'relay board handshake failed: closing the port and retrying',
        );
        this.link.drop(error instanceof PduError ? error : new PduError('BOARD_PROTOCOL', String(error)));
        return null;
      }
    }
    this.link.drop(new BoardTimeoutError('the relay board handshake did not complete'));
    return null;
  }

  /** The link was given up (the keeper closes the port and reopens): fail every call, tell listeners. */
  private onLost(reason: PduError, wasOnline: boolean): void {
    this.failAll(reason);
    if (wasOnline) this.emit('disconnected', reason);
    else this.logger.debug({ reason: reason.message }, 'relay board link dropped while connecting');
  }

  // --- requests -------------------------------------------------------------

  private call<T>(line: string, parse: (payload: string) => T, onSent?: (at: number) => void): Promise<T> {
    const refusal = this.link.refusal();
    if (refusal) return Promise.reject(refusal);
    return this.send(line, parse, false, onSent) as Promise<T>;
  }

  private send(
    line: string,
    parse: (payload: string) => unknown,
    internal: boolean,
    onSent?: (at: number) => void,
    reread = false,
  ): Promise<unknown> {
    const refusal = this.link.refusal(true);
    if (refusal) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const request: Request = { line, parse, resolve, reject, internal, onSent, reread };
      if (reread) {
        this.queue.unshift(request); // before anything else
      } else if (internal) {
        // Internal requests go before callers' ones, in the order they were made.
        const at = this.queue.findIndex((queued) => !queued.internal);
        this.queue.splice(at === -1 ? this.queue.length : at, 0, request);
      } else {
        this.queue.push(request);
      }
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight || !this.link.live) return;
    const request = this.queue.shift();
    if (!request) return;
    const id = this.nextId;
    this.nextId = id >= MAX_ID ? 1 : id + 1;
    const timer = setTimeout(() => this.onTimeout(), this.replyTimeoutMs);
    const inFlight: InFlight = { request, id, timer };
    this.inFlight = inFlight;
    this.counters.requests++;
    const session = this.link.session;
    // Only a caller that wants the moment the line left waits for the drain.
    this.link.transport.write(`${id} ${request.line}\n`, { drain: request.onSent !== undefined }).then(
      () => request.onSent?.(performance.now()),
      (error: unknown) => this.link.writeFailed(session, error),
    );
  }

  private onTimeout(): void {
    const inFlight = this.inFlight;
    if (!inFlight) return;
    this.inFlight = null;
    this.counters.timeouts++;
    this.consecutiveTimeouts++;
    const { request } = inFlight;
    const verb = request.line.split(' ')[0];
    const switching = !request.internal && isSwitchVerb(request.line);
    if (switching) this.relaysInDoubt = true;
    // Worth a warning on a live link; while it is being brought up (a muted board, probed at
    // every retry) the link keeper's one "offline" line and its retry count say it instead.
    const level = this.link.phase === 'online' ? 'warn' : 'debug';
    this.logger[level](
      { id: inFlight.id, verb, inARow: this.consecutiveTimeouts },
      `relay board did not answer within ${this.replyTimeoutMs} ms${switching ? ': re-reading its relays' : ''}`,
    );
    request.reject(
      new BoardTimeoutError(
        `the relay board did not answer ${verb} within ${this.replyTimeoutMs} ms` +
          (switching ? '; the relay may have switched — its state is being re-read' : ''),
      ),
    );
    // Callers' requests fail at once; the driver's own (a re-read after `! BOOT`) stay and probe instead.
    this.failQueue(new BoardTimeoutError('the relay board did not answer the request before this one'), true);
    if (this.consecutiveTimeouts >= TIMEOUTS_BEFORE_OFFLINE) {
      this.link.drop(
        new BoardTimeoutError(
          `the relay board did not answer ${TIMEOUTS_BEFORE_OFFLINE} requests in a row: closing the port and reopening`,
        ),
      );
      return;
    }
    if (this.link.phase === 'online') {
      // Probe: the next timeout in a row counts towards going offline.
      if (this.relaysInDoubt) this.reread();
      else if (this.queue.length === 0) this.send('PING', parsePong, true).catch(() => {});
    }
    this.pump();
  }

  /** Queues the STATE re-read first (once); its mask is emitted by onReply and clears the doubt. */
  private reread(): void {
    if (this.queue.some((request) => request.reread)) return;
    this.send('STATE', (payload) => this.parseRelayMask(payload), true, undefined, true).catch(() => {});
  }

  private failQueue(error: PduError, keepInternal = false): void {
    const queued = this.queue;
    this.queue = keepInternal ? queued.filter((request) => request.internal) : [];
    for (const request of queued) if (!keepInternal || !request.internal) request.reject(error);
  }

  private failAll(error: PduError): void {
    const inFlight = this.inFlight;
    this.inFlight = null;
    if (inFlight) {
      clearTimeout(inFlight.timer);
      const { request } = inFlight;
      if (!request.internal && isSwitchVerb(request.line) && error.code !== 'STOPPED') {
        // Sent, never answered: the reconnect's handshake re-reads STATE.
        this.relaysInDoubt = true;
        const message = `${error.message}; the relay may have switched — its state is re-read when the board is back`;
        request.reject(
          error instanceof BoardOfflineError
            ? new BoardOfflineError(message)
            : error instanceof BoardTimeoutError
              ? new BoardTimeoutError(message)
              : new PduError(error.code, message, { cause: error }),
        );
      } else {
        request.reject(error);
      }
    }
    this.failQueue(error);
  }

  // --- incoming lines -------------------------------------------------------

  private onData(text: string): void {
    if (!this.link.live) return;
    const { lines, overlong } = this.splitter.push(text);
    if (overlong > 0) {
      this.counters.garbageLines += overlong;
      this.logger.debug({ count: overlong }, 'relay board sent an over-long line: ignored');
    }
    for (const line of lines) {
      if (!this.link.live) return;
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    // A reset can cut the line being sent: `! BOOT` then follows on the same line
    // (`! CURRENT 120,3! BOOT 0101`). The cut part is garbage; the reset must not be missed.
    const boot = line.indexOf('! BOOT', 1);
    if (boot > 0 && /^! BOOT( |$)/.test(line.slice(boot))) {
      this.garbage(line.slice(0, boot));
      this.onLine(line.slice(boot));
      return;
    }
    const parsed = classifyLine(line);
    switch (parsed.kind) {
      case 'empty':
        return;
      case 'reply':
        this.onReply(parsed);
        return;
      case 'event':
        this.onEvent(parsed.name, parsed.rest, line);
        return;
      case 'garbage':
        this.garbage(line);
        return;
    }
  }

  private onReply(reply: Extract<ParsedLine, { kind: 'reply' }>): void {
    const inFlight = this.inFlight;
    if (!inFlight || inFlight.id !== reply.id) {
      this.counters.staleReplies++;
      this.logger.debug(
        { id: reply.id, expected: inFlight?.id ?? null },
        'stale relay board reply discarded',
      );
      return;
    }
    clearTimeout(inFlight.timer);
    this.inFlight = null;
    this.consecutiveTimeouts = 0;
    const { request } = inFlight;
    if (reply.ok) {
      let value: unknown;
      try {
        value = request.parse(reply.payload);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        request.reject(
          new PduError('BOARD_PROTOCOL', `the relay board's reply to ${request.line}: ${message}`),
        );
        this.pump();
        return;
      }
      if (request.reread) this.relaysInDoubt = false;
      if (request.reread || (!request.internal && isRelayVerb(request.line)))
        this.emit('mask', value as number);
      request.resolve(value);
    } else {
      request.reject(new BoardReplyError(reply.code, reply.payload));
    }
    this.pump();
  }

  private onEvent(name: string, rest: string | null, line: string): void {
    switch (name) {
      case 'BOOT': {
        const mask = rest === null ? null : tryParse(() => parseMask(rest, this.currentIdentity?.channels));
        if (mask === null) this.garbage(line);
        else this.onBoot(mask);
        return;
      }
      case 'CURRENT': {
        const channels = this.currentIdentity?.channels;
        if (channels === undefined) return; // before HELLO: cannot check it, not garbage either
        const values = rest === null ? null : tryParse(() => parseCurrents(rest, channels));
        if (values === null) this.garbage(line);
        else this.emit('current', values);
        return;
      }
      case 'FAULT': {
        const text = rest ?? '';
        this.logger.warn({ text }, 'relay board reported a fault');
        this.emit('fault', text);
        return;
      }
      default:
        this.counters.unknownEvents++;
        this.logger.debug({ line }, 'unknown relay board event ignored');
    }
  }

  private onBoot(mask: number): void {
    const event: BoardBootEvent = { mask, msSinceOpen: Math.round(performance.now() - this.openedAt) };
    const channels = this.currentIdentity?.channels;
    const fields = { mask: channels ? formatMask(mask, channels) : mask, msSinceOpen: event.msSinceOpen };
    if (event.msSinceOpen < this.resetOnOpenWindowMs && this.warnResetOnOpen) {
      this.logger.warn(fields, RESET_ON_OPEN_WARNING);
    } else if (this.driver === 'simulator') {
      this.logger.info(fields, 'the built-in simulator powered up');
    } else {
      this.logger.warn(fields, 'relay board reset: it lost its relay state');
    }
    if (this.link.phase === 'linked') {
      this.bootDuringHandshake = event;
      return;
    }
    void this.rereadAfterBoot(event);
  }

  /** A reset while online: learn the new identity and mask first, then tell listeners. */
  private async rereadAfterBoot(event: BoardBootEvent): Promise<void> {
    const session = this.link.session;
    const hello = this.send('HELLO', parseHello, true);
    const state = this.send('STATE', (payload) => this.parseRelayMask(payload), true);
    const [identity, mask] = await Promise.allSettled([hello, state]);
    if (session !== this.link.session) return; // went offline: the reconnect's HELLO carries the new boot id
    if (identity.status === 'fulfilled') this.currentIdentity = identity.value as BoardIdentity;
    // The STATE reply is fresher than the mask in `! BOOT`; it goes in the boot
    // event, not as a `mask` event, so listeners see the reset before its mask.
    this.emit('boot', mask.status === 'fulfilled' ? { ...event, mask: mask.value as number } : event);
  }

  private garbage(line: string): void {
    this.counters.garbageLines++;
    this.logger.debug({ line: line.slice(0, 80) }, 'unparseable line from the relay board ignored');
  }

  // --- masks ----------------------------------------------------------------

  private channels(): number {
    return this.currentIdentity?.channels ?? 16;
  }

  private parseRelayMask(payload: string): number {
    return parseMask(payload, this.channels());
  }

  private formatOwnMask(mask: number): string | PduError {
    const channels = this.channels();
    if (!Number.isInteger(mask) || mask < 0 || mask >= 2 ** channels) {
      return new PduError('BAD_REQUEST', `mask ${mask} does not fit ${channels} channels`);
    }
    return formatMask(mask, channels);
  }
}

// --- pure parsing (exported for tests) -------------------------------------

export type ParsedLine =
  | { kind: 'empty' }
  | { kind: 'reply'; id: number; ok: true; payload: string }
  | { kind: 'reply'; id: number; ok: false; code: string; payload: string }
  | { kind: 'event'; name: string; rest: string | null }
  | { kind: 'garbage' };

const REPLY = /^(\d{1,5}) (OK|ERR)(?: (.*))?$/;
const ERROR_PAYLOAD = /^([A-Z][A-Z0-9_]*)(?: (.*))?$/;
const EVENT = /^! ([A-Z][A-Z0-9_]*)(?: (.*))?$/;

/** What a line from the board is; it does not check a reply's payload or an event's argument. */
export function classifyLine(line: string): ParsedLine {
  if (line === '') return { kind: 'empty' };
  if (line.startsWith('!')) {
    const event = EVENT.exec(line);
    return event ? { kind: 'event', name: event[1]!, rest: event[2] ?? null } : { kind: 'garbage' };
  }
  const reply = REPLY.exec(line);
  if (!reply) return { kind: 'garbage' };
  const id = Number(reply[1]);
  if (id > MAX_ID) return { kind: 'garbage' };
  if (reply[2] === 'OK') return { kind: 'reply', id, ok: true, payload: reply[3] ?? '' };
  const error = ERROR_PAYLOAD.exec(reply[3] ?? '');
  if (!error) return { kind: 'garbage' };
  return { kind: 'reply', id, ok: false, code: error[1]!, payload: error[2] ?? '' };
}

/** A mask as the board writes it: ceil(n/4) upper-case hex digits (1..8 when n is not known yet). */
export function parseMask(text: string, channels?: number): number {
  const digits = channels === undefined ? '{1,8}' : `{${Math.ceil(channels / 4)}}`;
  if (!new RegExp(`^[0-9A-F]${digits}$`).test(text)) throw new Error(`"${text}" is not a mask`);
  const mask = Number.parseInt(text, 16);
  if (channels !== undefined && mask >= 2 ** channels) {
    throw new Error(`mask ${text} has bits above channel ${channels - 1}`);
  }
  return mask;
}

export function formatMask(mask: number, channels: number): string {
  return mask
    .toString(16)
    .toUpperCase()
    .padStart(Math.ceil(channels / 4), '0');
}

export function parseCurrents(text: string, channels: number): number[] {
  const parts = text.split(',');
  if (parts.length !== channels || !parts.every((part) => /^\d{1,9}$/.test(part))) {
    throw new Error(`"${text}" is not ${channels} currents in mA`);
  }
  return parts.map(Number);
}

const KNOWN_FEATURES: readonly BoardFeature[] = ['current', 'persist'];

/**
 * `PIPDU/1 channels=<n> fw=<semver> features=<list> boot=<bootid> [serial=<hex>]`;
 * unknown keys and features ignored, and so is a malformed `serial=` (taken as none).
 */
export function parseHello(payload: string): BoardIdentity {
  const [protocol, ...pairs] = payload.split(' ');
  if (protocol !== 'PIPDU/1') throw new Error(`protocol "${protocol}" is not PIPDU/1`);
  const values = new Map<string, string>();
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`"${pair}" is not key=value`);
    values.set(pair.slice(0, at), pair.slice(at + 1));
  }
  const channelsText = values.get('channels') ?? '';
  const channels = Number(channelsText);
  if (!/^\d{1,2}$/.test(channelsText) || channels < 1 || channels > 32) {
    throw new Error(`channels="${channelsText}" is not 1..32`);
  }
  const firmware = values.get('fw');
  if (!firmware) throw new Error('fw= is missing');
  const featureList = values.get('features');
  if (featureList === undefined) throw new Error('features= is missing');
  const features = KNOWN_FEATURES.filter((feature) => featureList.split(',').includes(feature));
  const bootId = values.get('boot') ?? '';
  if (!/^[0-9A-F]{1,8}$/.test(bootId)) throw new Error(`boot="${bootId}" is not 1-8 hex digits`);
  const serialText = values.get('serial');
  const serial = serialText !== undefined && /^[0-9A-F]{8,16}$/.test(serialText) ? serialText : null;
  return { protocol, channels, firmware, features, bootId, serial };
}

function parsePong(payload: string): void {
  if (payload !== 'PONG') throw new Error(`"${payload}" is not PONG`);
}

function isSwitchVerb(line: string): boolean {
  return line.startsWith('SET ') || line.startsWith('MASK ');
}

function isRelayVerb(line: string): boolean {
  return line === 'STATE' || line.startsWith('SET ') || line.startsWith('MASK ');
}

function tryParse<T>(parse: () => T): T | null {
  try {
    return parse();
  } catch {
    return null;
  }
}
