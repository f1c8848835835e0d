import { open } from 'node:fs/promises';
import path from 'node:path';
import {
  CST,
  type Document,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  Parser,
  parseDocument,
  visit,
} from 'yaml';
import { PduError } from '../errors.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { socketsByNumber } from './file-access.js';
import { DEFAULT_CONFIG_PATH, displayPath } from './paths.js';
import { type ConfigPath, formatPath, type PduConfig, validateConfig } from './schema.js';

export { DEFAULT_CONFIG_PATH, displayPath } from './paths.js';

// Bounds on what a config file may ask of the loader. A real config is a few
// KB, a handful of levels deep, with a few aliases; these are far above that
// and far below what would exhaust the memory, the stack or the patience of
// a Pi. Each is refused with a located one-line error, before the part of
// the loader it protects runs.

/** The largest config file read at all (1 MiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Keys and values: each costs yaml and zod hundreds of bytes, a real config has a few hundred. */
export const MAX_CONFIG_VALUES = 10_000;
/** Collections inside collections: deeper is refused before yaml's and zod's recursive walks see it. */
export const MAX_CONFIG_DEPTH = 64;
/**
 * Alias uses, counting the aliases inside what an alias names once for every
 * use of it: what makes an "alias bomb" (aliases of aliases of lists of
 * aliases) cost billions. Also given to yaml as its own `maxAliasCount`.
 */
export const MAX_ALIAS_COUNT = 100;
/** Values aliases may add to the file once expanded (one alias of a huge list adds that list again). */
export const MAX_ALIAS_VALUES = 10_000;

/**
 * Parses and validates config text. `file` only labels the issues and is
 * used as given (loadConfig passes the path relative to the working
 * directory, or the absolute path for a file outside it). Throws ConfigError
 * with every problem: the first limit above it goes over, or else YAML
 * syntax errors, or else alias problems, or else every schema issue.
 */
export function parseConfig(text: string, file: string): PduConfig {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) throw new ConfigError([tooLarge(file, bytes)]);
  const located =
    (lineCounter: LineCounter) =>
    (offset: number, configPath: string, message: string): ConfigIssue => {
      const { line, col } = lineCounter.linePos(offset);
      return { file, line: Math.max(line, 1), column: Math.max(col, 1), path: configPath, message };
    };

  // Before yaml builds its document: its composer recurses once per level, and
  // each value costs it (and zod after it) far more memory than its text.
  const scanned = new LineCounter();
  const tooMuch = scan(text, scanned);
  if (tooMuch) throw new ConfigError([located(scanned)(tooMuch.offset, '', tooMuch.message)]);

  const lineCounter = new LineCounter();
  const at = located(lineCounter);
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });

  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => at(error.pos[0], '', `YAML: ${error.message.split('\n')[0]}`)),
    );
  }
  if (doc.contents === null) {
    throw new ConfigError([at(0, '', 'the file is empty: a config needs at least `version: 1`')]);
  }
  if (!isMap(doc.contents)) {
    throw new ConfigError([
      at(
        doc.contents.range?.[0] ?? 0,
        '',
        'expected a mapping of keys at the top level (version, board, sockets, ...)',
      ),
    ]);
  }

  const aliases = aliasProblem(doc);
  if (aliases) throw new ConfigError([at(aliases.offset, formatPath(aliases.path), aliases.message)]);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml's own alias limit, a second line behind aliasProblem() (which a real config never reaches).
    throw new ConfigError([at(firstAlias(doc) ?? 0, '', `YAML: ${(error as Error).message}`)]);
  }
  const result = validateConfig(data);
  if (result.ok) return result.config;
  // Sockets named as people count them (`socket 3 (nas) restore`, not `sockets[2].restore`).
  const issues = result.issues.map((issue) =>
    at(locate(doc, issue.path, issue.atKey), socketsByNumber(formatPath(issue.path), data), issue.message),
  );
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
  throw new ConfigError(issues);
}

/**
 * The offset a key path points at: the value for a bad value; the key for an
 * unknown key, for a mapping or list judged as a whole, and for an empty
 * value; the nearest existing parent's key for something missing.
 */
