/**
 * The board simulator as its own process, so the real serial code can talk
 * to it through a real pty:
 *
 *   npm run simulator -- --pty /tmp/pipdu-board      (spawns socat for the pty)
 *   socat pty,raw,echo=0,link=/tmp/pipdu-board EXEC:"npx tsx hardware/simulator-cli.ts --stdio"
 *
 * In --pty mode stdout carries one JSON object per line for observers (tests)
 * and stdin takes control lines; in --stdio mode stdin/stdout are the serial
 * line, the JSON goes to stderr and control is by signals only. SIGUSR1 =
 * power loss (reset); SIGTERM/SIGINT = clean exit. Run with `--help` for all
 * options.
 *
 * Things worth knowing:
 * - --pty: the power-up `! BOOT` is not written to the pty (see runPty); the
 *   `boot` JSON event still says the board powered up. Later resets are sent.
 * - --pty: if this process dies, even by SIGKILL, socat sees EOF on its stdin
 *   and exits within ~50 ms, removing the link; a client's port then closes.
 * - Signals go to the pid in the `ready` event: under `npm run`, tsx relays
 *   only SIGINT/SIGTERM, and a SIGTERM to npm itself orphans the simulator.
 * - --stdio under `npm run` needs `npm run --silent`, or npm's banner lands
 *   on the serial line (hosts ignore it as garbage, but still).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { lstatSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LegacySimulatedBoard, type LegacyTelemetryFormat } from './legacy-simulated-board.js';
import type { BoardFeature } from './relay-board.js';
import { seededRandom } from './seeded-random.js';
import { LcusDevice } from './sim/lcus-device.js';
import { ModbusDevice } from './sim/modbus-device.js';
import { NumatoDevice } from './sim/numato-device.js';
import type { RelayDevice } from './sim/relay-device.js';
import { SimulatedBoard } from './simulated-board.js';

const USAGE = `usage: simulator-cli (--pty <path> | --stdio) [options]

  --pty <path>            create a pty (via socat) linked at <path>; a client opens <path>
  --stdio                 speak the protocol on stdin/stdout (JSON events go to stderr)
  --board <kind>          prp1 (default), legacy, numato, lcus or modbus: the device to simulate
  --legacy                the same as --board legacy
  --format comma|space    legacy telemetry format (default comma)
  --crlf                  legacy: end telemetry lines with \\r\\n
  --power-up-mask <hex>   the stored power-up mask (default: none stored = all off)
  --eeprom <file>         keep the stored power-up mask and the serial in <file> (read at start,
                          written at start and on DEFAULT): the same board across processes
  --serial <hex>          HELLO serial=, 8..16 hex digits (default: generated, kept with --eeprom)
  --no-serial             no serial= in HELLO, as a firmware older than serial=
  --set-delay <ms>        a slow board: SET and MASK switch and answer only after <ms>, and
                          later requests wait their turn (default 0)
  --telemetry <ms>        telemetry period, e.g. 1000, 250ms, 1s; 0 = none (default 1000, legacy 500)
  --seed <n>              seed the noise on current readings and reply drops
  --channels <n>          channels: PRP/1 1..32 (default 16), numato 1,2,4,8,16,32 (default 8),
                          lcus 1,2,4,8 (default 4), modbus 8,16,32 (default 8)
  --id <text>             numato: what \`id get\` answers, 8 characters (default 00000001)
  --slave <n>             modbus: the slave id, 1..247 (default 1)
  --features <list>       PRP/1 features, comma separated, may be empty (default current,persist)
  --firmware <version>    PRP/1 fw= (default 1.0.0-sim)
  --reply-delay <ms>      delay before every reply (default 0)
  --exit-with-stdin       --pty: exit when stdin (the control channel) closes

--pty: stdout has one JSON event per line (ready, boot, request, relays, default,
control); the power-up ! BOOT is not written to the pty (nobody listens yet), later
resets' are. Control lines on stdin: mute, unmute, drop <0..1>, delay <ms>,
set-delay <ms>, garbage <text>, event <text>, reset, load <channel> <mA>, load-step <channel>
<mA> <after-ms>, load-die <channel> [<after-ms>], load-surge <channel> <mA> <for-ms>, exit; each is
acknowledged with a {"event":"control"} line. SIGUSR1 (to the pid in "ready") resets
the board. numato, lcus and modbus take mute, unmute, garbage <text>, reset (power loss:
all relays off) and exit; modbus also corrupt (the next reply's CRC is wrong).`;

type Board = SimulatedBoard | LegacySimulatedBoard | RelayDevice;

const BOARD_KINDS = ['prp1', 'legacy', 'numato', 'lcus', 'modbus'] as const;
type BoardKind = (typeof BOARD_KINDS)[number];
type Json = Record<string, unknown>;

class UsageError extends Error {}

interface CliOptions {
  mode: 'pty' | 'stdio';
  ptyPath: string;
  kind: BoardKind;
  legacy: boolean;
  id: string | undefined;
  slave: number | undefined;
  format: LegacyTelemetryFormat;
  crlf: boolean;
  powerUpMask: number | null;
  eeprom: string | null;
  telemetryMs: number | undefined;
  seed: number | undefined;
  channels: number;
  features: BoardFeature[] | undefined;
  firmware: string | undefined;
  replyDelayMs: number;
  setDelayMs: number;
  /** undefined: generated (or the --eeprom file's); null: none. */
  serial: string | null | undefined;
  exitWithStdin: boolean;
}

