/**
 * The child side of load-isolated.ts: loads the configuration as the daemon
 * would (`--file <path>`: that file, for a reload; else loadConfig()) and
 * writes the outcome to stdout as one JSON object. Not for people: use
 * `npm run check-config`.
 */
import { PduError } from '../errors.js';
import { ConfigError } from './config-error.js';
import { loadConfig, loadConfigFile } from './load.js';

export type ChildOutcome =
  | { ok: true; config: unknown; file: string | null }
  | { ok: false; kind: 'config'; issues: ConfigError['issues'] }
  | { ok: false; kind: 'pdu'; code: PduError['code']; message: string }
  | { ok: false; kind: 'other'; message: string };

async function outcome(argv: string[]): Promise<ChildOutcome> {
  const fileFlag = argv.indexOf('--file');
  try {
    if (fileFlag !== -1) {
      const file = argv[fileFlag + 1] ?? '';
      return { ok: true, config: await loadConfigFile(file), file };
    }
    const { config, file } = await loadConfig();
    return { ok: true, config, file };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, kind: 'config', issues: error.issues };
    if (error instanceof PduError)
      return { ok: false, kind: 'pdu', code: error.code, message: error.message };
    return { ok: false, kind: 'other', message: error instanceof Error ? error.message : String(error) };
  }
}

process.stdout.write(`${JSON.stringify(await outcome(process.argv.slice(2)))}\n`);
