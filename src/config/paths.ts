import path from 'node:path';

// yaml- and zod-free, so the daemon's side of load-isolated.ts can name files too.

/** Where the daemon looks when PIPDU_CONFIG is not set, relative to the working directory. */
export const DEFAULT_CONFIG_PATH = 'config/pipdu.yaml';

/** How a file is named in messages: relative to cwd when inside it, else absolute. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const absolute = path.resolve(cwd, file);
  const relative = path.relative(cwd, absolute);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute;
}
