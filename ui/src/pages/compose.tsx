/** A message from the operator (POST sessions/{id}/messages); it comes back through the live socket. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText } from '../format.js';
import { ErrorAlert } from './error-alert.js';

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
      <ErrorAlert error={error} />
    </form>
  );
}

/** Revoke an agent's access — every token, and its key (after a confirm step) — and open the overseer form addressed to it. */
export function AgentActions({ agentId, onWrite }: { agentId: string; onWrite: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const revoke = async () => {
    setConfirming(false);
    try {
      const res = await api.post<{ revoked: unknown }>(`agents/${encodeURIComponent(agentId)}/revoke`);
      setResult(res.revoked ? 'Tokens and key revoked.' : 'Tokens revoked.');
    } catch (err) {
      setResult(errorText(err));
    }
  };
  return (
    <div class="toolbar agent-actions">
      <button type="button" class="secondary" onClick={onWrite}>
        Write
      </button>
      {confirming ? (
        <>
          <button type="button" class="danger" onClick={() => void revoke()}>
            Confirm revoke
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </>
      ) : (
        <button type="button" class="secondary" onClick={() => setConfirming(true)}>
          Revoke access
        </button>
      )}
      {result && (
        <span class="sub" role="status">
          {result}
        </span>
      )}
    </div>
  );
}

interface MailProps {
  to: string;
  onTo: (to: string) => void;
  onSent: () => void;
}

/** Mail from the human overseer (POST mail): agents see metadata.from_human. */
export function OverseerMail({ to, onTo, onSent }: MailProps) {
  const [content, setContent] = useState('');
  const [replyTo, setReplyTo] = useState('');
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    if (!to.trim() || !content.trim()) return;
    try {
      const reply = Number.parseInt(replyTo, 10);
      await api.post('mail', {
        to: to.trim(),
        content,
        ...(Number.isFinite(reply) ? { reply_to: reply } : {}),
      });
      setContent('');
      setReplyTo('');
      setNote({ ok: true, text: `Sent to ${to.trim()}.` });
      onSent();
    } catch (err) {
      setNote({ ok: false, text: errorText(err) });
    }
  };
  return (
    <form class="compose card overseer-mail" onSubmit={(e) => void send(e)}>
      <h2>Write as overseer</h2>
      <label for="mail-to">To (agent id)</label>
      <input id="mail-to" value={to} onInput={(e) => onTo(e.currentTarget.value)} />
      <label for="mail-content">Mail</label>
      <textarea
        id="mail-content"
        rows={3}
        value={content}
        onInput={(e) => setContent(e.currentTarget.value)}
      />
      <label for="mail-reply">In reply to mail id (optional)</label>
      <input
        id="mail-reply"
        inputMode="numeric"
        value={replyTo}
        onInput={(e) => setReplyTo(e.currentTarget.value)}
      />
      <div class="toolbar">
        <button type="submit">Send mail</button>
      </div>
      {note && (
        <p class={note.ok ? 'sub' : 'error'} role={note.ok ? 'status' : 'alert'}>
          {note.text}
        </p>
      )}
    </form>
  );
}
