/** A hash router: #/sessions, #/sessions/{id}, #/sessions/{id}/timeline, #/agents, #/graph, #/memory, #/metrics. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'sessions' }
  | { page: 'session'; id: string }
  | { page: 'timeline'; id: string }
  | { page: 'agents' }
  | { page: 'graph' }
  | { page: 'memory' }
  | { page: 'metrics' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts[0] === 'sessions' && parts[1]) {
    const id = decodeURIComponent(parts[1]);
    return parts[2] === 'timeline' ? { page: 'timeline', id } : { page: 'session', id };
  }
  if (parts[0] === 'agents') return { page: 'agents' };
  if (parts[0] === 'graph') return { page: 'graph' };
  if (parts[0] === 'memory') return { page: 'memory' };
  if (parts[0] === 'metrics') return { page: 'metrics' };
  return { page: 'sessions' };
}

export const hrefFor = (route: Route): string =>
  route.page === 'session'
    ? `#/sessions/${encodeURIComponent(route.id)}`
    : route.page === 'timeline'
      ? `#/sessions/${encodeURIComponent(route.id)}/timeline`
      : `#/${route.page}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
