/**
 * One session: its messages in id order (threads indented), live from `message` frames, paged by
 * before_id. At most MAX_RENDERED messages are in the DOM at once (a session may hold 10,000+): live
 * messages push the oldest out, loading older pages pushes the newest out (then live ones wait behind a
 * "newest" button instead of being appended).
 */
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText, formatTime } from '../format.js';
import { useLiveFrames, useReloadOnReconnect } from '../hooks.js';
import { threadOrder } from '../threads.js';
import type { Message, MessagePage, SessionRow } from '../types.js';
import { MessageItem } from './message-item.js';
import { Compose } from './compose.js';
import { SearchBox } from './search-box.js';

const PAGE = 200;
const MAX_RENDERED = 500;

const byId = (a: Message, b: Message) => a.id - b.id;

/** Merges two id-ordered lists without duplicates (a live frame may repeat a message a page already has). */
function merge(a: readonly Message[], b: readonly Message[]): Message[] {
  const map = new Map<number, Message>();
  for (const m of a) map.set(m.id, m);
  for (const m of b) map.set(m.id, m);
  return [...map.values()].sort(byId);
}

export function SessionPage({ id }: { id: string }) {
  const [session, setSession] = useState<SessionRow | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [hasOlder, setHasOlder] = useState(false);
  // False once the window no longer ends at the newest message (older pages pushed newer ones out).
  const [atNewest, setAtNewest] = useState(true);
  const [pendingNew, setPendingNew] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  const path = `sessions/${encodeURIComponent(id)}`;

  /** The newest page (the API answers the newest when no after_id is given): the window everyone
   * starts from, and what a reconnect re-reads. */
  const loadNewest = useCallback(async () => {
    try {
      const [s, page] = await Promise.all([
        api.get<SessionRow | { session: SessionRow }>(path),
        api.get<MessagePage>(`${path}/messages`, { limit: PAGE }),
      ]);
      setSession('session' in s ? s.session : s);
      setMessages([...page.messages].sort(byId));
      setHasOlder(page.has_more);
      setAtNewest(true);
      setPendingNew(0);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setLoading(false);
    }
  }, [path]);

  useEffect(() => void loadNewest(), [loadNewest]);
  useReloadOnReconnect(() => void loadNewest());

  const loadOlder = async () => {
    const oldest = messages[0];
    if (!oldest) return;
    try {
      const page = await api.get<MessagePage>(`${path}/messages`, { limit: PAGE, before_id: oldest.id });
      const all = merge(page.messages, messages);
      setHasOlder(page.has_more);
      if (all.length > MAX_RENDERED) {
        setMessages(all.slice(0, MAX_RENDERED));
        setAtNewest(false);
      } else setMessages(all);
    } catch (err) {
      setError(errorText(err));
    }
  };

  /** Shows a message that may be outside the window: loads the page that ends with it. */
  const jumpTo = async (messageId: number) => {
    const el = () => document.getElementById(`msg-${messageId}`);
    if (!el()) {
      try {
        const page = await api.get<MessagePage>(`${path}/messages`, {
          limit: PAGE,
          before_id: messageId + 1,
        });
        setMessages([...page.messages].sort(byId));
        setHasOlder(page.has_more);
        setAtNewest(false);
      } catch (err) {
        setError(errorText(err));
        return;
      }
    }
    requestAnimationFrame(() => {
      const target = el();
      target?.scrollIntoView({ block: 'center' });
      target?.focus({ preventScroll: true });
    });
  };

  useLiveFrames((frame) => {
    if (frame.type === 'message' && frame.message.session_id === id) {
      if (!atNewest) return setPendingNew((n) => n + 1);
      if (messages.length >= MAX_RENDERED) setHasOlder(true);
      setMessages((ms) => {
        const all = merge(ms, [frame.message]);
        return all.length <= MAX_RENDERED ? all : all.slice(all.length - MAX_RENDERED);
      });
      setSession((s) =>
        s ? { ...s, message_count: s.message_count + 1, last_activity: frame.message.timestamp } : s,
      );
    } else if (frame.type === 'session' && frame.session_id === id) {
      setSession((s) => (s ? { ...s, status: frame.status } : s));
    }
  });

  const placed = useMemo(() => threadOrder(messages), [messages]);
  const senders = useMemo(() => new Map(messages.map((m) => [m.id, m.sender])), [messages]);

  return (
    <section aria-labelledby="session-title">
      <p>
        <a href="#/sessions">← All sessions</a>
      </p>
      <h1 id="session-title">{session?.purpose || id}</h1>
      {session && (
        <p class="sub">
          <span class={`badge status-${session.status}`}>{session.status}</span> · {session.message_count}{' '}
          messages · {session.agent_count} agents · created by {session.created_by}{' '}
          {formatTime(session.created_at)} · <code>{id}</code>
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <SearchBox path={path} onJump={(mid) => void jumpTo(mid)} />
      {hasOlder && (
        <button type="button" class="secondary" onClick={() => void loadOlder()}>
          Load older messages
        </button>
      )}
      {loading && <p class="loading">Loading messages…</p>}
      {!loading && messages.length === 0 && !error && <p class="empty">No messages yet.</p>}
      <ol class="messages" aria-label="Messages" aria-live="polite" aria-relevant="additions">
        {placed.map((p) => (
          <MessageItem
            key={p.message.id}
            message={p.message}
            depth={p.depth}
            parentSender={
              p.message.parent_message_id === null ? undefined : senders.get(p.message.parent_message_id)
            }
            onJump={(mid) => void jumpTo(mid)}
          />
        ))}
      </ol>
      {!atNewest && (
        <button type="button" onClick={() => void loadNewest()}>
          Show newest{pendingNew > 0 ? ` (${pendingNew} new)` : ''}
        </button>
      )}
      <Compose path={path} />
    </section>
  );
}
