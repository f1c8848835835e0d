#!/usr/bin/env node
// `node scripts/run-entry.mjs <entry.ts> [args...]`: what `npm run pipdu`,
// `check-config`, `deploy-commands` and `simulator` run. With the dev
// dependencies installed (a checkout) it runs the TypeScript source under tsx,
// so nothing needs building first; after `npm prune --omit=dev` (an install)
// it runs the compiled file in dist/, so no tsx or tsc is needed at run time.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const [entry, ...args] = process.argv.slice(2);
if (!entry?.endsWith('.ts')) {
  process.stderr.write('usage: node scripts/run-entry.mjs <entry.ts> [args...]\n');
  process.exit(2);
}

let tsx = null;
try {
  tsx = import.meta.resolve('tsx');
} catch {
  // Pruned: the compiled file below.
}

if (tsx) {
  // Its own process, so the module loader flags (--import tsx) reach the config loader's child too.
  const child = spawn(process.execPath, ['--import', tsx, resolve(root, entry), ...args], {
    stdio: 'inherit',
  });
  // The terminal's Ctrl-C reaches the child directly (same process group); this one waits for it.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  process.on('SIGHUP', () => child.kill('SIGHUP'));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal === 'SIGINT' ? 'SIGTERM' : signal);
    process.exit(code ?? 1);
  });
} else {
  const compiled = join(root, 'dist', entry.replace(/\.ts$/, '.js'));
  if (!existsSync(compiled)) {
    process.stderr.write(
      `${compiled} is not built, and tsx is not installed: run \`npm ci && npm run build\`\n`,
    );
    process.exit(2);
  }
  process.argv = [process.argv[0], compiled, ...args];
  await import(pathToFileURL(compiled).href);
}