function parseCli(argv: string[]): CliOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      pty: { type: 'string' },
      stdio: { type: 'boolean', default: false },
      board: { type: 'string' },
      id: { type: 'string' },
      slave: { type: 'string' },
      legacy: { type: 'boolean', default: false },
      format: { type: 'string' },
      crlf: { type: 'boolean', default: false },
      'power-up-mask': { type: 'string' },
      eeprom: { type: 'string' },
      telemetry: { type: 'string' },
      seed: { type: 'string' },
      channels: { type: 'string' },
      features: { type: 'string' },
      firmware: { type: 'string' },
      'reply-delay': { type: 'string' },
      'set-delay': { type: 'string' },
      serial: { type: 'string' },
      'no-serial': { type: 'boolean', default: false },
      'exit-with-stdin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if ((values.pty === undefined) === !values.stdio)
    throw new UsageError('give exactly one of --pty <path> or --stdio');
  if (values.board !== undefined && !(BOARD_KINDS as readonly string[]).includes(values.board))
    throw new UsageError(`--board must be one of ${BOARD_KINDS.join(', ')}, got "${values.board}"`);
  if (values.legacy && values.board !== undefined && values.board !== 'legacy')
    throw new UsageError(`--legacy and --board ${values.board} contradict each other`);
  const kind: BoardKind = values.legacy ? 'legacy' : ((values.board as BoardKind | undefined) ?? 'prp1');
  values.legacy = kind === 'legacy';
  if (values.id !== undefined && kind !== 'numato') throw new UsageError('--id is for --board numato');
  if (values.id !== undefined && !/^[\x21-\x7e]{8}$/.test(values.id))
    throw new UsageError(`--id must be 8 printable characters, got "${values.id}"`);
  if (values.slave !== undefined && kind !== 'modbus') throw new UsageError('--slave is for --board modbus');
  if (kind === 'numato' || kind === 'lcus' || kind === 'modbus') {
    for (const flag of [
      'power-up-mask',
      'eeprom',
      'features',
      'firmware',
      'reply-delay',
      'set-delay',
      'serial',
      'telemetry',
      'seed',
      'format',
    ] as const) {
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} is for the PRP/1 or legacy board, not --board ${kind}`);
    }
    if (values['no-serial'] || values.crlf)
      throw new UsageError(`--no-serial and --crlf are not for --board ${kind}`);
  } else if (values.legacy) {
    for (const flag of [
      'power-up-mask',
      'eeprom',
      'channels',
      'features',
      'firmware',
      'reply-delay',
      'set-delay',
      'serial',
    ] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} is for the PRP/1 board, not --legacy`);
    }
    if (values['no-serial']) throw new UsageError('--no-serial is for the PRP/1 board, not --legacy');
  } else if (values.format !== undefined || values.crlf) {
    throw new UsageError('--format and --crlf are for --legacy');
  }
  if (values.serial !== undefined && values['no-serial'])
    throw new UsageError('give --serial <hex> or --no-serial, not both');
  if (values.serial !== undefined && !SERIAL.test(values.serial))
    throw new UsageError(`--serial must be 8 to 16 hex digits, got "${values.serial}"`);
  const format = values.format ?? 'comma';
  if (format !== 'comma' && format !== 'space') throw new UsageError('--format must be comma or space');
  let ptyPath = '';
  if (values.pty !== undefined) {
    ptyPath = path.resolve(values.pty);
    // socat address syntax: these would be read as separators or quotes.
    if (/[\s,:!"'\\{}[\]()]/.test(ptyPath))
      throw new UsageError(`--pty path must not contain spaces or ,:!"'\\{}[]()`);
  }
  const features =
    values.features === undefined
      ? undefined
      : values.features.split(',').filter((feature) => feature !== '');
  for (const feature of features ?? []) {
    if (feature !== 'current' && feature !== 'persist') throw new UsageError(`unknown feature ${feature}`);
  }
  return {
    mode: values.stdio ? 'stdio' : 'pty',
    ptyPath,
    kind,
    legacy: values.legacy,
    id: values.id,
    slave: values.slave === undefined ? undefined : parseInteger(values.slave, '--slave'),
    format,
    crlf: values.crlf,
    powerUpMask:
      values['power-up-mask'] === undefined ? null : parseHexMask(values['power-up-mask'], '--power-up-mask'),
    eeprom: values.eeprom === undefined ? null : path.resolve(values.eeprom),
    telemetryMs: values.telemetry === undefined ? undefined : parseMs(values.telemetry, '--telemetry'),
    seed: values.seed === undefined ? undefined : parseInteger(values.seed, '--seed'),
    channels:
      values.channels === undefined
        ? { prp1: 16, legacy: 16, numato: 8, lcus: 4, modbus: 8 }[kind]
        : parseInteger(values.channels, '--channels'),
    features: features as BoardFeature[] | undefined,
    firmware: values.firmware,
    replyDelayMs: values['reply-delay'] === undefined ? 0 : parseMs(values['reply-delay'], '--reply-delay'),
    setDelayMs: values['set-delay'] === undefined ? 0 : parseMs(values['set-delay'], '--set-delay'),
    serial: values['no-serial'] ? null : values.serial?.toUpperCase(),
    exitWithStdin: values['exit-with-stdin'],
  };
}

function parseHexMask(text: string, what: string): number {
  if (!/^[0-9A-Fa-f]{1,8}$/.test(text)) throw new UsageError(`${what} must be a hex mask, got "${text}"`);
  return Number.parseInt(text, 16);
}

function parseInteger(text: string, what: string): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`${what} must be a whole number, got "${text}"`);
  return Number(text);
}

