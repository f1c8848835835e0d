import { isIP } from 'node:net';
import { z } from 'zod';
import {
  BOARD_DRIVER_INFO,
  BOARD_DRIVERS,
  type BoardDriverName,
  CHANNEL_COUNT_DRIVERS,
} from './board-drivers.js';
import { MAX_DURATION_MS, parseDuration, tryParseByteSize, tryParseDuration } from './duration.js';
import { isLoopbackHost, parseListen } from './listen.js';
import { parsePasswordHash } from './password-hash.js';

/**
 * The configuration file's one definition: the zod schema below gives the
 * types (z.output), the defaults and the validation. Durations resolve to
 * milliseconds, sizes to bytes, `sockets` to all 16 sockets in number order.
 *
 * Cross-field checks (duplicates, board.port, host key pinning, ...) run even
 * when other parts of the file are invalid (`whenMapping`, `whenList`), so one run
 * reports every problem; they therefore read their input defensively.
 */

// ---------------------------------------------------------------- building blocks

/**
 * Run a refinement even if something else in the value already failed, as
 * long as the value is the right container (a mapping, a list) to look into.
 */
const whenMapping = {
  when: ({ value }: { value: unknown }) =>
    typeof value === 'object' && value !== null && !Array.isArray(value),
};
const whenList = { when: ({ value }: { value: unknown }) => Array.isArray(value) };

const NAME = /^[a-z][a-z0-9-]*$/;

/**
 * A strict mapping: an unknown key is an error (a typo must not be silently
 * ignored), with a suggestion when a known key is close. `hints` explains
 * keys that are deliberately absent (such as discord.token).
 *
 * zod reports all unknown keys of one mapping as a single issue; its message
 * holds one line per key, in `keys` order, which validateConfig splits again.
 */
function section<S extends z.core.$ZodLooseShape>(
  shape: S,
  options: { hints?: Record<string, string>; expected?: string } = {},
) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        return iss.keys.map((key) => options.hints?.[key] ?? unknownKeyMessage(key, known)).join('\n');
      }
      if (iss.code === 'invalid_type' && options.expected) return `expected ${options.expected}`;
      return undefined;
    },
  });
}

