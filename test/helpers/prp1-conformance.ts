/**
 * A PRP/1 conformance suite (docs/relay-board-protocol.md) for any board
 * reachable on a serial path: the project's simulator, the firmware in the
 * emulator, a real board. It talks to the board through the real serialport
 * package at 115200 baud, one request outstanding at a time, and checks every
 * line the board sends. What the host side cannot see by itself (relay pins,
 * resets, loads, simulated timing) comes from a `BoardUnderTest`.
 *
 *   describeConformance('firmware in the emulator', () => startFirmwareBoard(), { channels: 16 });
 *
 * Parts a test can use on its own: the strict line parsers (parseReply,
 * parseHello, parseMask, parseCurrents, parseEvent) and the line client
 * (Prp1LineClient).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { SerialPort } from 'serialport';
import { seededRandom } from '../../hardware/seeded-random.js';

// ---------------------------------------------------------------------------
// The board under test

/** What the suite needs from a board besides its serial line. */
export interface BoardUnderTest {
  readonly name: string;
  /** The serial device (or pty link) the suite opens. */
  readonly path: string;
  /** Power loss / reset: the board restarts with its non-volatile memory kept. Resolves once it was triggered. */
  reset(): Promise<void>;
  /** The load (RMS mA) channel `channel` draws while its relay is on. Resolves once it is in effect. */
  setLoad(channel: number, mA: number): Promise<void>;
  /** The latest mask of the relay pins as observed from outside (upper-case hex), null if unknown. */
  relays(): string | null;
  /**
   * Resolves once relays() reflects everything the board did up to sending
   * `line` (the next such line after the ones already observed): the pin
   * observer and the serial line are separate channels, so a reply can reach
   * the host before the pin change is reported.
   */
  observed(line: string): Promise<void>;
  /**
   * Resolves once the board can take requests, after the suite opened the port
   * (e.g. an emulated board that only powers up when its pty is opened). Optional.
   */
  opened?(): Promise<void>;
  /** Simulated µs from each request's last byte to the first byte of its reply (emulated firmware only). */
  replyLatenciesUs?(): number[];
  /**
   * How many of those replies had to wait for an event line that was already
   * being sent when their request ended (PRP/1 lets it finish first; that time
   * is not part of the latency). Emulated firmware only.
   */
  repliesHeldByEvents?(): number;
  /** Hangs the running firmware so that only its watchdog can recover it (emulated firmware only). */
  hang?(): Promise<void>;
  /** Why the board last (re)started: 'power', 'reset' or 'watchdog' (emulated firmware only). */
  bootCause?(): string | null;
  stop(): Promise<void>;
}

export interface ConformanceOptions {
  /** HELLO must report this many channels. */
  channels?: number;
  /** HELLO must report exactly these features. */
  features?: string[];
  /** Check reply timing (needs replyLatenciesUs). */
  timing?: boolean;
  /** Check the watchdog (needs hang and bootCause). */
  watchdog?: boolean;
  /** HELLO must carry `serial=` (default true; false for a board older than it: then it must not). */
  serial?: boolean;
}

// ---------------------------------------------------------------------------
// Strict parsers for what a board sends

export type Prp1Reply =
  | { id: number; ok: true; text: string }
  | { id: number; ok: false; code: Prp1ErrorCode; text: string };

export type Prp1ErrorCode = 'BADREQ' | 'BADCH' | 'UNSUPPORTED' | 'FAULT';
const ERROR_CODES: readonly string[] = ['BADREQ', 'BADCH', 'UNSUPPORTED', 'FAULT'];

export interface Prp1Hello {
  protocol: 'PIPDU/1';
  channels: number;
  firmware: string;
  features: string[];
  bootId: string;
  /** `serial=`: 8..16 upper-case hex digits, the board's for life; null when absent. */
  serial: string | null;
  /** key=value pairs the protocol does not define (a host ignores them). */
  extra: Record<string, string>;
}

export type Prp1Event =
  | { kind: 'BOOT'; mask: string }
  | { kind: 'CURRENT'; values: number[] }
  | { kind: 'FAULT'; text: string }
  | { kind: 'OTHER'; name: string; text: string };

/** The protocol's line limit: 128 bytes including the `\n`. */
export const MAX_LINE_BYTES = 128;

export class Prp1FormatError extends Error {}

function malformed(line: string, why: string): never {
  throw new Prp1FormatError(`malformed line ${JSON.stringify(line)}: ${why}`);
}

/** Printable ASCII only, tokens separated by exactly one space, no leading/trailing space. */
function checkTokens(line: string): void {
  if (!/^[\x20-\x7e]*$/.test(line)) malformed(line, 'not printable ASCII');
  if (line.startsWith(' ') || line.endsWith(' ') || line.includes('  '))
    malformed(line, 'tokens must be separated by exactly one space');
  if (line.length + 1 > MAX_LINE_BYTES) malformed(line, `longer than ${MAX_LINE_BYTES} bytes with its \\n`);
}

/** A reply line (without its line end): `<id> OK <text>` or `<id> ERR <CODE> <free text>`. */
export function parseReply(line: string): Prp1Reply {
  checkTokens(line);
  const match = /^(0|[1-9][0-9]{0,4}) (OK|ERR) (.+)$/.exec(line);
  if (!match) malformed(line, 'not "<id> OK <text>" or "<id> ERR <CODE> <text>"');
  const id = Number(match[1]);
  if (id > 65535) malformed(line, 'id above 65535');
  const rest = match[3]!;
  if (match[2] === 'OK') {
    if (id === 0) malformed(line, 'id 0 is only for errors');
    return { id, ok: true, text: rest };
  }
  const space = rest.indexOf(' ');
  if (space === -1) malformed(line, 'an error needs a code and a free text');
  const code = rest.slice(0, space);
  if (!ERROR_CODES.includes(code)) malformed(line, `unknown error code ${code}`);
  return { id, ok: false, code: code as Prp1ErrorCode, text: rest.slice(space + 1) };
}

