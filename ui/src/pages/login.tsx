/** The login form: ADMIN_PASSWORD (or the admin API key when no password is set). */
import { useState } from 'preact/hooks';
import { ApiError, login } from '../api.js';
import { errorText } from '../format.js';
import { ErrorAlert } from './error-alert.js';

export function LoginPage({ onLoggedIn }: { onLoggedIn: () => void }) {
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
      else if (err instanceof ApiError && err.status === 429)
        setError('Too many failed attempts. Wait a minute and try again.');
      else setError(`Could not log in: ${errorText(err)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login" id="main">
      <h1>Shared Context Server</h1>
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