function unknownKeyMessage(key: string, known: string[]): string {
  const close = known
    .map((candidate) => ({ candidate, distance: editDistance(key.toLowerCase(), candidate.toLowerCase()) }))
    .filter(({ candidate, distance }) => distance <= Math.max(1, Math.floor(candidate.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (close) return `unknown key, did you mean \`${close.candidate}\`?`;
  return `unknown key; expected one of ${known.join(', ')}`;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** A duration string (`500ms`, `30s`, `2m`, `1h`), resolved to milliseconds. A bare number is an error. */
function duration(options: { positive?: boolean } = {}) {
  return z
    .string({
      error: (iss) =>
        typeof iss.input === 'number'
          ? `a duration needs a unit: write ${iss.input}ms or ${iss.input}s, for example`
          : undefined,
    })
    .transform((text, ctx) => {
      const ms = tryParseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration like 500ms, 30s, 2m or 1h, got "${text}"`,
        });
      } else if (ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: 'custom', message: 'too long: at most 596h' });
      } else if (options.positive && ms === 0) {
        ctx.addIssue({ code: 'custom', message: 'must be longer than 0' });
      } else {
        return ms;
      }
      return z.NEVER;
    });
}

/** A byte size (`10MB`, `512KB`, `1GB`, a whole number of bytes), resolved to bytes; 1KB = 1024. */
const byteSize = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = tryParseByteSize(value);
  if (bytes !== undefined) return bytes;
  ctx.addIssue({ code: 'custom', message: `expected a size like 512KB, 10MB or 1GB, got "${value}"` });
  return z.NEVER;
});

/** Free text that must not be empty. */
const text = z.string().min(1, 'must not be empty');

/**
 * A Discord id. YAML reads an unquoted 18-digit id as a number and rounds it,
 * so ids must be quoted strings.
 */
const snowflake = z
  .string({
    error: (iss) =>
      typeof iss.input === 'number'
        ? 'quote Discord ids ("123..."): as a YAML number it gets rounded'
        : undefined,
  })
  .regex(/^\d+$/, 'expected a Discord id: digits only');

/** A Discord role name or id; ids must be quoted (see snowflake). */
const roleRef = z
  .string({
    error: (iss) =>
      typeof iss.input === 'number'
        ? 'quote role ids ("123..."): as a YAML number it gets rounded'
        : undefined,
  })
  .min(1, 'must not be empty');

const tcpPort = z.int().min(1, 'expected a port 1..65535').max(65535, 'expected a port 1..65535');

// ---------------------------------------------------------------- addresses

const listenAddress = z.string().refine((value) => parseListen(value) !== undefined, {
  message: 'expected host:port, like 127.0.0.1:8080 or [::1]:8080',
});

/** An IP address or a CIDR block (`192.168.1.0/24`, `fd00::/8`). */
const ipOrCidr = z.string().refine(
  (value) => {
    const [address = '', prefix, ...rest] = value.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (prefix === undefined) return true;
    return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
  },
  { message: 'expected an IP address or a CIDR block, like 192.168.1.0/24' },
);

// ---------------------------------------------------------------- hooks

const sshStepSchema = section({
  host: text,
  port: tcpPort.default(22),
  user: text,
  /** path of the private key file */
  key: text,
  /** name of the environment variable holding the key's passphrase */
  passphraseEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable')
    .optional(),
  /** the server's public key, as `ssh-keyscan` prints it without the host */
  hostKey: z
    .string()
    .regex(
      /^(ssh|ecdsa|sk)-\S+ [A-Za-z0-9+/]+={0,3}(\s.*)?$/,
      'expected a public key line, like "ssh-ed25519 AAAA..." (ssh-keyscan prints it)',
    )
    .optional(),
  /** a known_hosts file that lists the host */
  knownHosts: text.optional(),
  command: text,
  timeout: duration({ positive: true }).default(parseDuration('30s')),
  /** the command ends the connection (shutdown, reboot): a dropped session counts as success */
  expectDisconnect: z.boolean().default(false),
  allowFailure: z.boolean().default(false),
}).superRefine((ssh, ctx) => {
  const { hostKey, knownHosts } = ssh as { hostKey?: unknown; knownHosts?: unknown };
  if (hostKey === undefined && knownHosts === undefined) {
    ctx.addIssue({ code: 'custom', message: 'pin the host key: set hostKey or knownHosts' });
  } else if (hostKey !== undefined && knownHosts !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['knownHosts'], message: 'set hostKey or knownHosts, not both' });
  }
}, whenMapping);

const execStepSchema = section({
  /** program and arguments, run without a shell */
  argv: z
    .array(z.string())
    .min(1, 'expected the program and its arguments, like [/usr/local/bin/notify, nas]'),
  timeout: duration({ positive: true }).default(parseDuration('30s')),
  allowFailure: z.boolean().default(false),
});

const waitHostStepSchema = section({
  host: text,
  port: tcpPort.default(22),
  interval: duration({ positive: true }).default(parseDuration('1s')),
  timeout: duration({ positive: true }).default(parseDuration('2m')),
});

const waitPowerStepSchema = section({
  watts: z.number().positive(),
  /** the reading must stay below `watts` this long */
  for: duration().default(parseDuration('5s')),
  timeout: duration({ positive: true }).default(parseDuration('2m')),
});

const STEP_KINDS = ['ssh', 'exec', 'waitHostDown', 'waitHostUp', 'waitPowerBelow', 'delay'] as const;

/**
 * A hook step is written as a mapping with exactly one key naming its kind
 * (`- ssh: {...}`, `- delay: 10s`) and resolves to a tagged union on `kind`:
 * `{ kind: 'ssh', host, port, ... }`, `{ kind: 'exec', argv, ... }`,
 * `{ kind: 'waitHostDown' | 'waitHostUp', host, port, interval, timeout }`,
 * `{ kind: 'waitPowerBelow', watts, for, timeout }`, `{ kind: 'delay', duration }`.
 */
const hookStepSchema = section(
  {
    ssh: sshStepSchema.optional(),
    exec: execStepSchema.optional(),
    waitHostDown: waitHostStepSchema.optional(),
    waitHostUp: waitHostStepSchema.optional(),
    waitPowerBelow: waitPowerStepSchema.optional(),
    delay: duration().optional(),
  },
  { expected: `a step: a mapping with one of ${STEP_KINDS.join(', ')}` },
)
  .superRefine((step, ctx) => {
    const kinds = Object.entries(step).filter(([, value]) => value !== undefined);
    // A misspelt kind (`waitHostup`) is already reported as an unknown key with a suggestion.
    const misspelt = ctx.issues.some((issue) => issue.code === 'unrecognized_keys' && !issue.path?.length);
    if (kinds.length === 0 && !misspelt) {
      ctx.addIssue({ code: 'custom', message: `expected one of ${STEP_KINDS.join(', ')}` });
    }
    if (kinds.length > 1) {
      ctx.addIssue({
        code: 'custom',
        message: `one kind per step, got ${kinds.map(([kind]) => kind).join(' and ')}: make them separate steps`,
      });
    }
  }, whenMapping)
  .transform((step) => {
    if (step.ssh) return { kind: 'ssh' as const, ...step.ssh };
    if (step.exec) return { kind: 'exec' as const, ...step.exec };
    if (step.waitHostDown) return { kind: 'waitHostDown' as const, ...step.waitHostDown };
    if (step.waitHostUp) return { kind: 'waitHostUp' as const, ...step.waitHostUp };
    if (step.waitPowerBelow) return { kind: 'waitPowerBelow' as const, ...step.waitPowerBelow };
    return { kind: 'delay' as const, duration: step.delay ?? 0 };
  });

const hookList = z.array(hookStepSchema).default(() => []);

// ---------------------------------------------------------------- sockets

export const SOCKET_COUNT = 16;

const socketNumber = z
  .int()
  .min(1, 'sockets are numbered 1..16')
  .max(SOCKET_COUNT, 'sockets are numbered 1..16');

/** Socket and PDU names; they must not look like a socket number, and "all" means every socket. */
const nameSchema = z
  .string()
  .regex(NAME, 'expected lowercase letters, digits and "-", starting with a letter (like nas or core-switch)')
  .refine((name) => name !== 'all', '"all" is reserved: it means every socket');

/** A limit that must hold for a while before it counts (and stay cleared as long before it clears). */
function limitFor<K extends string>(key: K, unit: string, defaultFor: string) {
  return section({
    ...({ [key]: z.number().positive(`${unit} must be > 0`) } as Record<K, z.ZodNumber>),
    for: duration().default(parseDuration(defaultFor)),
  });
}

/** A socket's alarms: too much current, or too little power while its relay is on. */
function socketAlarmsSchema() {
  return section({
    /** above `amps` for `for` */
    overCurrent: limitFor('amps', 'amps', '10s').optional(),
    /** below `watts` (real power estimate) for `for` while the relay is on */
    underPower: limitFor('watts', 'watts', '1m').optional(),
  }).prefault({});
}

const socketSchema = section({
  number: socketNumber,
  /** usable instead of the number everywhere */
  name: nameSchema.optional(),
  /** the board's relay channel; default number - 1 */
  channel: z.int().min(0, 'board channels are 0..15').max(15, 'board channels are 0..15').optional(),
  /** applied after the board lost power: on, off, or the state before (`last`) */
  restore: z.enum(['on', 'off', 'last']).default('last'),
  /** switching it off needs an admin and a confirmation */
  protected: z.boolean().default(false),
  /** operators holding one of these roles (names/ids or certificate CNs) may switch it */
  roles: z.array(roleRef).default(() => []),
  /** cycle's off-time */
  offTime: duration().default(parseDuration('5s')),
  onFailure: z.enum(['abort', 'continue']).default('abort'),
  /** bound on a whole hook pipeline */
  hookTimeout: duration({ positive: true }).default(parseDuration('5m')),
  preOff: hookList,
  postOff: hookList,
  preOn: hookList,
  postOn: hookList,
  /** real power ≈ amps × volts × powerFactor (1: the apparent power, VA) */
  powerFactor: z.number().gt(0, 'must be > 0').max(1, 'must be ≤ 1').default(1),
  /** warnings about this socket's draw; none by default */
  alarms: socketAlarmsSchema(),
}).transform((socket) => ({ ...socket, channel: socket.channel ?? socket.number - 1 }));

/** The listed sockets must not clash with each other, nor with the sockets they leave to defaults. */
function checkSockets(sockets: unknown[], ctx: z.core.$RefinementCtx) {
  const entries = sockets.map((socket, index) => {
    const s = (socket ?? {}) as { number?: unknown; name?: unknown; channel?: unknown };
    return {
      index,
      number: typeof s.number === 'number' ? s.number : undefined,
      name: typeof s.name === 'string' ? s.name : undefined,
      channel: typeof s.channel === 'number' ? s.channel : undefined,
    };
  });
  const byNumber = new Map<number, number>();
  const byName = new Map<string, number>();
  for (const { index, number, name } of entries) {
    if (number !== undefined) {
      const first = byNumber.get(number);
      if (first === undefined) byNumber.set(number, index);
      else
        ctx.addIssue({
          code: 'custom',
          path: [index, 'number'],
          message: `socket ${number} is listed twice (entries ${first + 1} and ${index + 1} under sockets)`,
        });
    }
    if (name !== undefined) {
      const first = byName.get(name);
      if (first === undefined) byName.set(name, index);
      else
        ctx.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `name "${name}" is already used by ${
            entries[first]?.number === undefined
              ? `entry ${first + 1} under sockets`
              : `socket ${entries[first]?.number}`
          }`,
        });
    }
  }
  // Channels of all 16 sockets (a listed one's explicit channel or number - 1, the unlisted ones'
  // number - 1): a clash is reported once, on the last listed socket that set its channel explicitly.
  const users = new Map<number, { number: number; index?: number; explicit: boolean }[]>();
  const use = (channel: number, user: { number: number; index?: number; explicit: boolean }) =>
    users.set(channel, [...(users.get(channel) ?? []), user]);
  for (const [number, index] of byNumber) {
    const channel = entries[index]!.channel ?? number - 1;
    if (Number.isInteger(channel) && channel >= 0 && channel < SOCKET_COUNT) {
      use(channel, { number, index, explicit: channel !== number - 1 });
    }
  }
  for (let number = 1; number <= SOCKET_COUNT; number++) {
    if (!byNumber.has(number)) use(number - 1, { number, explicit: false });
  }
  for (const [channel, group] of users) {
    const reporter = group.filter((user) => user.explicit && user.index !== undefined).at(-1);
    if (group.length < 2 || !reporter) continue;
    const numbers = group.map((user) => user.number).sort((a, b) => a - b);
    const listed = `${numbers.slice(0, -1).join(', ')} and ${numbers.at(-1)}`;
    const defaults = group.filter((user) => !user.explicit).map((user) => `socket ${user.number}'s default`);
    ctx.addIssue({
      code: 'custom',
      path: [reporter.index!, 'channel'],
      message: `sockets ${listed} ${group.length > 2 ? 'all' : 'both'} use channel ${channel}${
        defaults.length ? ` (${defaults.join(', ')}: number - 1)` : ''
      }`,
    });
  }
}

/** All 16 sockets in number order, unlisted ones with the defaults. */
function fillSockets(listed: SocketConfig[]): SocketConfig[] {
  const byNumber = new Map(listed.map((socket) => [socket.number, socket]));
  return Array.from(
    { length: SOCKET_COUNT },
    (_, i) => byNumber.get(i + 1) ?? socketSchema.parse({ number: i + 1 }),
  );
}

const socketsSchema = z
  .array(socketSchema)
  .max(SOCKET_COUNT, 'at most 16 sockets')
  .superRefine(checkSockets, whenList)
  .transform(fillSockets);

// ---------------------------------------------------------------- sections

const gpioLine = z.int().min(0, 'expected a BCM line 0..53').max(53, 'expected a BCM line 0..53');

/** Keys that only some drivers take: any other driver refuses them, naming the drivers. */
const DRIVER_KEYS: Record<string, readonly BoardDriverName[]> = {
  port: ['prp1', 'legacy', 'simulator', 'numato', 'lcus', 'modbus'],
  baudRate: ['prp1', 'legacy', 'numato', 'lcus', 'modbus'],
  channels: CHANNEL_COUNT_DRIVERS,
  slaveId: ['modbus'],
  parity: ['modbus'],
  lines: ['gpio'],
  activeLow: ['gpio'],
  gpioChipBase: ['gpio'],
};

/** What each driver's `board.port` looks like, for the "required" message. */
const PORT_HINTS: Partial<Record<BoardDriverName, string>> = {
  prp1: '/dev/serial/by-id/usb-Arduino...',
  legacy: '/dev/serial/by-id/usb-Arduino...',
  numato: '/dev/serial/by-id/usb-Numato_Systems_Pvt._Ltd._Numato_Lab_8_Channel_USB_Relay_Module...',
  lcus: '/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0',
  modbus: '/dev/serial/by-id/usb-FTDI_... (the RS-485 adapter)',
};

const boardSchema = section({
  driver: z.enum(BOARD_DRIVERS).default('prp1'),
  /** serial device; prefer /dev/serial/by-id paths (ttyACM numbers move) */
  port: text.optional(),
  /** default by driver: 115200 prp1, 9600 legacy, lcus and modbus, 19200 numato */
  baudRate: z.int().positive().optional(),
  /** minimum gap between two switch-ons (inrush guard); 0 = none */
  switchSpacingMs: z.int().min(0).default(250),
  replyTimeout: duration({ positive: true }).default(parseDuration('500ms')),
  /** numato, lcus, modbus: the board's relay count (which ones each driver takes: BOARD_DRIVER_INFO) */
  channels: z.int().positive().optional(),
  /** modbus: the board's slave (unit) id, 1..247 (default 1) */
  slaveId: z.int().min(1, 'a Modbus slave id is 1..247').max(247, 'a Modbus slave id is 1..247').optional(),
  /** modbus: the serial line's parity, 8 data bits, 1 stop bit (default none) */
  parity: z.enum(['none', 'even', 'odd']).optional(),
  /** gpio: BCM line of relay channel i (channel i drives the socket whose channel is i) */
  lines: z
    .array(gpioLine)
    .min(1, 'list at least one BCM line')
    .max(SOCKET_COUNT, 'at most 16 lines')
    .optional(),
  /** gpio: the relay is energized when the line is low (opto-isolated modules; default false) */
  activeLow: z.boolean().optional(),
  /** gpio: `auto` (default) reads it from sysfs, as controller.gpioChipBase */
  gpioChipBase: z
    .union([z.literal('auto'), z.int().min(0)], { error: 'expected auto or a number ≥ 0' })
    .optional(),
})
  .superRefine((board, ctx) => {
    const b = board as Record<string, unknown>;
    const driver = (typeof b.driver === 'string' ? b.driver : 'prp1') as BoardDriverName;
    if (!(BOARD_DRIVERS as readonly string[]).includes(driver)) return;
    for (const [key, drivers] of Object.entries(DRIVER_KEYS)) {
      if (b[key] === undefined || drivers.includes(driver)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `not used by driver ${driver}: ${key} is for ${drivers.join(', ')}`,
      });
    }
    const hint = PORT_HINTS[driver];
    if (hint !== undefined && b.port === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['port'],
        message: `required for driver ${driver}: the serial device, like ${hint}`,
      });
    }
    const allowed = BOARD_DRIVER_INFO[driver].channels;
    if (CHANNEL_COUNT_DRIVERS.includes(driver) && allowed) {
      if (b.channels === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['channels'],
          message: `required for driver ${driver}: the board's relay count, one of ${allowed.join(', ')}`,
        });
      } else if (typeof b.channels === 'number' && !allowed.includes(b.channels)) {
        ctx.addIssue({
          code: 'custom',
          path: ['channels'],
          message: `a ${driver} board has ${allowed.join(', ')} channels, not ${b.channels}`,
        });
      }
    }
    if (driver === 'gpio') {
      if (b.lines === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['lines'],
          message: 'required for driver gpio: the BCM line of each relay, like [5, 6, 13, 19]',
        });
      } else if (Array.isArray(b.lines)) {
        const seen = new Map<unknown, number>();
        b.lines.forEach((line, index) => {
          const first = seen.get(line);
          if (first === undefined) seen.set(line, index);
          else
            ctx.addIssue({
              code: 'custom',
              path: ['lines', index],
              message: `line ${String(line)} is already board.lines[${first}]`,
            });
        });
      }
    }
  }, whenMapping)
  .transform((board) => ({
    ...board,
    baudRate: board.baudRate ?? BOARD_DRIVER_INFO[board.driver].defaultBaudRate,
  }));