function locate(doc: Document, configPath: ConfigPath, atKey: boolean): number {
  let node: unknown = doc.contents;
  let key: unknown;
  for (const [i, segment] of configPath.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let nextKey: unknown;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair) {
        if (atKey && i === configPath.length - 1) return start(pair.key) ?? 0;
        next = pair.value;
        nextKey = pair.key;
      }
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    if (next === undefined && nextKey === undefined) break; // missing: point at the nearest parent
    node = next;
    key = nextKey;
  }
  const empty = isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1];
  if (isScalar(node) && !empty) return start(node) ?? 0;
  if (isCollection(node) || isAlias(node) || empty) return start(key) ?? start(node) ?? 0;
  return start(node) ?? start(key) ?? 0;
}

function start(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range?.[0];
}

function tooLarge(file: string, bytes: number | undefined): ConfigIssue {
  const size = bytes === undefined ? 'larger than that' : `${bytes} bytes`;
  return {
    file,
    line: 1,
    column: 1,
    path: '',
    message: `the file is too large: a configuration may be at most 1 MiB (${MAX_CONFIG_BYTES} bytes), this one is ${size}`,
  };
}

/** Lexer tokens that are a key or a value (a block collection is implied by its first key or `-`). */
const VALUE_TOKENS: ReadonlySet<string | null> = new Set([
  'scalar',
  'single-quoted-scalar',
  'double-quoted-scalar',
  'alias',
  'flow-map-start',
  'flow-seq-start',
]);

/**
 * The first place the text goes over MAX_CONFIG_VALUES keys and values or
 * MAX_CONFIG_DEPTH levels, if any. yaml's parser keeps its open collections
 * on a stack of its own (`parser.stack`) rather than recursing, so feeding
 * it one token at a time and looking at that stack stops at the first level
 * too deep, having built no more than that.
 */
function scan(text: string, lineCounter: LineCounter): { offset: number; message: string } | undefined {
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0); // parse() would; next() does not
  let values = 0;
  for (const lexeme of new Lexer().lex(text)) {
    const offset = parser.offset;
    for (const _document of parser.next(lexeme)) {
      // Complete documents are of no interest here: only what it took to get there.
    }
    if (VALUE_TOKENS.has(CST.tokenType(lexeme)) && ++values > MAX_CONFIG_VALUES) {
      return {
        offset,
        message: `YAML: more than ${MAX_CONFIG_VALUES} keys and values; a configuration has a few hundred`,
      };
    }
    if (parser.stack.length <= MAX_CONFIG_DEPTH) continue;
    const open = parser.stack.filter(
      (token) => token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection',
    );
    const tooDeep = open[MAX_CONFIG_DEPTH];
    if (tooDeep) {
      return {
        offset: tooDeep.offset,
        message: `YAML: nested more than ${MAX_CONFIG_DEPTH} levels deep (lists and mappings inside each other)`,
      };
    }
  }
  return undefined;
}

interface AliasProblem {
  offset: number;
  path: ConfigPath;
  message: string;
}

/**
 * What would go wrong expanding the aliases (yaml's toJS()): an alias with
 * no anchor before it, one inside the value it names (a loop), more than
 * MAX_ALIAS_COUNT alias uses or MAX_ALIAS_VALUES added values once expanded.
 * The first such alias in file order, with where it is. Recursive: only run
 * on a document tooDeep() has passed.
 */
function aliasProblem(doc: Document): AliasProblem | undefined {
  const anchors = new Map<string, unknown>(); // the latest node with each anchor, in file order
  const expanded = new Map<unknown, { values: number; aliases: number }>();
  const open = new Set<unknown>(); // collections being walked: an alias to one is a loop
  let aliases = 0;
  let values = 0;
  const fail = (node: unknown, path: ConfigPath, message: string): never => {
    throw new AliasFailure({ offset: start(node) ?? 0, path, message });
  };
  const walk = (node: unknown, path: ConfigPath): { values: number; aliases: number } => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined)
        return fail(node, path, `YAML: alias *${node.source} has no anchor &${node.source} before it`);
      if (open.has(target))
        return fail(node, path, `YAML: alias *${node.source} is inside the value it names`);
      const inner = expanded.get(target) ?? { values: 1, aliases: 0 };
      aliases += 1 + inner.aliases;
      values += inner.values;
      if (aliases > MAX_ALIAS_COUNT)
        fail(
          node,
          path,
          `YAML: too many aliases: more than ${MAX_ALIAS_COUNT} once aliases inside aliases are counted`,
        );
      if (values > MAX_ALIAS_VALUES)
        fail(node, path, `YAML: aliases add more than ${MAX_ALIAS_VALUES} values to the file once expanded`);
      return { values: inner.values, aliases: 1 + inner.aliases };
    }
    const anchor = (node as { anchor?: string } | null | undefined)?.anchor;
    if (anchor) anchors.set(anchor, node);
    const total = { values: 1, aliases: 0 };
    if (isCollection(node)) {
      open.add(node);
      for (const [index, item] of node.items.entries()) {
        const parts = isPair(item)
          ? [
              walk(item.key, path),
              walk(item.value, [...path, isScalar(item.key) ? String(item.key.value) : index]),
            ]
          : [walk(item, [...path, index])];
        for (const part of parts) {
          total.values += part.values;
          total.aliases += part.aliases;
        }
      }
      open.delete(node);
    } else if (node === null || node === undefined) {
      total.values = 0;
    }
    if (anchor) expanded.set(node, total);
    return total;
  };
  try {
    walk(doc.contents, []);
  } catch (error) {
    if (error instanceof AliasFailure) return error.problem;
    throw error;
  }
  return undefined;
}