/** `250`, `250ms` or `2s`, in milliseconds. */
function parseMs(text: string, what: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s)?$/.exec(text);
  if (!match) throw new UsageError(`${what} must be a duration like 250, 250ms or 1s, got "${text}"`);
  return Math.round(Number(match[1]) * (match[2] === 's' ? 1000 : 1));
}

/** HELLO serial=, as the --serial option takes it (any case). */
const SERIAL = /^[0-9A-Fa-f]{8,16}$/;

/**
 * The --eeprom file: the stored power-up mask on the first line (empty: none
 * stored), then optionally `serial=<hex>`.
 */
interface Eeprom {
  powerUpMask: number | null;
  serial: string | null;
}

function readEeprom(file: string): Eeprom {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { powerUpMask: null, serial: null };
    throw error;
  }
  const [first = '', ...rest] = text.split('\n').map((line) => line.trim());
  const powerUpMask = first === '' ? null : parseHexMask(first, `eeprom file ${file}`);
  let serial: string | null = null;
  for (const line of rest) {
    if (line === '') continue;
    const match = /^serial=([0-9A-F]{8,16})$/.exec(line);
    if (!match) throw new UsageError(`eeprom file ${file}: "${line}" is not serial=<8..16 hex digits>`);
    serial = match[1]!;
  }
  return { powerUpMask, serial };
}

