/** A message from the operator (POST sessions/{id}/messages); it comes back through the live socket. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText } from '../format.js';

const VISIBILITIES = ['public', 'private', 'agent_only', 'admin_only'] as const;

export function Compose({ path }: { path: string }) {
  const [content, setContent] = useState('');
  const [visibility, setVisibility] = useState<string>('public');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (e: Event) => {
    e.preventDefault();
    if (!content.trim()) return;
    setBusy(true);
    try {
      await api.post(`${path}/messages`, { content, visibility });
      setContent('');
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="compose card" onSubmit={(e) => void send(e)}>
      <label for="compose-content">Message as operator</label>
      <textarea
        id="compose-content"
        rows={3}
        value={content}
        onInput={(e) => setContent(e.currentTarget.value)}
      />
      <div class="toolbar">
        <label for="compose-visibility">Visibility</label>
        <select
          id="compose-visibility"
          value={visibility}
          onChange={(e) => setVisibility(e.currentTarget.value)}
        >
          {VISIBILITIES.map((v) => (
            <option value={v}>{v}</option>
          ))}
        </select>
        <button type="submit" disabled={busy}>
          Send
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
