/** A hash router: #/sessions, #/sessions/{id}, #/agents, #/metrics. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  { page: 'sessions' } | { page: 'session'; id: string } | { page: 'agents' } | { page: 'metrics' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts[0] === 'sessions' && parts[1]) return { page: 'session', id: decodeURIComponent(parts[1]) };
  if (parts[0] === 'agents') return { page: 'agents' };
  if (parts[0] === 'metrics') return { page: 'metrics' };
  return { page: 'sessions' };
}

export const hrefFor = (route: Route): string =>
  route.page === 'session' ? `#/sessions/${encodeURIComponent(route.id)}` : `#/${route.page}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
