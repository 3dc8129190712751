/** The sessions table: filter by text and status; rows update from live frames. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText, formatTime } from '../format.js';
import { useLiveFrames, useReloadOnReconnect } from '../hooks.js';
import { hrefFor } from '../router.js';
import type { LiveFrame, SessionRow } from '../types.js';
import { ErrorAlert } from './error-alert.js';

interface SessionsAnswer {
  sessions: SessionRow[];
  next_cursor?: string | null;
}

export function SessionsPage() {
  const [rows, setRows] = useState<SessionRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [q, setQ] = useState('');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(async () => {
    try {
      const res = await api.get<SessionsAnswer>('sessions', { q, status });
      setRows(res.sessions);
      setNext(res.next_cursor ?? null);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setLoaded(true);
    }
  }, [q, status]);

  // The filter re-reads after a short pause in typing, not on every key.
  useEffect(() => {
    const t = setTimeout(() => void load(), q ? 250 : 0);
    return () => clearTimeout(t);
  }, [load]);
  useReloadOnReconnect(() => void load());

  const loadMore = async () => {
    if (!next) return;
    try {
      const res = await api.get<SessionsAnswer>('sessions', { q, status, cursor: next });
      setRows((r) => [...r, ...res.sessions]);
      setNext(res.next_cursor ?? null);
    } catch (err) {
      setError(errorText(err));
    }
  };

  /** A session the table does not show yet: re-read once a burst of frames is over. */
  const scheduleReload = () => {
    if (reloadTimer.current !== null) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = null;
      void load();
    }, 500);
  };
  useEffect(() => () => clearTimeout(reloadTimer.current ?? undefined), []);

  useLiveFrames((frame: LiveFrame) => {
    if (frame.type === 'message') {
      const m = frame.message;
      if (!rows.some((r) => r.session_id === m.session_id)) return scheduleReload();
      setRows((rs) =>
        rs.map((r) =>
          r.session_id === m.session_id
            ? { ...r, message_count: r.message_count + 1, last_activity: m.timestamp }
            : r,
        ),
      );
    } else if (frame.type === 'session') {
      if (!rows.some((r) => r.session_id === frame.session_id)) return scheduleReload();
      setRows((rs) =>
        rs.map((r) => (r.session_id === frame.session_id ? { ...r, status: frame.status } : r)),
      );
    }
  });

  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions</h1>
      <div class="toolbar" role="search">
        <label for="session-filter">Filter</label>
        <input
          id="session-filter"
          type="search"
          placeholder="Purpose or id"
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
        <label for="session-status">Status</label>
        <select id="session-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">Any</option>
          <option value="active">Active</option>
          <option value="archived">Archived</option>
        </select>
      </div>
      <ErrorAlert error={error} />
      <div class="table-wrap">
        <table class="sessions">
          <caption class="visually-hidden">Sessions, most recent first</caption>
          <thead>
            <tr>
              <th scope="col">Purpose</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Messages
              </th>
              <th scope="col" class="num">
                Agents
              </th>
              <th scope="col">Last activity</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.session_id} data-session-id={s.session_id}>
                <td>
                  <a href={hrefFor({ page: 'session', id: s.session_id })}>{s.purpose || s.session_id}</a>
                  <div class="sub">{s.session_id}</div>
                </td>
                <td>
                  <span class={`badge status-${s.status}`}>{s.status}</span>
                </td>
                <td class="num" data-col="messages">
                  {s.message_count}
                </td>
                <td class="num">{s.agent_count}</td>
                <td>{formatTime(s.last_activity ?? s.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {loaded && rows.length === 0 && !error && <p class="empty">No sessions match.</p>}
      {next && (
        <button type="button" class="secondary" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
    </section>
  );
}
