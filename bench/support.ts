import { access } from 'node:fs/promises';

/** Polls until `path` exists (a socat pty link), or fails after `timeoutMs`. */
export async function waitForPath(path: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${path} did not appear`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