/** Atomic, synchronous: the file holds the mask before the DEFAULT reply leaves. */
function writeEeprom(file: string, eeprom: { powerUpMask: string | null; serial: string | null }): void {
  const temporary = `${file}.${process.pid}.tmp`;
  const serial = eeprom.serial === null ? '' : `serial=${eeprom.serial}\n`;
  writeFileSync(temporary, `${eeprom.powerUpMask ?? ''}\n${serial}`);
  renameSync(temporary, file);
}

/** `serial` for the ready event (PRP/1 boards only; null = none). */
function serialOf(board: Board): { serial?: string | null } {
  return board instanceof SimulatedBoard ? { serial: board.serial } : {};
}

/** The board's non-volatile memory as the --eeprom file keeps it. */
function saveEeprom(file: string, board: SimulatedBoard): void {
  const mask = board.storedPowerUpMask;
  writeEeprom(file, { powerUpMask: mask === null ? null : board.formatMask(mask), serial: board.serial });
}

function formatMask(board: Board, mask: number): string {
  if (board instanceof SimulatedBoard) return board.formatMask(mask);
  const digits = board instanceof LegacySimulatedBoard ? 4 : Math.ceil(board.channels / 4);
  return mask.toString(16).toUpperCase().padStart(digits, '0');
}

/** The Numato, LCUS and Modbus device models; null for the PRP/1 and legacy boards. */
function relayDevice(opts: CliOptions): RelayDevice | null {
  switch (opts.kind) {
    case 'numato':
      return new NumatoDevice({ channels: opts.channels, ...(opts.id === undefined ? {} : { id: opts.id }) });
    case 'lcus':
      return new LcusDevice({ channels: opts.channels });
    case 'modbus':
      return new ModbusDevice({
        channels: opts.channels,
        ...(opts.slave === undefined ? {} : { slaveId: opts.slave }),
      });
    default:
      return null;
  }
}

/** How to point the daemon at the simulated device, for the banner. */
function boardConfigHint(opts: CliOptions, link: string): string {
  switch (opts.kind) {
    case 'legacy':
      return `board: { driver: legacy, port: ${link}, baudRate: 9600 }`;
    case 'prp1':
      return `board: { driver: prp1, port: ${link} }`;
    case 'modbus':
      return `board: { driver: modbus, port: ${link}, channels: ${opts.channels}, slaveId: ${opts.slave ?? 1} }`;
    default:
      return `board: { driver: ${opts.kind}, port: ${link}, channels: ${opts.channels} }`;
  }
}