/** A mask as boards send it: exactly ceil(n/4) upper-case hex digits, no bit at or above n. */
export function parseMask(text: string, channels: number): number {
  const digits = Math.ceil(channels / 4);
  if (text.length !== digits || !/^[0-9A-F]+$/.test(text))
    throw new Prp1FormatError(`mask ${JSON.stringify(text)} is not ${digits} upper-case hex digits`);
  const mask = Number.parseInt(text, 16);
  if (mask >= 2 ** channels)
    throw new Prp1FormatError(`mask ${text} has bits set above channel ${channels - 1}`);
  return mask;
}

/** `n` whole milliamp values, comma separated. */
export function parseCurrents(text: string, channels?: number): number[] {
  const parts = text.split(',');
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]*)$/.test(part))
      throw new Prp1FormatError(`currents ${JSON.stringify(text)}: "${part}" is not a whole number`);
  }
  if (channels !== undefined && parts.length !== channels)
    throw new Prp1FormatError(`currents ${JSON.stringify(text)}: ${parts.length} values, not ${channels}`);
  return parts.map(Number);
}

/** The text of a HELLO reply: `PIPDU/1 channels=<n> fw=<semver> features=<list> boot=<bootid> [serial=<hex>]` plus unknown pairs. */
export function parseHello(text: string): Prp1Hello {
  checkTokens(text);
  const [protocol, ...pairs] = text.split(' ');
  if (protocol !== 'PIPDU/1') malformed(text, 'HELLO must start with PIPDU/1');
  const values = new Map<string, string>();
  for (const pair of pairs) {
    const match = /^([a-z][a-z0-9_-]*)=(.*)$/.exec(pair);
    if (!match) malformed(text, `"${pair}" is not key=value`);
    if (values.has(match[1]!)) malformed(text, `${match[1]} given twice`);
    values.set(match[1]!, match[2]!);
  }
  const take = (key: string): string => {
    const value = values.get(key);
    if (value === undefined) malformed(text, `no ${key}=`);
    values.delete(key);
    return value;
  };
  const channelsText = take('channels');
  if (!/^[1-9][0-9]?$/.test(channelsText) || Number(channelsText) > 32)
    malformed(text, 'channels must be 1..32');
  const firmware = take('fw');
  if (!/^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.+-]+)?$/.test(firmware))
    malformed(text, `fw=${firmware} is not a semantic version`);
  const featureText = take('features');
  const features = featureText === '' ? [] : featureText.split(',');
  if (features.some((feature) => !/^[a-z][a-z0-9-]*$/.test(feature)))
    malformed(text, `features=${featureText} is not a comma separated list`);
  const bootId = take('boot');
  if (!/^[0-9A-F]{1,8}$/.test(bootId)) malformed(text, `boot=${bootId} is not 1-8 upper-case hex digits`);
  const serial = values.has('serial') ? take('serial') : null;
  if (serial !== null && !/^[0-9A-F]{8,16}$/.test(serial))
    malformed(text, `serial=${serial} is not 8-16 upper-case hex digits`);
  return {
    protocol: 'PIPDU/1',
    channels: Number(channelsText),
    firmware,
    features,
    bootId,
    serial,
    extra: Object.fromEntries(values),
  };
}

/** An event line (starting with `!`, without its line end). Unknown events are returned as OTHER. */
export function parseEvent(line: string, channels?: number): Prp1Event {
  checkTokens(line);
  const match = /^! ([A-Z][A-Z0-9_]*)(?: (.*))?$/.exec(line);
  if (!match) malformed(line, 'an event is "! <NAME> [<text>]"');
  const name = match[1]!;
  const text = match[2] ?? '';
  switch (name) {
    case 'BOOT':
      if (!/^[0-9A-F]{1,8}$/.test(text)) malformed(line, '! BOOT needs a mask');
      if (channels !== undefined) parseMask(text, channels);
      return { kind: 'BOOT', mask: text };
    case 'CURRENT':
      return { kind: 'CURRENT', values: parseCurrents(text, channels) };
    case 'FAULT':
      if (text === '') malformed(line, '! FAULT needs a text');
      return { kind: 'FAULT', text };
    default:
      return { kind: 'OTHER', name, text };
  }
}

/** The id a board must echo for a request line (content without line end): 0 when none can be read. */
export function expectedReplyId(content: string): number {
  if (content.length > MAX_LINE_BYTES - 1) return 0;
  const line = content.endsWith('\r') ? content.slice(0, -1) : content;
  const token = line.split(' ')[0]!;
  if (!/^[0-9]+$/.test(token)) return 0;
  const id = Number(token);
  return id >= 1 && id <= 65535 ? id : 0;
}

// ---------------------------------------------------------------------------
// The line client

export interface ReceivedEvent {
  /** Position among all events this client received (0-based). */
  seq: number;
  line: string;
  event: Prp1Event;
  /** True when the line was cut into by a reset: the board's earlier, unfinished line came before it. */
  afterCutLine: boolean;
}

