/** Registered agents with presence; `presence` frames update a row's status. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText, formatTime } from '../format.js';
import { useLiveFrames, useReloadOnReconnect } from '../hooks.js';
import type { Agent } from '../types.js';
import { AgentActions, OverseerMail } from './compose.js';
import { ErrorAlert } from './error-alert.js';

export function AgentsPage() {
  const [agents, setAgents] = useState<Agent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [mailTo, setMailTo] = useState('');

  const load = useCallback(async () => {
    try {
      const res = await api.get<{ agents: Agent[] }>('agents');
      setAgents(res.agents);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  }, []);
  useEffect(() => void load(), [load]);
  useReloadOnReconnect(() => void load());
  useLiveFrames((frame) => {
    if (frame.type !== 'presence') return;
    if (!agents.some((a) => a.agent_id === frame.agent_id)) return void load();
    setAgents((as) => as.map((a) => (a.agent_id === frame.agent_id ? { ...a, status: frame.status } : a)));
  });

  return (
    <section aria-labelledby="agents-title">
      <h1 id="agents-title">Agents</h1>
      <ErrorAlert error={error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Session</th>
              <th scope="col">Capabilities</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col" class="num">
                Mail sent / received
              </th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => (
              <tr key={a.agent_id}>
                <td>
                  {a.name ?? a.agent_id}
                  {a.name && <div class="sub">{a.agent_id}</div>}
                </td>
                <td>{a.agent_type}</td>
                <td>
                  <span class={`badge presence-${a.status}`}>{a.status}</span>
                </td>
                <td>
                  {a.session_id ? (
                    <a href={`#/sessions/${encodeURIComponent(a.session_id)}`}>{a.session_id}</a>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{a.capabilities.join(', ') || '—'}</td>
                <td>{formatTime(a.last_heartbeat)}</td>
                <td class="num">{a.mail ? `${a.mail.sent} / ${a.mail.received}` : '—'}</td>
                <td>
                  <AgentActions agentId={a.agent_id} onWrite={() => setMailTo(a.agent_id)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {agents.length === 0 && !error && <p class="empty">No agents registered.</p>}
      <OverseerMail to={mailTo} onTo={setMailTo} onSent={() => void load()} />
    </section>
  );
}
