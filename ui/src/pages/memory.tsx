/** Any agent's memory (GET memory): pick the agent, the scope and a key prefix; page by next_cursor. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText, formatTime } from '../format.js';
import type { Agent } from '../types.js';
import { ErrorAlert } from './error-alert.js';

interface MemoryEntry {
  key: string;
  value: unknown;
  scope: 'global' | 'session';
  session_id: string | null;
  version: number;
  updated_at: string;
  expires_at: string | null;
}

interface MemoryPageAnswer {
  entries: MemoryEntry[];
  has_more: boolean;
  next_cursor: string | null;
}

type ScopeChoice = 'global' | 'all' | 'session';

export function MemoryPage() {
  const [agents, setAgents] = useState<Agent[]>([]);
  const [agentId, setAgentId] = useState('');
  const [scope, setScope] = useState<ScopeChoice>('global');
  const [sessionId, setSessionId] = useState('');
  const [prefix, setPrefix] = useState('');
  const [entries, setEntries] = useState<MemoryEntry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<{ agents: Agent[] }>('agents')
      .then((res) => {
        setAgents(res.agents);
        if (res.agents[0]) setAgentId((id) => id || res.agents[0]!.agent_id);
      })
      .catch((err) => setError(errorText(err)));
  }, []);

  const load = async (from: string | null) => {
    if (!agentId) return;
    try {
      const page = await api.get<MemoryPageAnswer>('memory', {
        agent_id: agentId,
        scope: scope === 'global' ? undefined : scope === 'all' ? 'all' : sessionId.trim(),
        prefix: prefix.trim(),
        cursor: from,
      });
      setEntries((old) => (from && old ? [...old, ...page.entries] : page.entries));
      setCursor(page.has_more ? page.next_cursor : null);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section aria-labelledby="memory-title">
      <h1 id="memory-title">Memory</h1>
      <form
        class="toolbar card"
        onSubmit={(e) => {
          e.preventDefault();
          void load(null);
        }}
      >
        <label for="memory-agent">Agent</label>
        <select id="memory-agent" value={agentId} onChange={(e) => setAgentId(e.currentTarget.value)}>
          {agents.map((a) => (
            <option value={a.agent_id}>{a.name ? `${a.name} (${a.agent_id})` : a.agent_id}</option>
          ))}
        </select>
        <label for="memory-scope">Scope</label>
        <select
          id="memory-scope"
          value={scope}
          onChange={(e) => setScope(e.currentTarget.value as ScopeChoice)}
        >
          <option value="global">global</option>
          <option value="session">one session</option>
          <option value="all">all</option>
        </select>
        {scope === 'session' && (
          <>
            <label for="memory-session">Session id</label>
            <input
              id="memory-session"
              value={sessionId}
              onInput={(e) => setSessionId(e.currentTarget.value)}
            />
          </>
        )}
        <label for="memory-prefix">Key prefix</label>
        <input id="memory-prefix" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} />
        <button type="submit" disabled={!agentId}>
          Show entries
        </button>
      </form>
      <ErrorAlert error={error} />
      {entries !== null && entries.length === 0 && !error && <p class="empty">No entries.</p>}
      {entries !== null && entries.length > 0 && (
        <div class="table-wrap">
          <table class="memory-table">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Scope</th>
                <th scope="col" class="num">
                  Version
                </th>
                <th scope="col">Updated</th>
                <th scope="col">Expires</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((m) => (
                <tr key={`${m.session_id ?? ''}/${m.key}`} data-memory-key={m.key}>
                  <td>
                    <code>{m.key}</code>
                  </td>
                  <td>{m.scope === 'session' ? <code>{m.session_id}</code> : 'global'}</td>
                  <td class="num">{m.version}</td>
                  <td>{formatTime(m.updated_at)}</td>
                  <td>{formatTime(m.expires_at)}</td>
                  <td>
                    <details>
                      <summary>Value</summary>
                      <pre>{JSON.stringify(m.value, null, 2)}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor !== null && (
        <button type="button" class="secondary" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
