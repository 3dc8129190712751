/** Fuzzy search in one session (GET sessions/{id}/search); a result jumps to its message. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { errorText } from '../format.js';
import type { SearchResult } from '../types.js';
import { ErrorAlert } from './error-alert.js';

export function SearchBox({ path, onJump }: { path: string; onJump: (id: number) => void }) {
  const [q, setQ] = useState('');
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const search = async (e: Event) => {
    e.preventDefault();
    if (!q.trim()) return setResults(null);
    try {
      const res = await api.get<{ results: SearchResult[] }>(`${path}/search`, { q: q.trim() });
      setResults(res.results);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div class="search">
      <form role="search" class="toolbar" onSubmit={(e) => void search(e)}>
        <label for="message-search">Search messages</label>
        <input id="message-search" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button type="submit">Search</button>
        {results && (
          <button type="button" class="secondary" onClick={() => (setResults(null), setQ(''))}>
            Clear
          </button>
        )}
      </form>
      <ErrorAlert error={error} />
      {results && (
        <div class="results" aria-live="polite">
          <p class="sub">
            {results.length} result{results.length === 1 ? '' : 's'}
          </p>
          <ul>
            {results.map((r) => (
              <li key={r.message.id}>
                <button type="button" class="link" onClick={() => onJump(r.message.id)}>
                  #{r.message.id} {r.message.sender}
                </button>{' '}
                <span class={`badge rel-${r.relevance}`}>{r.score}</span> {r.match_preview}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
