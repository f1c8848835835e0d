import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PduError } from '../errors.js';
import { ConfigError } from './config-error.js';
import type { ChildOutcome } from './load-child.js';
import type { PduConfig } from './schema.js';

/**
 * loadConfig() / loadConfigFile() (load.ts) in a short-lived child process.
 *
 * Validating takes yaml, zod and the schema: about 18 MB of resident memory
 * that a daemon would keep for nothing after start-up (modules are never
 * unloaded), on a Pi that has little. The child returns the validated config
 * as plain data; failures come back as the same errors: ConfigError with
 * every issue, PduError BAD_CONFIG for a missing or unreadable file. Costs
 * about 0.1–0.3 s per load (start-up and reloads only).
 */
export async function loadConfigIsolated(
  options: { file?: string } = {},
): Promise<{ config: PduConfig; file: string | null }> {
  const here = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    [
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
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  let outcome: ChildOutcome;
  try {
    outcome = JSON.parse(stdout) as ChildOutcome;
  } catch {
    throw new PduError(
      'BAD_CONFIG',
      `could not load the configuration: the loader exited with ${code}${stderr ? `: ${stderr.trim()}` : ''}`,
    );
  }
  if (outcome.ok) return { config: outcome.config as PduConfig, file: outcome.file };
  if (outcome.kind === 'config') throw new ConfigError(outcome.issues);
  if (outcome.kind === 'pdu') throw new PduError(outcome.code, outcome.message);
  throw new PduError('BAD_CONFIG', `could not load the configuration: ${outcome.message}`);
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
