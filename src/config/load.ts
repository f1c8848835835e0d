import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type Document,
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
} from 'yaml';
import { PduError } from '../errors.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { type ConfigPath, formatPath, type PduConfig, validateConfig } from './schema.js';

/** Where the daemon looks when PIPDU_CONFIG is not set, relative to the working directory. */
export const DEFAULT_CONFIG_PATH = 'config/pipdu.yaml';

/**
 * Parses and validates config text. `file` only labels the issues and is
 * used as given (loadConfig passes the path relative to the working
 * directory, or the absolute path for a file outside it). Throws ConfigError
 * with every problem: YAML syntax errors, or else every schema issue.
 */
export function parseConfig(text: string, file: string): PduConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number, configPath: string, message: string): ConfigIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line: Math.max(line, 1), column: Math.max(col, 1), path: configPath, message };
  };

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

  const result = validateConfig(doc.toJS());
  if (result.ok) return result.config;
  const issues = result.issues.map((issue) =>
    at(locate(doc, issue.path, issue.atKey), formatPath(issue.path), issue.message),
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

/** How a file is named in messages: relative to cwd when inside it, else absolute. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const absolute = path.resolve(cwd, file);
  const relative = path.relative(cwd, absolute);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute;
}

/** Reads and validates one file; a missing or unreadable file is a PduError (BAD_CONFIG), not a ConfigError. */
export async function loadConfigFile(file: string, options: { cwd?: string } = {}): Promise<PduConfig> {
  const cwd = options.cwd ?? process.cwd();
  const shown = displayPath(file, cwd);
  const text = await readText(path.resolve(cwd, file));
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
    const text = await readText(file);
    if (text === undefined) {
      throw new PduError('BAD_CONFIG', `PIPDU_CONFIG names ${displayPath(file, cwd)}, which does not exist`);
    }
    return { config: parseConfig(text, displayPath(file, cwd)), file };
  }
  const file = path.resolve(cwd, DEFAULT_CONFIG_PATH);
  const text = await readText(file);
  if (text === undefined) return { config: defaultConfig(), file: null };
  return { config: parseConfig(text, displayPath(file, cwd)), file };
}

/** The file's text, or undefined if it does not exist. */
async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PduError('BAD_CONFIG', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}