interface Outstanding {
  request: string;
  expectedId: number;
  resolve: (reply: { line: string; reply: Prp1Reply }) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface EventWaiter {
  predicate: (event: ReceivedEvent) => boolean;
  resolve: (event: ReceivedEvent) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface LineClientOptions {
  /** How long a request waits for its reply; default 2000 ms. */
  replyTimeoutMs?: number;
  /** Channels, to check the size of masks and currents in events (set after HELLO otherwise). */
  channels?: number;
}

const show = (text: string) => JSON.stringify(text);

/**
 * A strict PRP/1 host over a serial port: one request outstanding at a time,
 * every line the board sends checked. Events may come between replies; a
 * reply with another id than the outstanding request's, a reply when none is
 * outstanding, a late reply (after its timeout) and any malformed line are
 * problems: the outstanding request fails, or the next one does (without
 * being sent), and `problems` keeps them until takeProblems().
 *
 * Exception: lines completed before the first request was written are kept
 * in `preamble` and not judged (opening a port flushes its input, which may
 * cut the head off a power-up `! BOOT`). After expectReset(), a line that a
 * reset cut short and a `! BOOT` ran into is taken as that `! BOOT`.
 */
export class Prp1LineClient {
  readonly events: ReceivedEvent[] = [];
  readonly problems: string[] = [];
  readonly preamble: string[] = [];
  /** Every line received, in order, without its line end. */
  readonly lines: string[] = [];
  channels: number | undefined;
  private readonly replyTimeoutMs: number;
  private partial = '';
  private outstanding: Outstanding | null = null;
  private readonly timedOutIds = new Set<number>();
  private readonly eventWaiters = new Set<EventWaiter>();
  private readonly lineListeners = new Set<() => boolean>();
  private wroteAnything = false;
  private resetExpected = false;
  private closed = false;

  private constructor(
    private readonly port: SerialPort,
    options: LineClientOptions,
  ) {
    this.replyTimeoutMs = options.replyTimeoutMs ?? 2000;
    this.channels = options.channels;
    port.on('data', (chunk: Buffer) => this.onData(chunk.toString('latin1')));
    port.on('error', (error: Error) => this.problem(`serial port error: ${error.message}`));
    port.on('close', () => {
      if (!this.closed) this.problem(`${port.path} closed unexpectedly`);
      this.closed = true;
      this.failAll(new Error(`${port.path} closed`));
    });
  }

  static async open(path: string, options: LineClientOptions = {}): Promise<Prp1LineClient> {
    // HUPCL off: closing must not drop DTR (it would reset an Arduino on the next open).
    const port = new SerialPort({
      path,
      baudRate: 115200,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      rtscts: false,
      hupcl: false,
      autoOpen: false,
    });
    const client = new Prp1LineClient(port, options);
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    return client;
  }

  get path(): string {
    return this.port.path;
  }

  /** Writes raw bytes (latin1) and waits until they are handed to the device. */
  async write(bytes: string): Promise<void> {
    if (this.closed) throw new Error(`${this.port.path} is closed`);
    this.wroteAnything = true;
    await new Promise<void>((resolve, reject) => {
      this.port.write(Buffer.from(bytes, 'latin1'));
      this.port.drain((error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Sends `bytes` (which must end the request line, e.g. with `\n`) and
   * resolves with the reply that carries `expectedId` (default: derived from
   * the request). Fails at once, without sending, while problems are pending
   * or another request is outstanding.
   */
  async exchange(bytes: string, expectedId?: number): Promise<{ line: string; reply: Prp1Reply }> {
    const request = bytes.replace(/\r?\n$/, '');
    const lastLine = request.slice(request.lastIndexOf('\n') + 1);
    if (this.outstanding)
      throw new Error(`${show(request)}: ${show(this.outstanding.request)} is still outstanding`);
    if (this.problems.length > 0)
      throw new Error(`${show(request)} not sent: pending problems:\n  ${this.problems.join('\n  ')}`);
    const id = expectedId ?? expectedReplyId(lastLine);
    const reply = new Promise<{ line: string; reply: Prp1Reply }>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.outstanding?.timer !== timer) return;
        this.outstanding = null;
        this.timedOutIds.add(id);
        reject(new Error(`no reply to ${show(request)} (id ${id}) within ${this.replyTimeoutMs} ms`));
      }, this.replyTimeoutMs);
      this.outstanding = { request, expectedId: id, resolve, reject, timer };
    });
    try {
      await this.write(bytes);
    } catch (error) {
      this.failOutstanding(error as Error);
    }
    return reply;
  }

  /** `exchange(line + '\n')`, the reply parsed. */
  async request(line: string, expectedId?: number): Promise<Prp1Reply> {
    return (await this.exchange(`${line}\n`, expectedId)).reply;
  }

  /**
   * The first event at position `since` or later (default: one that arrives
   * after this call) matching `predicate`; rejects after `timeoutMs`.
   */
  nextEvent(
    predicate: (event: ReceivedEvent) => boolean,
    timeoutMs = 3000,
    since = this.events.length,
  ): Promise<ReceivedEvent> {
    const seen = this.events.slice(since).find(predicate);
    if (seen) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(new Error(`${this.port.path} is closed`));
    return new Promise((resolve, reject) => {
      const waiter: EventWaiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.eventWaiters.delete(waiter);
          const recent = this.lines.slice(-8).map(show).join('\n  ');
          reject(
            new Error(
              `no matching event within ${timeoutMs} ms (${predicate.toString()}); last lines:\n  ${recent}`,
            ),
          );
        }, timeoutMs),
      };
      this.eventWaiters.add(waiter);
    });
  }

  /** The first line received (any kind) at position `from` or later (default: from now on) matching `predicate`. */
  nextLine(
    predicate: (line: string) => boolean,
    timeoutMs = 3000,
    from = this.lines.length,
  ): Promise<string> {
    const seen = this.lines.slice(from).find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.slice(from).find(predicate);
        if (found === undefined) return false;
        clearTimeout(timer);
        this.lineListeners.delete(check);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.lineListeners.delete(check);
        reject(new Error(`no matching line within ${timeoutMs} ms (${predicate.toString()})`));
      }, timeoutMs);
      this.lineListeners.add(check);
    });
  }

  /** A reset is coming: the `! BOOT` may run into a line the reset cut short. Cleared by that `! BOOT`. */
  expectReset(): void {
    this.resetExpected = true;
  }

  /** Returns and clears the pending problems. */
  takeProblems(): string[] {
    return this.problems.splice(0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error(`${this.port.path} was closed`));
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  private onData(text: string): void {
    this.partial += text;
    let newline = this.partial.indexOf('\n');
    while (newline !== -1) {
      let line = this.partial.slice(0, newline);
      this.partial = this.partial.slice(newline + 1);
      newline = this.partial.indexOf('\n');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.lines.push(line);
      this.onLine(line);
      for (const listener of this.lineListeners) listener();
    }
  }

  private onLine(line: string): void {
    if (!this.wroteAnything) {
      this.preamble.push(line);
      try {
        if (line.startsWith('!')) this.addEvent(line, parseEvent(line, this.channels), false);
      } catch {
        // a line the port's open flush cut short
      }
      return;
    }
    let cut = false;
    if (this.resetExpected) {
      const at = line.lastIndexOf('! BOOT ');
      if (at > 0) {
        line = line.slice(at);
        cut = true;
      }
    }
    if (line.startsWith('!')) {
      let event: Prp1Event;
      try {
        event = parseEvent(line, this.channels);
      } catch (error) {
        this.problem((error as Error).message);
        return;
      }
      if (event.kind === 'BOOT') this.resetExpected = false;
      this.addEvent(line, event, cut);
      return;
    }
    let reply: Prp1Reply;
    try {
      reply = parseReply(line);
    } catch (error) {
      this.problem((error as Error).message);
      return;
    }
    const outstanding = this.outstanding;
    if (outstanding && reply.id === outstanding.expectedId) {
      this.outstanding = null;
      clearTimeout(outstanding.timer);
      outstanding.resolve({ line, reply });
      return;
    }
    if (this.timedOutIds.has(reply.id)) this.problem(`late reply ${show(line)} (after its timeout)`);
    else if (outstanding)
      this.problem(
        `mismatched reply ${show(line)} to ${show(outstanding.request)} (expected id ${outstanding.expectedId})`,
      );
    else this.problem(`unexpected reply ${show(line)} with no request outstanding`);
  }

  private addEvent(line: string, event: Prp1Event, afterCutLine: boolean): void {
    const received: ReceivedEvent = { seq: this.events.length, line, event, afterCutLine };
    this.events.push(received);
    for (const waiter of this.eventWaiters) {
      if (!waiter.predicate(received)) continue;
      clearTimeout(waiter.timer);
      this.eventWaiters.delete(waiter);
      waiter.resolve(received);
    }
  }

  /** Records a problem; an outstanding request fails with it. */
  private problem(text: string): void {
    this.problems.push(text);
    this.failOutstanding(new Error(text));
  }

  private failOutstanding(error: Error): void {
    const outstanding = this.outstanding;
    if (!outstanding) return;
    this.outstanding = null;
    clearTimeout(outstanding.timer);
    outstanding.reject(new Error(`${show(outstanding.request)}: ${error.message}`));
  }

  private failAll(error: Error): void {
    this.failOutstanding(error);
    for (const waiter of this.eventWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.eventWaiters.clear();
  }
}

// ---------------------------------------------------------------------------
// The suite

/** Telemetry must arrive within this much wall time. */
const TELEMETRY_WAIT_MS = 3000;

class Rig {
  private nextId = 1;
  hello!: Prp1Hello;

  constructor(
    readonly board: BoardUnderTest,
    readonly client: Prp1LineClient,
  ) {}

  get channels(): number {
    return this.hello.channels;
  }

  get digits(): number {
    return Math.ceil(this.channels / 4);
  }

  has(feature: string): boolean {
    return this.hello.features.includes(feature);
  }

  /** A mask as boards write it. */
  fmt(mask: number): string {
    return (mask >>> 0).toString(16).toUpperCase().padStart(this.digits, '0');
  }

  /** Every channel. */
  get all(): number {
    return 2 ** this.channels - 1;
  }

  id(): number {
    const id = this.nextId;
    this.nextId = id >= 65535 ? 1 : id + 1;
    return id;
  }

  /** Sends `<id> <args>`; the reply must be OK with that id. Returns its text and line. */
  async ok(args: string, id = this.id()): Promise<{ text: string; line: string }> {
    const { line, reply } = await this.client.exchange(`${id} ${args}\n`);
    assert.equal(reply.id, id, `reply id of ${show(`${id} ${args}`)}`);
    assert.ok(reply.ok, `${show(`${id} ${args}`)} answered ${show(line)}`);
    return { text: reply.text, line };
  }

  /** `bytes` (a request line with its ending) must be answered `<expectedId> ERR <code> <text>`. */
  async error(bytes: string, code: Prp1ErrorCode, expectedId?: number): Promise<string> {
    const content = bytes.replace(/\r?\n$/, '');
    const id = expectedId ?? expectedReplyId(content);
    const { line, reply } = await this.client.exchange(bytes, id);
    assert.equal(reply.ok, false, `${show(content)} must be answered ${id} ERR ${code}, got ${show(line)}`);
    assert.equal(reply.id, id, `${show(content)} answered ${show(line)}`);
    if (!reply.ok) assert.equal(reply.code, code, `${show(content)} answered ${show(line)}`);
    return line;
  }

  async state(): Promise<number> {
    return parseMask((await this.ok('STATE')).text, this.channels);
  }

  /** SET or MASK: returns the reply mask after checking that the relay pins equal it. */
  async switch(args: string, expected?: number): Promise<number> {
    const { text, line } = await this.ok(args);
    const mask = parseMask(text, this.channels);
    if (expected !== undefined) assert.equal(text, this.fmt(expected), `${args} answered ${show(line)}`);
    await this.expectRelays(text, line);
    return mask;
  }

  /** The relay pins, observed up to the board sending `line`, must equal `mask`. */
  async expectRelays(mask: string, line: string): Promise<void> {
    await this.board.observed(line);
    assert.equal(this.board.relays(), mask, `relay pins after ${show(line)}`);
  }

  async helloNow(): Promise<Prp1Hello> {
    return parseHello((await this.ok('HELLO')).text);
  }

  /** Resets the board; resolves with the `! BOOT` that follows, checked against the pins. */
  async reset(trigger: () => Promise<void> = () => this.board.reset(), timeoutMs = 5000): Promise<string> {
    const since = this.client.events.length;
    this.client.expectReset();
    await trigger();
    const boot = await this.client.nextEvent((event) => event.event.kind === 'BOOT', timeoutMs, since);
    assert.equal(boot.event.kind, 'BOOT');
    const mask = boot.line.slice('! BOOT '.length);
    parseMask(mask, this.channels);
    await this.expectRelays(mask, boot.line);
    return mask;
  }

  /**
   * CURRENT readings once they satisfy `good`: RMS needs a measuring window
   * after a switch, so a reading that does not yet is retried after each of
   * the next `! CURRENT` events (up to three); the last one must.
   */
  async settledCurrents(good: (values: number[]) => string | null): Promise<number[]> {
    let values: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      values = parseCurrents((await this.ok('CURRENT')).text, this.channels);
      if (good(values) === null) return values;
      await this.client.nextEvent((event) => event.event.kind === 'CURRENT', TELEMETRY_WAIT_MS);
    }
    assert.fail(`CURRENT ${values.join(',')}: ${good(values)}`);
  }
}