/** The relay channels the configured board has; null where the board itself says (PRP/1 HELLO). */
export function boardChannelCount(board: Pick<BoardConfig, 'driver' | 'channels' | 'lines'>): number | null {
  if (board.driver === 'gpio') return board.lines?.length ?? null;
  if (board.driver === 'legacy') return 16;
  if (CHANNEL_COUNT_DRIVERS.includes(board.driver)) return board.channels ?? null;
  return null;
}

/**
 * Checked on the file's own data (validateConfig), where listed sockets can
 * still be told from the defaults. Sockets listed with a channel the board lacks are an error at that socket
 * (sockets left to their defaults are not: an 8-channel board simply has no
 * relay for sockets 9..16). GPIO relay lines must not be front-panel lines.
 */
function boardAgainstSockets(config: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return issues;
  const c = config as { board?: unknown; sockets?: unknown; controller?: unknown };
  const board = (typeof c.board === 'object' && c.board !== null ? c.board : {}) as Record<string, unknown>;
  const driver = typeof board.driver === 'string' ? board.driver : 'prp1';
  if (!(BOARD_DRIVERS as readonly string[]).includes(driver)) return issues;
  const count = boardChannelCount({
    driver: driver as BoardDriverName,
    channels: typeof board.channels === 'number' ? board.channels : undefined,
    lines: Array.isArray(board.lines) ? (board.lines as number[]) : undefined,
  });
  if (count !== null && Array.isArray(c.sockets)) {
    c.sockets.forEach((socket, index) => {
      const s = (typeof socket === 'object' && socket !== null ? socket : {}) as Record<string, unknown>;
      if (typeof s.number !== 'number') return;
      const explicit = typeof s.channel === 'number';
      const channel = explicit ? (s.channel as number) : s.number - 1;
      if (!Number.isInteger(channel) || channel < count) return;
      issues.push({
        atKey: false,
        path: ['sockets', index, explicit ? 'channel' : 'number'],
        message: `socket ${s.number} uses channel ${channel}${explicit ? '' : ' (number - 1)'}, but the ${driver} board has ${count} channel${count === 1 ? '' : 's'} (0..${count - 1})`,
      });
    });
  }
  const controller = c.controller as Record<string, unknown> | undefined;
  if (driver === 'gpio' && Array.isArray(board.lines) && typeof controller === 'object' && controller) {
    const panel = new Map<unknown, string>();
    for (const key of ['buttons', 'leds'] as const) {
      const lines = controller[key];
      if (!Array.isArray(lines)) continue;
      lines.forEach((line, i) => {
        panel.set(line, `controller.${key}[${i}]`);
      });
    }
    if (controller.statusLed !== undefined) panel.set(controller.statusLed, 'controller.statusLed');
    board.lines.forEach((line, index) => {
      const user = panel.get(line);
      if (user !== undefined)
        issues.push({
          atKey: false,
          path: ['board', 'lines', index],
          message: `line ${String(line)} is already used by ${user}`,
        });
    });
  }
  return issues;
}