async function main(): Promise<number> {
  let options: CliOptions | 'help';
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`simulator: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const opts = options;
  const random = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
  let board: Board;
  let device: RelayDevice | null;
  try {
    device = relayDevice(opts);
  } catch (error) {
    process.stderr.write(`simulator: ${(error as Error).message}\n`);
    return 2;
  }
  if (device) {
    board = device;
  } else if (opts.legacy) {
    board = new LegacySimulatedBoard({
      format: opts.format,
      crlf: opts.crlf,
      random,
      ...(opts.telemetryMs === undefined ? {} : { telemetryIntervalMs: opts.telemetryMs }),
    });
  } else {
    let powerUpMask = opts.powerUpMask;
    let serial = opts.serial;
    try {
      if (opts.eeprom !== null) {
        const stored = readEeprom(opts.eeprom);
        powerUpMask = stored.powerUpMask ?? powerUpMask;
        if (serial === undefined && stored.serial !== null) serial = stored.serial;
      }
      board = new SimulatedBoard({
        channels: opts.channels,
        powerUpMask,
        random,
        replyDelayMs: opts.replyDelayMs,
        setDelayMs: opts.setDelayMs,
        ...(serial === undefined ? {} : { serial }),
        ...(opts.features === undefined ? {} : { features: opts.features }),
        ...(opts.firmware === undefined ? {} : { firmware: opts.firmware }),
        ...(opts.telemetryMs === undefined ? {} : { telemetryIntervalMs: opts.telemetryMs }),
      });
      if (opts.eeprom !== null) saveEeprom(opts.eeprom, board);
    } catch (error) {
      process.stderr.write(`simulator: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const sim = new SimulatorProcess(opts, board);
  return sim.run();
}

class SimulatorProcess {
  private socat: ChildProcess | null = null;
  private shuttingDown = false;
  private readonly exited: Promise<number>;
  private finish: (code: number) => void = () => {};