/** A line of exactly `length` bytes: `<id> SET <ch> 1` with the channel padded with leading zeros. */
function paddedSet(id: number, channel: number, length: number): string {
  const head = `${id} SET `;
  const tail = ' 1';
  const digits = length - head.length - tail.length;
  assert.ok(digits >= String(channel).length, `cannot pad to ${length} bytes`);
  return `${head}${String(channel).padStart(digits, '0')}${tail}`;
}

/**
 * Registers the PRP/1 conformance tests for the board `start()` gives (called
 * once, in a `before`; the board is stopped in `after`). The board must start
 * with no valid power-up mask stored (a fresh EEPROM) and have at least 4
 * channels. Tests run in order and build on each other's state.
 */
export function describeConformance(
  name: string,
  start: () => Promise<BoardUnderTest>,
  options: ConformanceOptions = {},
): void {
  describe(`PRP/1 conformance: ${name}`, { timeout: 60_000 }, () => {
    let board: BoardUnderTest | undefined;
    let client: Prp1LineClient | undefined;
    let rig: Rig;

    before(async () => {
      board = await start();
      client = await Prp1LineClient.open(board.path);
      await board.opened?.();
      rig = new Rig(board, client);
    });

    after(async () => {
      await client?.close();
      await board?.stop();
    });

    afterEach(() => {
      const problems = client?.takeProblems() ?? [];
      assert.deepEqual(problems, [], 'every line from the board is well-formed and expected');
    });

    test('HELLO: PIPDU/1, channels, fw, features, a boot id and a serial; the reply id is echoed', async () => {
      const { text } = await rig.ok('HELLO', 65535);
      rig.hello = parseHello(text);
      client!.channels = rig.hello.channels;
      const { hello } = rig;
      if (options.channels !== undefined) assert.equal(hello.channels, options.channels);
      if (options.features !== undefined) assert.deepEqual(hello.features, options.features);
      assert.ok(hello.channels >= 4, 'the suite needs at least 4 channels');
      for (const feature of hello.features) assert.ok(['current', 'persist'].includes(feature), feature);
      if (options.serial === false) assert.equal(hello.serial, null, 'no serial= on this board');
      else assert.ok(hello.serial, 'HELLO carries serial= (8-16 upper-case hex digits)');
      const again = await rig.helloNow();
      assert.equal(again.bootId, hello.bootId, 'the boot id stays the same until a reset');
      assert.equal(again.firmware, hello.firmware);
      assert.equal(again.serial, hello.serial, 'the serial stays the same');
    });

    test('fresh board (no valid power-up mask stored): every relay is off', async () => {
      const off = rig.fmt(0);
      for (const event of client!.events) {
        if (event.event.kind === 'BOOT') assert.equal(event.event.mask, off, `power-up ${event.line}`);
      }
      const { text, line } = await rig.ok('STATE');
      assert.equal(text, off);
      await rig.expectRelays(off, line);
      if (rig.has('persist')) assert.equal((await rig.ok('DEFAULT')).text, off);
      else await rig.error(`${rig.id()} DEFAULT\n`, 'UNSUPPORTED');
    });

    test('reset with no valid power-up mask: ! BOOT with every relay off, a new boot id', async () => {
      await rig.switch(`MASK ${rig.fmt(0b0101)}`, 0b0101);
      const bootMask = await rig.reset();
      assert.equal(bootMask, rig.fmt(0));
      assert.equal(await rig.state(), 0);
      const hello = await rig.helloNow();
      assert.notEqual(hello.bootId, rig.hello.bootId, 'HELLO boot= changes at every reset');
      assert.equal(hello.serial, rig.hello.serial, 'HELLO serial= survives a reset');
      rig.hello = hello;
    });

    test('STATE, SET, MASK, PING replies; lower-case masks accepted; ids echoed', async () => {
      const n = rig.channels;
      assert.equal((await rig.ok('PING', 1)).text, 'PONG');
      assert.equal((await rig.ok('PING', 65535)).text, 'PONG');
      assert.equal((await rig.ok('STATE', 40000)).text, rig.fmt(0));
      assert.equal(await rig.switch('SET 0 1'), 0b1);
      assert.equal(await rig.switch('SET 0 1'), 0b1, 'SET of a relay already on');
      assert.equal(await rig.switch(`SET ${n - 1} 1`), 2 ** (n - 1) + 1);
      assert.equal(await rig.switch('SET 0 0'), 2 ** (n - 1));
      assert.equal(await rig.switch('SET 0 0'), 2 ** (n - 1), 'SET of a relay already off');
      assert.equal(await rig.switch(`MASK ${rig.fmt(0)}`), 0);
      const pattern = 0xa5a5a5a5 % 2 ** n;
      assert.equal(await rig.switch(`MASK ${rig.fmt(pattern).toLowerCase()}`), pattern, 'lower-case mask');
      assert.equal(await rig.switch(`MASK ${rig.fmt(rig.all)}`), rig.all, 'every channel on');
      assert.equal(await rig.state(), rig.all);
      assert.equal(await rig.switch(`MASK ${rig.fmt(0)}`), 0);
      assert.equal((await rig.ok('STATE')).text, rig.fmt(0));
    });

    test('relay pins equal the reported mask after every SET and MASK reply', async () => {
      const random = seededRandom(7);
      let model = 0;
      for (let step = 0; step < 40; step++) {
        if (random() < 0.7) {
          const channel = Math.floor(random() * rig.channels);
          const on = random() < 0.5;
          const bit = 2 ** channel;
          model = on ? (model | bit) >>> 0 : (model & ~bit) >>> 0;
          assert.equal(await rig.switch(`SET ${channel} ${on ? 1 : 0}`), model);
        } else {
          model = Math.floor(random() * 2 ** rig.channels);
          assert.equal(await rig.switch(`MASK ${rig.fmt(model)}`), model);
        }
      }
      assert.equal(await rig.state(), model);
      await rig.switch(`MASK ${rig.fmt(0)}`, 0);
    });

    test('CURRENT: n whole milliamps (UNSUPPORTED without the current feature)', async () => {
      if (!rig.has('current')) {
        await rig.error(`${rig.id()} CURRENT\n`, 'UNSUPPORTED');
        return;
      }
      const { text } = await rig.ok('CURRENT');
      assert.equal(parseCurrents(text, rig.channels).length, rig.channels);
    });

    test('DEFAULT: query, store, store the same value again (UNSUPPORTED without persist)', async () => {
      if (!rig.has('persist')) {
        await rig.error(`${rig.id()} DEFAULT\n`, 'UNSUPPORTED');
        await rig.error(`${rig.id()} DEFAULT ${rig.fmt(1)}\n`, 'UNSUPPORTED');
        return;
      }
      const stored = 0b1010_0101 % 2 ** rig.channels;
      assert.equal((await rig.ok(`DEFAULT ${rig.fmt(stored)}`)).text, rig.fmt(stored));
      assert.equal((await rig.ok('DEFAULT')).text, rig.fmt(stored));
      assert.equal(
        (await rig.ok(`DEFAULT ${rig.fmt(stored)}`)).text,
        rig.fmt(stored),
        'the same value again',
      );
      assert.equal((await rig.ok('DEFAULT')).text, rig.fmt(stored));
      const other = 0b0011 | (2 ** (rig.channels - 1));
      assert.equal((await rig.ok(`DEFAULT ${rig.fmt(other).toLowerCase()}`)).text, rig.fmt(other));
      assert.equal((await rig.ok(`DEFAULT ${rig.fmt(stored)}`)).text, rig.fmt(stored));
      assert.equal(await rig.state(), 0, 'DEFAULT does not switch relays');
    });

    test('BADREQ: lines that do not parse are answered with the right id and change nothing', async () => {
      const n = rig.channels;
      // Bit 3 stays off: a channel number that wraps around (259, 65539, 2^32+3) would turn it on.
      const known = 0b0110_0001;
      await rig.switch(`MASK ${rig.fmt(known)}`, known);
      const defaultBefore = rig.has('persist') ? (await rig.ok('DEFAULT')).text : null;
      const zeros = rig.fmt(0);
      const cases: Array<[string, number]> = [
        ['HELLO', 0],
        ['PING', 0],
        ['0 PING', 0],
        ['0 SET 1 1', 0],
        ['65536 PING', 0],
        ['65539 SET 3 1', 0],
        ['4294967297 PING', 0],
        ['99999999999999999999 PING', 0],
        ['1a PING', 0],
        ['-1 PING', 0],
        ['+1 PING', 0],
        ['x PING', 0],
        [' 7 PING', 0],
        ['\xff\xfe PING', 0],
        ['8', 8],
        ['9 FOO', 9],
        ['10 ping', 10],
        ['11 PINGX', 11],
        ['12 PING x', 12],
        ['13 STATE 1', 13],
        ['14 HELLO x', 14],
        ['15 SET', 15],
        ['16 SET 1', 16],
        ['17 SET 1 1 1', 17],
        ['18 MASK', 18],
        [`19 MASK ${zeros} ${zeros}`, 19],
        ['22 PING ', 22],
        ['23 SET 3 1 ', 23],
        ['24  PING', 24],
        ['25 SET  3 1', 25],
        ['26 SET 3  1', 26],
        ['27 SET x 1', 27],
        ['28 SET 1 2', 28],
        ['29 SET -1 1', 29],
        ['30 SET 3 01', 30],
        ['31 SET 3 on', 31],
        ['32 SET 0x3 1', 32],
        ['33 SET 3 1\r', 33], // sent as \r\r\n: only the \r right before the \n is ignored
        ['34 PI\rNG', 34],
        ['35 PI\x00NG', 35],
        ['36 MASK 3', 36],
        [`37 MASK ${'0'.repeat(rig.digits - 1)}`, 37],
        [`38 MASK ${'0'.repeat(rig.digits + 1)}`, 38],
        [`39 MASK ${'0'.repeat(rig.digits - 1)}G`, 39],
        [`40 MASK ${'0'.repeat(rig.digits - 1)}g`, 40],
        [`41 MASK -${'0'.repeat(rig.digits - 1)}`, 41],
        [`42 MASK 0x${'0'.repeat(rig.digits - 2)}`, 42],
        [`43 MASK ${'0'.repeat(rig.digits - 1)} `, 43],
      ];
      // Without the feature, UNSUPPORTED may come before the arguments are looked at.
      if (rig.has('current')) cases.push(['20 CURRENT 1', 20]);
      if (rig.has('persist')) {
        cases.push(
          [`21 DEFAULT ${zeros} ${zeros}`, 21],
          [`44 DEFAULT ${'0'.repeat(rig.digits - 1)}`, 44],
          [`45 DEFAULT ${'0'.repeat(rig.digits + 1)}`, 45],
          [`46 DEFAULT ${'0'.repeat(rig.digits - 1)}Z`, 46],
        );
      }
      if (n % 4 !== 0) {
        // Bits above channel n-1 fit in the digits but are not channels.
        cases.push([`47 MASK ${rig.fmt(2 ** n)}`, 47], [`48 MASK ${rig.fmt(2 ** n - 1 + 2 ** n)}`, 48]);
        cases.push([`49 MASK ${'F'.repeat(rig.digits)}`, 49]);
        if (rig.has('persist')) cases.push([`50 DEFAULT ${rig.fmt(2 ** n)}`, 50]);
      }
      for (const [line, id] of cases) {
        await rig.error(`${line}${line.endsWith('\r') ? '\r\n' : '\n'}`, 'BADREQ', id);
        assert.equal(await rig.state(), known, `${show(line)} changed nothing`);
      }
      await rig.expectRelays(rig.fmt(known), (await rig.ok('STATE')).line);
      if (defaultBefore !== null) assert.equal((await rig.ok('DEFAULT')).text, defaultBefore);
    });

    test('masks with every channel set are valid; bits above channel n-1 are BADREQ', async () => {
      const n = rig.channels;
      assert.equal(await rig.switch(`MASK ${rig.fmt(rig.all)}`), rig.all);
      if (n % 4 !== 0) {
        await rig.error(`${rig.id()} MASK ${rig.fmt(2 ** n)}\n`, 'BADREQ');
        assert.equal(await rig.state(), rig.all);
      } else {
        // Every digit pattern is a valid mask: the highest digit reaches channel n-1.
        const top = 2 ** (n - 1);
        assert.equal(await rig.switch(`MASK ${rig.fmt(top)}`), top);
      }
      await rig.switch(`MASK ${rig.fmt(0)}`, 0);
    });

    test('BADCH: channel numbers out of range change nothing', async () => {
      const n = rig.channels;
      const known = 0b0110_0001;
      await rig.switch(`MASK ${rig.fmt(known)}`, known);
      const channels = [
        String(n),
        String(n + 1),
        '16',
        '32',
        '99',
        '259', // 3 + 256: wraps to 3 in a byte
        '65539', // 3 + 65536
        '4294967299', // 3 + 2^32
        '18446744073709551619', // 3 + 2^64
        '9'.repeat(60),
        `${'0'.repeat(40)}${n}`,
      ];
      for (const channel of channels) {
        for (const value of ['1', '0']) {
          const line = await rig.error(`${rig.id()} SET ${channel} ${value}\n`, 'BADCH');
          assert.ok(line.length < MAX_LINE_BYTES, line);
          assert.equal(await rig.state(), known, `SET ${channel} ${value} changed nothing`);
        }
      }
      await rig.expectRelays(rig.fmt(known), (await rig.ok('STATE')).line);
      await rig.switch(`MASK ${rig.fmt(0)}`, 0);
    });

    test('empty lines and \\r\\n line ends are tolerated; a line may arrive in pieces', async () => {
      // Any reply to an empty line would arrive before the PING's and be a mismatch.
      let id = rig.id();
      assert.equal((await client!.exchange(`\n\r\n\n${id} PING\n`)).reply.id, id);
      id = rig.id();
      const crlf = await client!.exchange(`${id} SET 2 1\r\n`);
      assert.equal(crlf.line, `${id} OK ${rig.fmt(0b100)}`);
      await rig.expectRelays(rig.fmt(0b100), crlf.line);
      id = rig.id();
      await client!.write(`${id} ST`);
      const { reply: pieces } = await client!.exchange('ATE\r\n', id);
      assert.deepEqual(pieces, { id, ok: true, text: rig.fmt(0b100) });
      await rig.switch(`MASK ${rig.fmt(0)}`, 0);
    });

    test('127 bytes of content are a line; 128 and 300 are too long: 0 ERR BADREQ, nothing applied', async () => {
      const limit = MAX_LINE_BYTES - 1;
      let id = rig.id();
      const longest = await client!.exchange(`${paddedSet(id, 3, limit)}\n`);
      assert.equal(longest.line, `${id} OK ${rig.fmt(0b1000)}`, `a ${limit}-byte line`);
      await rig.expectRelays(rig.fmt(0b1000), longest.line);
      // The \r counts: 126 bytes + \r + \n is fine, 127 + \r + \n is not.
      id = rig.id();
      const withCr = await client!.exchange(`${paddedSet(id, 1, limit - 1)}\r\n`);
      assert.equal(withCr.line, `${id} OK ${rig.fmt(0b1010)}`, `${limit - 1} bytes + \\r`);
      await rig.expectRelays(rig.fmt(0b1010), withCr.line);

      const tooLong = [
        `${paddedSet(rig.id(), 4, limit + 1)}\n`,
        `${paddedSet(rig.id(), 4, limit)}\r\n`,
        `${paddedSet(rig.id(), 4, 300)}\n`,
        `${rig.id()} MASK ${rig.fmt(rig.all)}${' '.repeat(200)}\n`,
      ];
      for (const bytes of tooLong) {
        const { line: answer } = await client!.exchange(bytes, 0);
        assert.equal(answer, '0 ERR BADREQ line too long', `a ${bytes.length - 1}-byte line`);
        assert.equal(await rig.state(), 0b1010, 'nothing of it was applied');
      }
      await rig.expectRelays(rig.fmt(0b1010), (await rig.ok('STATE')).line);
      await rig.switch(`MASK ${rig.fmt(0)}`, 0);
    });

    test('CURRENT: a 1 A load reads within 5 %, off channels near 0', async () => {
      if (!rig.has('current')) {
        await rig.error(`${rig.id()} CURRENT\n`, 'UNSUPPORTED');
        return;
      }
      const [a, b] = [1, rig.channels - 3];
      await board!.setLoad(a, 1000);
      await board!.setLoad(b, 2000);
      await rig.switch(`MASK ${rig.fmt(0)}`, 0);
      await rig.switch(`SET ${a} 1`);
      const on = await rig.switch(`SET ${b} 1`);
      const check = (values: number[]): string | null => {
        if (Math.abs(values[a]! - 1000) > 50) return `channel ${a} (1000 mA load) reads ${values[a]}`;
        if (Math.abs(values[b]! - 2000) > 100) return `channel ${b} (2000 mA load) reads ${values[b]}`;
        const high = values.findIndex((value, channel) => (on & (2 ** channel)) === 0 && value > 30);
        if (high !== -1) return `channel ${high} is off but reads ${values[high]} mA`;
        return null;
      };
      await rig.settledCurrents(check);
      // And the telemetry says the same.
      const telemetry = await client!.nextEvent((event) => event.event.kind === 'CURRENT', TELEMETRY_WAIT_MS);
      assert.equal(telemetry.event.kind, 'CURRENT');
      if (telemetry.event.kind === 'CURRENT')
        assert.equal(check(telemetry.event.values), null, telemetry.line);
      await rig.switch(`SET ${a} 0`);
      await rig.switch(`SET ${b} 0`, 0);
    });

    test('telemetry: ! CURRENT with n values arrives (none without the current feature)', async () => {
      if (!rig.has('current')) {
        const telemetry = client!.events.filter((event) => event.event.kind === 'CURRENT');
        assert.deepEqual(telemetry, [], 'no ! CURRENT without the current feature');
        return;
      }
      const event = await client!.nextEvent((event) => event.event.kind === 'CURRENT', TELEMETRY_WAIT_MS);
      assert.equal(event.event.kind === 'CURRENT' && event.event.values.length, rig.channels, event.line);
    });

    test('reset: ! BOOT with the stored mask, STATE and pins equal it, a new boot id, DEFAULT kept', async () => {
      const stored = rig.has('persist') ? parseMask((await rig.ok('DEFAULT')).text, rig.channels) : 0;
      await rig.switch(`MASK ${rig.fmt(stored ^ rig.all)}`);
      const bootMask = await rig.reset();
      assert.equal(bootMask, rig.fmt(stored));
      assert.equal(await rig.state(), stored);
      const hello = await rig.helloNow();
      assert.notEqual(hello.bootId, rig.hello.bootId, 'HELLO boot= changes at every reset');
      assert.equal(hello.channels, rig.hello.channels);
      assert.equal(hello.serial, rig.hello.serial, 'HELLO serial= survives a reset');
      rig.hello = hello;
      if (rig.has('persist')) {
        assert.equal((await rig.ok('DEFAULT')).text, rig.fmt(stored), 'DEFAULT survives a reset');
        // A new value, then a second reset: the board powers up with it.
        const next = 0b0110 | (2 ** (rig.channels - 2));
        assert.equal((await rig.ok(`DEFAULT ${rig.fmt(next)}`)).text, rig.fmt(next));
        assert.equal(await rig.reset(), rig.fmt(next));
        assert.equal(await rig.state(), next);
        const after = await rig.helloNow();
        assert.equal(after.serial, rig.hello.serial, 'storing a power-up mask leaves the serial alone');
        rig.hello = after;
      }
    });

    if (options.timing) {
      test('timing: every reply starts within 5 ms (simulated) of its request, while sampling and telemetry run', async (t) => {
        assert.ok(board!.replyLatenciesUs, 'the board reports reply latencies');
        const random = seededRandom(11);
        const telemetrySince = client!.events.length;
        const started = performance.now();
        let requests = 0;
        const telemetryCount = () =>
          client!.events.slice(telemetrySince).filter((event) => event.event.kind === 'CURRENT').length;
        const held = () => board!.repliesHeldByEvents?.() ?? 0;
        const heldBefore = held();
        const enough = () => requests >= 300 && telemetryCount() >= 3 && held() > heldBefore;
        while (!enough() && performance.now() - started < 10_000) {
          const channel = Math.floor(random() * rig.channels);
          switch (requests % 6) {
            case 0:
              await rig.switch(`SET ${channel} 1`);
              break;
            case 1:
            case 4:
              parseCurrents((await rig.ok('CURRENT')).text, rig.channels);
              break;
            case 2:
              await rig.switch(`SET ${channel} 0`);
              break;
            case 3:
              await rig.error(`${rig.id()} SET 99 1\n`, 'BADCH');
              break;
            default:
              await rig.ok(random() < 0.5 ? 'STATE' : 'PING');
          }
          requests++;
        }
        assert.ok(telemetryCount() >= 3, `${telemetryCount()} ! CURRENT during ${requests} requests`);
        assert.ok(held() > heldBefore, 'a request arrived while a ! CURRENT was being sent');
        const latencies = board!.replyLatenciesUs();
        assert.ok(latencies.length >= requests, `${latencies.length} latencies for ${requests}+ requests`);
        const sorted = [...latencies].sort((x, y) => x - y);
        const worst = sorted.at(-1)!;
        t.diagnostic(
          `${latencies.length} replies: median ${sorted[sorted.length >> 1]} µs, worst ${worst} µs (simulated); ` +
            `${held()} waited for an event line already on the wire`,
        );
        assert.ok(worst <= 5000, `worst reply latency ${worst} µs > 5000 µs`);
        await rig.switch(`MASK ${rig.fmt(0)}`, 0);
      });
    }

    if (options.watchdog) {
      test('watchdog: a hung board resets itself and says ! BOOT with the stored mask', async () => {
        assert.ok(board!.hang && board!.bootCause, 'the board can be hung and reports boot causes');
        const stored = rig.has('persist') ? parseMask((await rig.ok('DEFAULT')).text, rig.channels) : 0;
        await rig.switch(`MASK ${rig.fmt(stored ^ rig.all)}`);
        const bootMask = await rig.reset(() => board!.hang!(), 15_000);
        assert.equal(bootMask, rig.fmt(stored));
        assert.equal(board!.bootCause!(), 'watchdog');
        assert.equal(await rig.state(), stored);
        const hello = await rig.helloNow();
        assert.notEqual(hello.bootId, rig.hello.bootId, 'HELLO boot= changes after a watchdog reset');
        assert.equal(hello.serial, rig.hello.serial, 'HELLO serial= survives a watchdog reset');
        rig.hello = hello;
      });
    }
  });
}
