/** A failed API call, in words for the page (never a silent no-op). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds the daemon asks to wait before trying again (Retry-After), when it says. */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

/**
 * One call to the daemon's API, same origin, the session cookie (if any)
 * included. Resolves with the JSON answer (undefined for 204); rejects with
 * an ApiFailure carrying the API's error code and message.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure(
      0,
      'NETWORK',
      'The PiPDU daemon cannot be reached (network error); nothing was sent.',
    );
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {}
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    const retry = Number(response.headers.get('retry-after') ?? Number.NaN);
    throw new ApiFailure(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? `The daemon answered ${response.status} ${response.statusText}.`,
      Number.isFinite(retry) ? retry : null,
    );
  }
  return parsed as T;
}