class AliasFailure extends Error {
  constructor(readonly problem: AliasProblem) {
    super(problem.message);
  }
}

/** Where the file's first alias is, for an alias error yaml found that aliasProblem() did not. */
function firstAlias(doc: Document): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      found = start(node);
      return visit.BREAK;
    },
  });
  return found;
}

/** Where the built-in configuration serves the API: loopback only, where the `pipdu` CLI looks by default. */
export const DEFAULT_API_LISTEN = '127.0.0.1:8080';

/**
 * The built-in configuration used when there is no file: the simulator board
 * and the API on loopback (so `pipdu status` and `curl` work out of the box),
 * everything else default.
 */
export function defaultConfig(): PduConfig {
  const result = validateConfig({
    version: 1,
    board: { driver: 'simulator' },
    api: { listen: DEFAULT_API_LISTEN },
  });
  if (!result.ok) throw new Error(`built-in defaults are invalid: ${result.issues[0]?.message}`);
  return result.config;
}

/** Reads and validates one file; a missing or unreadable file is a PduError (BAD_CONFIG), not a ConfigError. */
export async function loadConfigFile(file: string, options: { cwd?: string } = {}): Promise<PduConfig> {
  const cwd = options.cwd ?? process.cwd();
  const shown = displayPath(file, cwd);
  const text = await readText(path.resolve(cwd, file), shown);
  if (text === undefined) throw new PduError('BAD_CONFIG', `no configuration file at ${shown}`);
  return parseConfig(text, shown);
}

/**
 * The daemon's configuration: the file named by PIPDU_CONFIG (which must
 * exist: a typo there must not silently start the simulator), else
 * config/pipdu.yaml if it exists, else the built-in simulator defaults
 * (`file: null`). `file` is the absolute path that was read.
 */
export async function loadConfig(
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ config: PduConfig; file: string | null }> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named = env.PIPDU_CONFIG;
  if (named) {
    const file = path.resolve(cwd, named);
    const text = await readText(file, displayPath(file, cwd));
    if (text === undefined) {
      throw new PduError('BAD_CONFIG', `PIPDU_CONFIG names ${displayPath(file, cwd)}, which does not exist`);
    }
    return { config: parseConfig(text, displayPath(file, cwd)), file };
  }
  const file = path.resolve(cwd, DEFAULT_CONFIG_PATH);
  const text = await readText(file, displayPath(file, cwd));
  if (text === undefined) return { config: defaultConfig(), file: null };
  return { config: parseConfig(text, displayPath(file, cwd)), file };
}

/**
 * The file's text, or undefined if it does not exist. Reads at most
 * MAX_CONFIG_BYTES + 1 bytes, whatever the file claims to be (a FIFO or a
 * device has no size): a larger file is a ConfigError labelled `shown`.
 */
async function readText(file: string, shown: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, 'r');
    const stats = await handle.stat();
    if (stats.isFile() && stats.size > MAX_CONFIG_BYTES) throw new ConfigError([tooLarge(shown, stats.size)]);
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CONFIG_BYTES) throw new ConfigError([tooLarge(shown, undefined)]);
    }
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PduError('BAD_CONFIG', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  } finally {
    await handle?.close();
  }
}