export const roleSchema = z.enum(['viewer', 'operator', 'admin']);

const discordSchema = section(
  {
    guildId: snowflake,
    /** read from the token when absent */
    applicationId: snowflake.optional(),
    /** the REST base; the gateway URL is asked from it */
    api: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).default('https://discord.com/api'),
    /** Discord role names or ids per PiPDU role */
    roles: section({
      admin: z.array(roleRef).default(() => []),
      operator: z.array(roleRef).default(() => []),
      viewer: z.array(roleRef).default(() => ['@everyone']),
    }).prefault({}),
    /** a live status message is kept up to date here */
    statusChannelId: snowflake.optional(),
    /** every action is posted here */
    auditChannelId: snowflake.optional(),
    /** alarms (overcurrent, underpower, PDU overload) are posted here, and edited when they clear */
    alertChannelId: snowflake.optional(),
    /** Discord role ids mentioned in alarm messages */
    alertRoleIds: z.array(snowflake).default(() => []),
    confirmTimeout: duration({ positive: true }).default(parseDuration('30s')),
  },
  { hints: { token: 'no token here: the bot token comes from the DISCORD_TOKEN environment variable' } },
);

const i2cAddress = z
  .int()
  .min(0x03, 'expected an I²C address 0x03..0x77')
  .max(0x77, 'expected an I²C address 0x03..0x77');
