/**
 * One session: its messages in id order (threads indented), live from `message` frames, paged by
 * before_id as the reader scrolls up. Every loaded message stays in memory, but only the rows in view
 * are in the DOM (VirtualList), so a session of 10,000+ messages stays responsive.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { useNewMessageAnnouncer } from '../announce.js';
import { errorText, formatTime } from '../format.js';
import { useLiveFrames, useReloadOnReconnect } from '../hooks.js';
import { threadOrder, type Placed } from '../threads.js';
import type { Message, MessagePage, SessionRow } from '../types.js';
import { VirtualList } from '../virtual-list.js';
import { MessageItem } from './message-item.js';
import { Compose } from './compose.js';
import { SearchBox } from './search-box.js';
import { ErrorAlert } from './error-alert.js';

const PAGE = 200;
/** The operator's own messages are not announced: they wrote them. */
const OPERATOR = 'dashboard';
/** The API's largest page: what a jump to an old message pages by. */
const BIG_PAGE = 1000;

const byId = (a: Message, b: Message) => a.id - b.id;
const keyOf = (p: Placed) => p.message.id;

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
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [reveal, setReveal] = useState<{ key: number } | null>(null);
  // The latest state for async paging (a scroll may ask again before the page arrives).
  const state = useRef({ messages, hasOlder, busy: false });
  state.current.messages = messages;
  state.current.hasOlder = hasOlder;

  const [announcement, announce] = useNewMessageAnnouncer();
  const path = `sessions/${encodeURIComponent(id)}`;

  /** The newest page (the API answers the newest when no after_id is given): where everyone starts,
   * and what a reconnect re-reads. */
  const loadNewest = useCallback(async () => {
    try {
      const [s, page] = await Promise.all([
        api.get<SessionRow | { session: SessionRow }>(path),
        api.get<MessagePage>(`${path}/messages`, { limit: PAGE }),
      ]);
      setSession('session' in s ? s.session : s);
      setMessages([...page.messages].sort(byId));
      setHasOlder(page.has_more);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setLoading(false);
    }
  }, [path]);

  useEffect(() => void loadNewest(), [loadNewest]);
  useReloadOnReconnect(() => void loadNewest());

  /** Loads the page before the oldest loaded message; answers the merged list (null when none). */
  const loadOlder = async (limit = PAGE): Promise<Message[] | null> => {
    const cur = state.current;
    const oldest = cur.messages[0];
    if (!oldest || !cur.hasOlder || cur.busy) return null;
    cur.busy = true;
    try {
      const page = await api.get<MessagePage>(`${path}/messages`, { limit, before_id: oldest.id });
      const all = merge(page.messages, state.current.messages);
      cur.messages = all;
      cur.hasOlder = page.has_more;
      setMessages(all);
      setHasOlder(page.has_more);
      return all;
    } catch (err) {
      setError(errorText(err));
      return null;
    } finally {
      cur.busy = false;
    }
  };

  /** Shows a message that may not be loaded yet: pages older ones in until it is (the list stays
   * contiguous, so threads and scrolling stay simple). */
  const jumpTo = async (messageId: number) => {
    let all: readonly Message[] | null = state.current.messages;
    while (all && !all.some((m) => m.id === messageId) && (all[0]?.id ?? 0) > messageId) {
      all = await loadOlder(BIG_PAGE);
    }
    setReveal({ key: messageId });
  };

  useLiveFrames((frame) => {
    if (frame.type === 'message' && frame.message.session_id === id) {
      const m = frame.message;
      // The virtualized list is no live region: new messages are announced here, coalesced.
      if (m.sender !== OPERATOR && !state.current.messages.some((x) => x.id === m.id)) announce(m.sender);
      setMessages((ms) => merge(ms, [frame.message]));
      setSession((s) =>
        s ? { ...s, message_count: s.message_count + 1, last_activity: frame.message.timestamp } : s,
      );
    } else if (frame.type === 'session' && frame.session_id === id) {
      setSession((s) => (s ? { ...s, status: frame.status } : s));
    }
  });

  const placed = useMemo(() => threadOrder(messages), [messages]);
  const senders = useMemo(() => new Map(messages.map((m) => [m.id, m.sender])), [messages]);
  const renderRow = useCallback(
    (p: Placed) => (
      <MessageItem
        key={p.message.id}
        message={p.message}
        depth={p.depth}
        parentSender={
          p.message.parent_message_id === null ? undefined : senders.get(p.message.parent_message_id)
        }
        onJump={(mid) => void jumpTo(mid)}
      />
    ),
    [senders],
  );

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
      {session && (
        <SessionActions
          id={id}
          path={path}
          status={session.status}
          onStatus={(status) => setSession((s) => (s ? { ...s, status } : s))}
          onError={setError}
        />
      )}
      <ErrorAlert error={error} />
      <SearchBox path={path} onJump={(mid) => void jumpTo(mid)} />
      {hasOlder && (
        <button type="button" class="secondary" onClick={() => void loadOlder()}>
          Load older messages
        </button>
      )}
      {loading && <p class="loading">Loading messages…</p>}
      {!loading && messages.length === 0 && !error && <p class="empty">No messages yet.</p>}
      <VirtualList
        items={placed}
        keyOf={keyOf}
        render={renderRow}
        label="Messages"
        onNearTop={() => void loadOlder()}
        reveal={reveal}
      />
      <Compose path={path} />
      <div class="visually-hidden" aria-live="polite" aria-atomic="true" data-announcer="messages">
        {announcement}
      </div>
    </section>
  );
}

interface ActionsProps {
  id: string;
  path: string;
  status: string;
  onStatus: (status: string) => void;
  onError: (message: string) => void;
}

/** Archive or reopen, the exports as downloads, and the timeline link. */
function SessionActions({ id, path, status, onStatus, onError }: ActionsProps) {
  const [busy, setBusy] = useState(false);
  const next = status === 'archived' ? 'active' : 'archived';
  const toggle = async () => {
    setBusy(true);
    try {
      const res = await api.post<{ session: SessionRow }>(`${path}/status`, { status: next });
      onStatus(res.session.status);
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <p class="toolbar session-actions">
      <button type="button" class="secondary" disabled={busy} onClick={() => void toggle()}>
        {status === 'archived' ? 'Reopen' : 'Archive'}
      </button>
      <a href={`/ui/api/${path}/export?format=json`} download={`${id}.json`}>
        Export JSON
      </a>
      <a href={`/ui/api/${path}/export?format=md`} download={`${id}.md`}>
        Export Markdown
      </a>
      <a href={`#/sessions/${encodeURIComponent(id)}/timeline`}>Timeline</a>
    </p>
  );
}
