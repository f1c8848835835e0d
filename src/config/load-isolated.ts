import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PduError } from '../errors.js';
import { ConfigError } from './config-error.js';
import type { ChildOutcome } from './load-child.js';
import { DEFAULT_CONFIG_PATH, displayPath } from './paths.js';
import type { PduConfig } from './schema.js';

/** The loader child's V8 heap limit: the worst file within load.ts's limits needs about a third of it. */
export const LOADER_MEMORY_MB = 64;
/** How long the loader child may take: it needs well under a second, even on a Pi. */
export const LOADER_TIMEOUT_MS = 30_000;
/** Of the child's stderr, only this much is kept (a V8 crash report runs to pages). */
const STDERR_KEPT = 16 * 1024;

export interface LoadIsolatedOptions {
  /** That file (a reload); default loadConfig()'s choice (PIPDU_CONFIG, else config/pipdu.yaml, else defaults). */
  file?: string;
  /** The child's heap limit in MB; default LOADER_MEMORY_MB (tests lower it). */
  memoryMb?: number;
  /** The child's time limit; default LOADER_TIMEOUT_MS (tests lower it). */
  timeoutMs?: number;
}

/**
 * loadConfig() / loadConfigFile() (load.ts) in a short-lived child process.
 *
 * Validating takes yaml, zod and the schema: about 18 MB of resident memory
 * that a daemon would keep for nothing after start-up (modules are never
 * unloaded), on a Pi that has little. The child returns the validated config
 * as plain data; failures come back as the same errors: ConfigError with
 * every issue, PduError BAD_CONFIG for a missing or unreadable file.
 *
 * The child runs with a heap limit and a time limit (load.ts refuses files
 * that would need more, but what it cannot foresee must not take the Pi
 * down). A child that goes over either is a ConfigError on the file, line 1.
 * Costs about 0.1–0.3 s per load (start-up and reloads only).
 */
export async function loadConfigIsolated(
  options: LoadIsolatedOptions = {},
): Promise<{ config: PduConfig; file: string | null }> {
  const memoryMb = options.memoryMb ?? LOADER_MEMORY_MB;
  const timeoutMs = options.timeoutMs ?? LOADER_TIMEOUT_MS;
  const here = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    [
      `--max-old-space-size=${memoryMb}`,
      ...moduleLoaderFlags(process.execArgv),
      path.join(path.dirname(here), `load-child${path.extname(here)}`),
      ...(options.file === undefined ? [] : ['--file', options.file]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < STDERR_KEPT) stderr += chunk;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
    },
  ).finally(() => clearTimeout(timer));

  // What the child was loading, as load.ts would name it, for errors it could not report itself.
  const file = displayPath(options.file ?? (process.env.PIPDU_CONFIG || DEFAULT_CONFIG_PATH));
  const onFile = (message: string) => new ConfigError([{ file, line: 1, column: 1, path: '', message }]);
  if (timedOut) {
    throw onFile(
      `loading this file took longer than ${formatSeconds(timeoutMs)}, the config loader's limit; it was stopped`,
    );
  }
  if (/heap out of memory|Reached heap limit/.test(stderr)) {
    throw onFile(
      `loading this file needed more than ${memoryMb} MB of memory, the config loader's limit; it was stopped`,
    );
  }
  let outcome: ChildOutcome;
  try {
    outcome = JSON.parse(stdout) as ChildOutcome;
  } catch {
    throw new PduError(
      'BAD_CONFIG',
      `could not load the configuration: the loader ${signal ? `was killed by ${signal}` : `exited with ${code}`}${errorLine(stderr)}`,
    );
  }
  if (outcome.ok) return { config: outcome.config as PduConfig, file: outcome.file };
  if (outcome.kind === 'config') throw new ConfigError(outcome.issues);
  if (outcome.kind === 'pdu') throw new PduError(outcome.code, outcome.message);
  throw new PduError('BAD_CONFIG', `could not load the configuration: ${outcome.message}`);
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** `: <the error line>` of a crashed child's stderr (not its stack), or ''. */
function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  const line = lines.find((text) => /^\w*Error\b/.test(text)) ?? lines.filter(Boolean).at(-1);
  return line ? `: ${line.slice(0, 300)}` : '';
}

/**
 * The flags of `execArgv` that decide how modules load (`--import`, `--require`,
 * `--loader`, `--conditions`: under tsx the child must load .ts too) and nothing
 * else. `-e`/`-p` would make the child run the parent's script again (and load
 * this config again, without end); `--inspect` would fight over its port.
 */
export function moduleLoaderFlags(execArgv: readonly string[]): string[] {
  const withValue = new Set([
    '--import',
    '--require',
    '-r',
    '--loader',
    '--experimental-loader',
    '--conditions',
    '-C',
  ]);
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i] as string;
    const name = flag.split('=', 1)[0] as string;
    if (!withValue.has(name)) continue;
    if (flag.includes('=')) kept.push(flag);
    else if (i + 1 < execArgv.length) kept.push(flag, execArgv[++i] as string);
  }
  return kept;
}