const i2cBusNumber = z.int().min(0, 'expected an I²C bus number ≥ 0 (1 on a Pi: /dev/i2c-1)');

/** LED chips: pcf8574 and mcp23017 on I²C (8 and 16 pins), 74hc595 shift registers on three GPIO lines. */
export const LED_CHIPS = ['pcf8574', 'mcp23017', '74hc595'] as const;

const controllerSchema = section({
  /** button i controls socket i + 1 (one GPIO line each); or `matrix` */
  buttons: z
    .array(gpioLine)
    .max(SOCKET_COUNT, 'at most 16 buttons')
    .default(() => []),
  /** keys scanned as a matrix: rows driven, columns read; key i (row-major) controls socket i + 1, or `keys[i]` */
  matrix: section({
    rows: z.array(gpioLine).min(1, 'needs at least one row'),
    columns: z.array(gpioLine).min(1, 'needs at least one column'),
    /** the socket of each key, row-major (default 1, 2, 3, …) */
    keys: z.array(socketNumber).max(SOCKET_COUNT, 'at most 16 keys').optional(),
    /** how often the keys are read while one is down (idle, a column edge starts a scan) */
    scanInterval: duration({ positive: true }).default(parseDuration('10ms')),
  }).optional(),
  /** LED i shows socket i + 1 (one GPIO line each); or `ledChips` */
  leds: z
    .array(gpioLine)
    .max(SOCKET_COUNT, 'at most 16 LEDs')
    .default(() => []),
  /** LEDs on expanders or shift registers: pin i (across the chips, in order) shows socket i + 1 */
  ledChips: section({
    chip: z.enum(LED_CHIPS),
    /** I²C chips: the bus (/dev/i2c-N) and one address per chip */
    i2cBus: i2cBusNumber.default(1),
    addresses: z.array(i2cAddress).min(1, 'needs at least one address').optional(),
    /** 74hc595: the chained chips' count and their three lines */
    chips: z.int().min(1, 'at least 1 chip').max(2, 'at most 2 chips (16 LEDs)').optional(),
    dataLine: gpioLine.optional(),
    clockLine: gpioLine.optional(),
    latchLine: gpioLine.optional(),
    /** how many pins carry socket LEDs (default: all, at most 16) */
    count: z.int().min(1, 'at least 1 LED').max(SOCKET_COUNT, 'at most 16 LEDs').optional(),
    /** lit = pin low (default for pcf8574, which can sink but hardly source current) */
    activeLow: z.boolean().optional(),
  }).optional(),
  /** an HD44780 character LCD behind a PCF8574 backpack */
  lcd: section({
    i2cBus: i2cBusNumber.default(1),
    address: i2cAddress.default(0x27),
    size: z.enum(['20x4', '16x2']).default('20x4'),
    /** a short press shows the socket this long */
    showSocket: duration({ positive: true }).default(parseDuration('5s')),
    /** the backlight goes dark after this long without a press (0ms: always lit) */
    backlightTimeout: duration().default(parseDuration('5m')),
  }).optional(),
  statusLed: gpioLine.optional(),
  buttonActiveLow: z.boolean().default(true),
  ledActiveLow: z.boolean().default(false),
  debounce: duration().default(parseDuration('30ms')),
  /** a hold this long toggles the socket, the moment it passes */
  longPress: duration({ positive: true }).default(parseDuration('3s')),
  shortPress: z.enum(['none', 'identify', 'toggle']).default('identify'),
  longPressCancels: z.boolean().default(false),
  /** `auto` reads it from sysfs */
  gpioChipBase: z
    .union([z.literal('auto'), z.int().min(0)], { error: 'expected auto or a number ≥ 0' })
    .default('auto'),
}).superRefine((controller, ctx) => {
  const c = controller as {
    buttons?: unknown;
    leds?: unknown;
    statusLed?: unknown;
    matrix?: unknown;
    ledChips?: unknown;
    lcd?: unknown;
  };
  const uses: { path: (string | number)[]; line: unknown }[] = [];
  for (const key of ['buttons', 'leds'] as const) {
    const lines = c[key];
    if (Array.isArray(lines)) uses.push(...lines.map((line, i) => ({ path: [key, i], line })));
  }
  uses.push({ path: ['statusLed'], line: c.statusLed });
  const matrix = isMapping(c.matrix) ? c.matrix : null;
  if (matrix) {
    for (const key of ['rows', 'columns'] as const) {
      const lines = matrix[key];
      if (Array.isArray(lines)) uses.push(...lines.map((line, i) => ({ path: ['matrix', key, i], line })));
    }
  }
  const chips = isMapping(c.ledChips) ? c.ledChips : null;
  if (chips?.chip === '74hc595') {
    for (const key of ['dataLine', 'clockLine', 'latchLine'])
      uses.push({ path: ['ledChips', key], line: chips[key] });
  }
  const seen = new Map<number, string>();
  for (const { path, line } of uses) {
    if (typeof line !== 'number') continue;
    const first = seen.get(line);
    if (first === undefined) seen.set(line, formatPath(['controller', ...path]));
    else ctx.addIssue({ code: 'custom', path, message: `line ${line} is already used by ${first}` });
  }
  if (matrix) checkMatrix(matrix, c.buttons, ctx);
  if (chips) checkLedChips(chips, c.leds, ctx);
  const lcd = isMapping(c.lcd) ? c.lcd : null;
  if (lcd && chips && chips.chip !== '74hc595' && Array.isArray(chips.addresses)) {
    const lcdBus = lcd.i2cBus ?? 1;
    const chipBus = chips.i2cBus ?? 1;
    const lcdAddress = lcd.address ?? 0x27;
    if (lcdBus === chipBus && chips.addresses.includes(lcdAddress)) {
      ctx.addIssue({
        code: 'custom',
        path: ['lcd', 'address'],
        message: `address 0x${Number(lcdAddress).toString(16)} is already used by controller.ledChips.addresses`,
      });
    }
  }
}, whenMapping);

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A matrix replaces the single-line buttons; at most 16 keys, each socket on one key. */
function checkMatrix(
  matrix: Record<string, unknown>,
  buttons: unknown,
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  if (Array.isArray(buttons) && buttons.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['matrix'], message: 'use either buttons or matrix, not both' });
  }
  const rows = Array.isArray(matrix.rows) ? matrix.rows.length : 0;
  const columns = Array.isArray(matrix.columns) ? matrix.columns.length : 0;
  const size = rows * columns;
  if (size > SOCKET_COUNT) {
    ctx.addIssue({
      code: 'custom',
      path: ['matrix'],
      message: `${rows} rows × ${columns} columns is ${size} keys: at most 16`,
    });
  }
  if (!Array.isArray(matrix.keys)) return;
  if (size > 0 && matrix.keys.length !== size) {
    ctx.addIssue({
      code: 'custom',
      path: ['matrix', 'keys'],
      message: `expected ${size} sockets (one per key, row by row), got ${matrix.keys.length}`,
    });
  }
  const seen = new Map<unknown, number>();
  matrix.keys.forEach((socket, i) => {
    const first = seen.get(socket);
    if (first === undefined) seen.set(socket, i);
    else {
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'keys', i],
        message: `socket ${String(socket)} is already on key ${first} (controller.matrix.keys[${first}])`,
      });
    }
  });
}