  constructor(
    private readonly options: CliOptions,
    private readonly board: Board,
  ) {
    this.exited = new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  async run(): Promise<number> {
    const { board } = this;
    board.on('request', (line) => this.json({ event: 'request', line }));
    board.on('relays', (mask) => this.json({ event: 'relays', mask: formatMask(board, mask) }));
    board.on('boot', (mask, bootId) => this.json({ event: 'boot', mask: formatMask(board, mask), bootId }));
    if (board instanceof SimulatedBoard) {
      board.on('powerUpMaskStored', (mask) => {
        const text = board.formatMask(mask);
        if (this.options.eeprom !== null) {
          try {
            saveEeprom(this.options.eeprom, board);
          } catch (error) {
            this.diagnostic(`could not write ${this.options.eeprom}: ${(error as Error).message}`);
          }
        }
        this.json({ event: 'default', mask: text });
      });
    }
    process.on('SIGUSR1', () => board.reset());
    process.on('SIGTERM', () => this.shutdown(0));
    process.on('SIGINT', () => this.shutdown(0));

    if (this.options.mode === 'stdio') this.runStdio();
    else await this.runPty();
    return this.exited;
  }

  private runStdio(): void {
    const { board } = this;
    board.on('output', (line) => {
      if (!this.shuttingDown) process.stdout.write(Buffer.from(line, 'latin1'));
    });
    process.stdout.on('error', (error) => {
      this.diagnostic(`stdout: ${error.message}`);
      this.shutdown(0);
    });
    process.stdin.on('data', (chunk: Buffer) => board.receive(chunk.toString('latin1')));
    process.stdin.on('end', () => this.shutdown(0));
    process.stdin.on('error', () => this.shutdown(0));
    board.start();
    this.json({ event: 'ready', path: null, bootId: board.bootId, ...serialOf(board), pid: process.pid });
  }

  private async runPty(): Promise<void> {
    const { board, options } = this;
    const link = options.ptyPath;
    removeStaleLink(link, (message) => this.diagnostic(message));
    // -t: after our side closes (even on SIGKILL: EOF on its stdin), linger only briefly.
    const socat = spawn('socat', ['-t', '0.05', `PTY,link=${link},raw,echo=0`, 'STDIO'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.socat = socat;
    socat.stdin.on('error', () => {}); // EPIPE once socat is gone: its exit is handled below
    socat.on('error', (error) => {
      this.diagnostic(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'socat is not installed (apt-get install socat)'
          : `socat: ${error.message}`,
      );
      this.shutdown(1);
    });
    socat.on('exit', (code, signal) => {
      this.socat = null;
      if (!this.shuttingDown) {
        this.diagnostic(`socat exited (${signal ?? `code ${code}`}): the pty is gone`);
        this.shutdown(1);
      }
    });
    socat.stdout.on('data', (chunk: Buffer) => board.receive(chunk.toString('latin1')));
    let swallowStartupBoot = false;
    board.on('output', (line) => {
      if (swallowStartupBoot && line.startsWith('! BOOT ')) {
        swallowStartupBoot = false;
        return;
      }
      if (this.socat && !this.shuttingDown) socat.stdin.write(Buffer.from(line, 'latin1'));
    });

    const controls = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    controls.on('line', (line) => this.control(line));
    process.stdin.on('error', () => {});
    if (options.exitWithStdin) process.stdin.on('end', () => this.shutdown(0));

    const deadline = Date.now() + 5000;
    while (!isSymlink(link)) {
      if (this.shuttingDown) return;
      if (Date.now() > deadline) {
        this.diagnostic(`socat did not create ${link} within 5 s`);
        this.shutdown(1);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (this.shuttingDown) return;
    // The power-up `! BOOT` is not written to the pty. Nobody can be listening
    // yet (clients open after `ready`), and serialport flushes the input when
    // it opens, so it would be lost anyway, unless it happened to reach the
    // pty after that flush: then a client would see a "reset right after
    // open" at random. Dropping it makes that deterministic; every later
    // reset's `! BOOT` is sent.
    swallowStartupBoot = true;
    board.start();
    setImmediate(() => {
      swallowStartupBoot = false; // the boot line, if any, was emitted by now
    });
    this.json({ event: 'ready', path: link, bootId: board.bootId, ...serialOf(board), pid: process.pid });
    const names = {
      prp1: 'PRP/1 board',
      legacy: 'legacy firmware',
      numato: 'Numato module',
      lcus: 'LCUS board',
      modbus: 'Modbus RTU board',
    };
    const device = options.kind === 'numato' || options.kind === 'lcus' || options.kind === 'modbus';
    process.stderr.write(
      `${names[options.kind]} simulator on ${link} (pid ${process.pid})\n` +
        `  point the daemon at it:  ${boardConfigHint(options, link)}\n` +
        `  power loss: kill -USR1 ${process.pid}, or type "reset"; other control lines: mute, unmute,\n` +
        (device
          ? `  garbage <text>${options.kind === 'modbus' ? ', corrupt' : ''}, exit\n`
          : '  drop <0..1>, delay <ms>, set-delay <ms>, garbage <text>, event <text>, load <channel> <mA>,\n' +
            '  load-step <channel> <mA> <after-ms>, load-die <channel> [<after-ms>], load-surge <channel> <mA> <for-ms>, exit\n'),
    );
  }

  private control(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    const { board } = this;
    const space = line.indexOf(' ');
    const word = space === -1 ? line : line.slice(0, space);
    const rest = space === -1 ? '' : raw.slice(raw.indexOf(word) + word.length + 1);
    const args = line.split(/\s+/).slice(1);
    const prp1 = board instanceof SimulatedBoard ? board : null;
    const number = (text: string | undefined) =>
      text !== undefined && text !== '' ? Number(text) : Number.NaN;
    let error: string | null = null;
    switch (word) {
      case 'mute':
        board.faults.muted = true;
        break;
      case 'unmute':
        board.faults.muted = false;
        break;
      case 'drop': {
        const probability = number(args[0]);
        if (!prp1) error = 'drop is for the PRP/1 board';
        else if (args.length !== 1 || !(probability >= 0 && probability <= 1)) error = 'usage: drop <0..1>';
        else prp1.faults.dropProbability = probability;
        break;
      }
      case 'delay': {
        const ms = number(args[0]);
        if (!prp1) error = 'delay is for the PRP/1 board';
        else if (args.length !== 1 || !(ms >= 0)) error = 'usage: delay <ms>';
        else prp1.faults.extraDelayMs = ms;
        break;
      }
      case 'set-delay': {
        const ms = number(args[0]);
        if (!prp1) error = 'set-delay is for the PRP/1 board';
        else if (args.length !== 1 || !(ms >= 0)) error = 'usage: set-delay <ms>';
        else prp1.setDelayMs = ms;
        break;
      }
      case 'garbage':
        board.sendGarbage(rest);
        break;
      case 'event':
        if (!prp1) error = 'event is for the PRP/1 board';
        else if (rest === '') error = 'usage: event <text>';
        else prp1.sendEvent(rest);
        break;
      case 'reset':
        board.reset();
        break;
      case 'corrupt':
        if (board instanceof ModbusDevice) board.corruptNextReply = true;
        else error = 'corrupt is for the Modbus board';
        break;
      case 'load': {
        try {
          if (args.length !== 2) throw new Error('usage: load <channel> <mA>');
          board.setLoad(number(args[0]), number(args[1]));
        } catch (caught) {
          error = (caught as Error).message;
        }
        break;
      }
      case 'load-step':
      case 'load-die':
      case 'load-surge': {
        try {
          if (!prp1) throw new Error(`${word} is for the PRP/1 board`);
          const usage = {
            'load-step': 'usage: load-step <channel> <mA> <after-ms>',
            'load-die': 'usage: load-die <channel> [<after-ms>]',
            'load-surge': 'usage: load-surge <channel> <mA> <for-ms>',
          }[word as 'load-step' | 'load-die' | 'load-surge'];
          if (word === 'load-die') {
            if (args.length < 1 || args.length > 2) throw new Error(usage);
            prp1.loadEvent(number(args[0]), { kind: 'step', milliamps: 0, afterMs: number(args[1] ?? '0') });
          } else {
            if (args.length !== 3) throw new Error(usage);
            const [channel, milliamps, ms] = [number(args[0]), number(args[1]), number(args[2])];
            prp1.loadEvent(
              channel,
              word === 'load-step'
                ? { kind: 'step', milliamps, afterMs: ms }
                : { kind: 'surge', milliamps, forMs: ms },
            );
          }
        } catch (caught) {
          error = (caught as Error).message;
        }
        break;
      }
      case 'exit':
        this.json({ event: 'control', line, ok: true });
        this.shutdown(0);
        return;
      default:
        error = `unknown control line (mute, unmute, drop, delay, set-delay, garbage, event, reset, load, load-step, load-die, load-surge, corrupt, exit)`;
    }
    this.json(
      error === null ? { event: 'control', line, ok: true } : { event: 'control', line, ok: false, error },
    );
    if (error !== null) this.diagnostic(`${line}: ${error}`);
  }

  private shutdown(code: number): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.board.stop();
    const socat = this.socat;
    if (!socat) {
      this.finish(code);
      return;
    }
    // SIGTERM makes socat remove the link before it exits.
    const force = setTimeout(() => socat.kill('SIGKILL'), 2000);
    socat.once('exit', () => {
      clearTimeout(force);
      this.finish(code);
    });
    socat.kill('SIGTERM');
  }

  /** Observer JSON: stdout in --pty mode, stderr in --stdio mode (stdout is the serial line there). */
  private json(event: Json): void {
    const stream = this.options.mode === 'pty' ? process.stdout : process.stderr;
    // `at`: milliseconds on this process's monotonic clock, so observers can time what the board saw.
    stream.write(`${JSON.stringify({ ...event, at: Math.round(performance.now() * 1000) / 1000 })}\n`);
  }

  private diagnostic(message: string): void {
    process.stderr.write(`simulator: ${message}\n`);
  }
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A link left by a socat that was killed dangles (or points at a reused pty): replace it. */
function removeStaleLink(file: string, warn: (message: string) => void): void {
  let stats: ReturnType<typeof lstatSync>;
  try {
    stats = lstatSync(file);
  } catch {
    return;
  }
  if (!stats.isSymbolicLink()) throw new Error(`${file} exists and is not a symlink: refusing to replace it`);
  warn(`replacing the old link ${file}`);
  unlinkSync(file);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`simulator: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
