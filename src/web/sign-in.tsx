import { useState } from 'preact/hooks';
import { ApiFailure, api } from './api.js';

/** The password sign-in (POST /api/v1/session); `done` once the cookie is set. */
export function SignIn({ why, done }: { why: string; done(): void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/api/v1/session', { user, password });
      setPassword('');
      done();
    } catch (failure) {
      setError(signInProblem(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="sign-in" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <p>{why}</p>
      <form onSubmit={submit}>
        <label>
          User
          <input
            name="user"
            autoComplete="username"
            required
            value={user}
            onInput={(e) => setUser(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}

function signInProblem(failure: unknown): string {
  if (!(failure instanceof ApiFailure)) return String(failure);
  if (failure.status === 401) return 'Wrong user or password.';
  if (failure.status === 429) {
    const wait = failure.retryAfterS;
    const when =
      wait === null ? 'a while' : wait < 90 ? `${wait} seconds` : `about ${Math.ceil(wait / 60)} minutes`;
    return `Too many failed sign-ins: try again in ${when}.`;
  }
  if (failure.status === 404) return 'Password sign-in is not available on this PiPDU.';
  return failure.message;
}