/** What each LED chip needs: I²C addresses, or the 74hc595's lines. */
function checkLedChips(
  chips: Record<string, unknown>,
  leds: unknown,
  ctx: z.core.$RefinementCtx<unknown>,
): void {
  if (Array.isArray(leds) && leds.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['ledChips'], message: 'use either leds or ledChips, not both' });
  }
  const missing = (key: string, why: string) =>
    ctx.addIssue({ code: 'custom', path: ['ledChips', key], message: why });
  let pins = 0;
  if (chips.chip === '74hc595') {
    for (const key of ['dataLine', 'clockLine', 'latchLine']) {
      if (chips[key] === undefined) missing(key, 'required for 74hc595: a BCM line');
    }
    if (chips.addresses !== undefined)
      missing('addresses', 'a 74hc595 has no address: it is wired to dataLine, clockLine and latchLine');
    pins = 8 * (typeof chips.chips === 'number' ? chips.chips : 1);
  } else if (chips.chip === 'pcf8574' || chips.chip === 'mcp23017') {
    if (chips.addresses === undefined)
      missing('addresses', `required for ${chips.chip}: one I²C address per chip, like [0x20]`);
    for (const key of ['chips', 'dataLine', 'clockLine', 'latchLine']) {
      if (chips[key] !== undefined)
        missing(key, `only for 74hc595 (a ${chips.chip} is set by its addresses)`);
    }
    const count = Array.isArray(chips.addresses) ? chips.addresses.length : 0;
    pins = (chips.chip === 'pcf8574' ? 8 : 16) * count;
    if (Array.isArray(chips.addresses)) {
      chips.addresses.forEach((address, i) => {
        if (chips.addresses && (chips.addresses as unknown[]).indexOf(address) !== i) {
          missing(`addresses`, `address ${String(address)} is listed twice`);
        }
      });
    }
  }
  if (pins > 0 && typeof chips.count === 'number' && chips.count <= SOCKET_COUNT && chips.count > pins) {
    missing('count', `${chips.count} LEDs, but the chips have ${pins} pins`);
  }
}

