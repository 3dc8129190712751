/** The login form: ADMIN_PASSWORD (or the admin API key when no password is set). */
import { useState } from 'preact/hooks';
import { ApiError, login } from '../api.js';
import { errorText } from '../format.js';
import { ErrorAlert } from './error-alert.js';

/** The rate limit's answer, with when to try again (Retry-After) when the server said. */
function tooManyText(retryAfter: number | undefined): string {
  if (retryAfter === undefined) return 'Too many failed attempts. Wait a minute and try again.';
  const at = new Date(Date.now() + retryAfter * 1000).toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  return `Too many failed attempts. Try again in ${Math.ceil(retryAfter)} s (at ${at}).`;
}

/** `notice`: why the form is back (the login ended while the page was open). */
export function LoginPage({ onLoggedIn, notice }: { onLoggedIn: () => void; notice?: string | null }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(password);
      onLoggedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('Wrong password.');
      else if (err instanceof ApiError && err.status === 429) setError(tooManyText(err.retryAfter));
      else setError(`Could not log in: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login" id="main">
      <h1>Shared Context Server</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} class="card">
        <label for="password">Admin password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          aria-describedby={error ? 'login-error' : 'login-hint'}
          aria-invalid={error ? 'true' : undefined}
        />
        <p id="login-hint" class="hint">
          ADMIN_PASSWORD, or the admin API key when no password is set.
        </p>
        <ErrorAlert error={error} id="login-error" />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
