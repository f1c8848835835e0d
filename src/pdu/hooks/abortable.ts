/**
 * Small helpers the step runners share: waiting that a cancel ends at once,
 * and durations written for people.
 *
 * Rule they keep for the runners: once a wait ends, by its time or by the
 * signal, nothing of it is left behind (no timer, no abort listener).
 */

/**
 * Calls `listener` once when `signal` aborts, at once (synchronously) if it
 * already has. Returns the function that removes the listener; call it when
 * the work is done so long-lived signals do not collect listeners.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  if (signal.aborted) {
    listener();
    return () => {};
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

/**
 * Resolves after `ms` milliseconds; rejects with `signal.reason` as soon as
 * the signal aborts (at once if it already has), clearing its timer.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const removeListener = onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
    if (signal.aborted) return;
    timer = setTimeout(() => {
      removeListener();
      resolve();
    }, ms);
  });
}

/** Milliseconds for people: `12 ms`, `3.2 s`, `41 s`, `2 min`, `1.5 min`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${Number((ms / 60_000).toFixed(1))} min`;
}