/** A password account's name: what the sign-in form asks and the audit log shows. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const USER_NAME_RULE = 'a user name is up to 64 letters, digits, ".", "_", "@" or "-"';

/** A scrypt hash line from `pipdu hash-password`; the message never repeats the value (it may be a password). */
const passwordHash = z.string().superRefine((value, ctx) => {
  const parsed = parsePasswordHash(value);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

const apiSchema = section({
  /** a non-loopback address requires tls */
  listen: listenAddress.default('127.0.0.1:8080'),
  /** mutual TLS: ca signs the client certificates */
  tls: section({
    cert: text,
    key: text,
    ca: text,
    /**
     * `required` (absent means required): no valid client certificate, no
     * connection. `optional`: the certificate is asked for but a client
     * without one connects, with no role until it signs in with a password.
     */
    clientCertificates: z.enum(['required', 'optional']).optional(),
  }).optional(),
  /** client certificate CN -> role; other certificates get 403 */
  clients: z.record(text, roleSchema).default(() => ({})),
  /** role of plain-HTTP callers on loopback (the CLI on the Pi) */
  loopbackRole: roleSchema.default('admin'),
  /**
   * The local control socket for the Pi's own `pipdu` (HTTP on a Unix socket,
   * mode 0660: the daemon's group may use it). Absent: under systemd
   * $RUNTIME_DIRECTORY/pipdu.sock (/run/pipdu/pipdu.sock), else none; false: none.
   */
  socket: z.union([text, z.literal(false)]).optional(),
  /** role of local-socket callers, who are audited by their Unix user (absent: admin) */
  localRole: roleSchema.optional(),
  /** password accounts for the web page: name -> role and scrypt hash (absent: none) */
  users: z
    .record(z.string().regex(USER_NAME), section({ role: roleSchema, passwordHash }), {
      error: (iss) => (iss.code === 'invalid_key' ? USER_NAME_RULE : undefined),
    })
    .optional(),
  /** a session unused this long ends (absent: 12h) */
  sessionIdle: duration({ positive: true }).optional(),
  /** a session ends this long after sign-in, used or not (absent: 168h) */
  sessionMax: duration({ positive: true }).optional(),
  /** plain-HTTP listener for pdudaemon clients (LAVA, labgrid), which speak no TLS */
  pdudaemon: section({
    listen: listenAddress,
    /** source addresses allowed; others get 403 */
    allow: z.array(ipOrCidr).min(1, 'list the addresses allowed, like [192.168.1.0/24]'),
    role: roleSchema.default('operator'),
  }).optional(),
}).superRefine((api, ctx) => {
  const { listen, tls } = api as { listen?: unknown; tls?: unknown };
  const address = typeof listen === 'string' ? parseListen(listen) : undefined;
  if (address && !isLoopbackHost(address.host) && tls === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['listen'],
      message: `listening on ${address.host} requires api.tls (mutual TLS)`,
    });
  }
}, whenMapping);

/** The name of an environment variable (secrets are never in the file). */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the name of an environment variable');

/** An MQTT topic a PDU publishes under: no wildcards, no empty levels at the ends. */
const topicBase = z
  .string()
  .min(1, 'must not be empty')
  .refine(
    (topic) => !/[+#]/.test(topic) && !topic.includes(String.fromCharCode(0)),
    'a topic must not contain +, # or NUL',
  )
  .refine((topic) => !topic.startsWith('/') && !topic.endsWith('/'), 'no leading or trailing "/"');

const mqttSchema = section(
  {
    /** mqtt://host:1883 or mqtts://host:8883 */
    url: z.url({
      protocol: /^mqtts?$/,
      error: 'expected an mqtt:// or mqtts:// URL, like mqtt://192.168.1.2:1883',
    }),
    /** mqtts: the CA that signed the broker's certificate, and an optional client certificate */
    tls: section({ ca: text.optional(), cert: text.optional(), key: text.optional() })
      .superRefine((tls, ctx) => {
        const { cert, key } = tls as { cert?: unknown; key?: unknown };
        if ((cert === undefined) !== (key === undefined)) {
          ctx.addIssue({ code: 'custom', message: 'a client certificate needs both cert and key' });
        }
      }, whenMapping)
      .optional(),
    username: text.optional(),
    /** the name of the environment variable holding the password */
    passwordEnv: envName.optional(),
    /** default pipdu-<name> */
    clientId: text.max(128, 'at most 128 characters').optional(),
    /** default pipdu/<name> */
    baseTopic: topicBase.optional(),
    discovery: section({
      enabled: z.boolean().default(true),
      prefix: topicBase.default('homeassistant'),
    }).prefault({}),
    /** what MQTT commands act as */
    role: roleSchema.default('operator'),
    /** false: state out only, commands are not subscribed to */
    commands: z.boolean().default(true),
  },
  { hints: { password: 'no password here: name the environment variable holding it with passwordEnv' } },
).superRefine((mqtt, ctx) => {
  const { url, tls, passwordEnv, username } = mqtt as {
    url?: unknown;
    tls?: unknown;
    passwordEnv?: unknown;
    username?: unknown;
  };
  if (tls !== undefined && typeof url === 'string' && url.startsWith('mqtt:')) {
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls needs an mqtts:// url' });
  }
  if (passwordEnv !== undefined && username === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['passwordEnv'],
      message: 'a password needs a username: set mqtt.username',
    });
  }
}, whenMapping);

export const pduConfigSchema = section({
  version: z.literal(1, {
    error: (iss) => (iss.input === undefined ? 'required: write version: 1' : 'expected 1'),
  }),
  /** pdudaemon's hostname=, embeds, metrics labels */
  name: nameSchema.default('pipdu'),
  /** volts, for watts = amps × volts */
  mainsVoltage: z.number().positive().default(230),
  log: section({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info') }).prefault({}),
  board: boardSchema.prefault({}),
  sockets: socketsSchema.prefault([]),
  hooks: section({
    /** all-off runs this many preOff pipelines at once */
    allOffConcurrency: z.int().min(1).max(SOCKET_COUNT).default(4),
  }).prefault({}),
  /** the bot runs when this section exists and DISCORD_TOKEN is set */
  discord: discordSchema.optional(),
  /** the physical front panel, BCM line numbers */
  controller: controllerSchema.optional(),
  /** the HTTPS API runs when this section exists */
  api: apiSchema.optional(),
  /** the MQTT bridge (Home Assistant) runs when this section exists */
  mqtt: mqttSchema.optional(),
  /** the PDU's own limits; per-socket alarms are under sockets[].alarms */
  alarms: section({
    /** the inlet or breaker rating: total current above `amps` for `for` is an alarm */
    maxCurrent: section({
      amps: z.number().positive('amps must be > 0'),
      /** early warning at this fraction of amps */
      warnAt: z.number().gt(0, 'must be > 0').max(1, 'must be ≤ 1').default(0.8),
      for: duration().default(parseDuration('2s')),
    }).optional(),
    /** a raised alarm clears only this fraction below (above, for underPower) its limit */
    hysteresis: z.number().min(0).max(0.5, 'must be ≤ 0.5').default(0.05),
  }).prefault({}),
  /** energy counters (energy.json in state.dir) */
  energy: section({
    /** counters are written this often, and at stop: a crash loses at most this much energy */
    saveEvery: duration({ positive: true }).default(parseDuration('5m')),
    /** readings further apart than this are a gap: nothing is counted between them */
    maxGap: duration({ positive: true }).default(parseDuration('5s')),
  }).prefault({}),
  /** power history (history.sqlite in state.dir) */
  history: section({
    enabled: z.boolean().default(true),
    /** buffered readings are written this often (≥ 10s: SD card wear) */
    flushEvery: duration()
      .default(parseDuration('2m'))
      .refine((ms) => ms >= 10_000, 'must be at least 10s (SD card wear)'),
  }).prefault({}),
  state: section({
    /**
     * state.json and audit.jsonl, relative to the working directory; default
     * systemd's $STATE_DIRECTORY (/var/lib/pipdu) when it sets one, else ./state
     */
    dir: text.default(() => process.env.STATE_DIRECTORY?.split(':')[0] || './state'),
    /** audit.jsonl rotates to audit.1.jsonl past this */
    auditMaxBytes: byteSize.default(10 * 1024 ** 2),
  }).prefault({}),
});

// ---------------------------------------------------------------- types

export type PduConfig = z.output<typeof pduConfigSchema>;
export type BoardConfig = z.output<typeof boardSchema>;
export type SocketConfig = z.output<typeof socketSchema>;
export type HookStep = z.output<typeof hookStepSchema>;
export type HookStepKind = HookStep['kind'];
export type DiscordConfig = z.output<typeof discordSchema>;
export type ControllerConfig = z.output<typeof controllerSchema>;
export type ApiConfig = z.output<typeof apiSchema>;
export type MqttConfig = z.output<typeof mqttSchema>;
export type StateConfig = PduConfig['state'];
export type AlarmsConfig = PduConfig['alarms'];
export type SocketAlarmsConfig = SocketConfig['alarms'];
export type Role = z.output<typeof roleSchema>;

// ---------------------------------------------------------------- validation

export type ConfigPath = (string | number)[];

/** One problem, located by key path; `atKey` when it is about the key itself (an unknown key), not its value. */
export interface SchemaIssue {
  path: ConfigPath;
  message: string;
  atKey: boolean;
}

/** Validates parsed YAML data; on failure, every problem with the path of its key. */
export function validateConfig(
  data: unknown,
): { ok: true; config: PduConfig } | { ok: false; issues: SchemaIssue[] } {
  const result = pduConfigSchema.safeParse(data, { error: describeIssue });
  const boardIssues = boardAgainstSockets(data);
  if (result.success)
    return boardIssues.length ? { ok: false, issues: boardIssues } : { ok: true, config: result.data };
  const issues: SchemaIssue[] = [...boardIssues];
  for (const issue of result.error.issues) {
    const path = issue.path.map((key) => (typeof key === 'number' ? key : String(key)));
    if (issue.code === 'unrecognized_keys') {
      const messages = issue.message.split('\n');
      issue.keys.forEach((key, i) => {
        issues.push({ path: [...path, key], message: messages[i] ?? 'unknown key', atKey: true });
      });
    } else {
      issues.push({ path, message: issue.message, atKey: false });
    }
  }
  return { ok: false, issues };
}

/** `sockets[2].restore`; keys that are not plain words are quoted: `api.clients["alice laptop"]`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** Messages in the config's own words (`expected on | off | last`) for issues the schema did not phrase itself. */
const describeIssue: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}${
        iss.input === null && iss.expected === 'object' ? ' (write {} for the defaults)' : ''
      }`;
    case 'invalid_value':
      return `expected ${iss.values.map(String).join(' | ')}`;
    case 'too_small':
      if (iss.origin === 'array') return `needs at least ${iss.minimum} entries`;
      if (iss.origin === 'string') return 'must not be empty';
      return `must be ${iss.inclusive ? '≥' : '>'} ${iss.minimum}`;
    case 'too_big':
      if (iss.origin === 'array') return `at most ${iss.maximum} entries`;
      return `must be ${iss.inclusive ? '≤' : '<'} ${iss.maximum}`;
    default:
      return undefined;
  }
};

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value}"`;
  return String(value);
}
