/** The dashboard's entry point: checks the login, then shows the page the hash names. */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { loadMe, logout, setUnauthorizedHandler } from './api.js';
import { live, type LiveState } from './live.js';
import { hrefFor, useRoute, type Route } from './router.js';
import { LoginPage } from './pages/login.js';
import { SessionsPage } from './pages/sessions.js';
import { SessionPage } from './pages/session.js';
import { AgentsPage } from './pages/agents.js';
import { TimelinePage } from './pages/timeline.js';
import { GraphPage } from './pages/graph.js';
import { MemoryPage } from './pages/memory.js';
import { lazyPage } from './lazy-page.js';

/** The metrics page brings uPlot (about 50 KB): it is fetched when first opened. */
const MetricsPage = lazyPage(() => import('./pages/metrics.js').then((m) => m.MetricsPage));

type Auth = 'checking' | 'out' | 'in';

function App() {
  const [auth, setAuth] = useState<Auth>('checking');
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();
  const authNow = useRef(auth);
  authNow.current = auth;

  useEffect(() => {
    setUnauthorizedHandler(() => {
      live.stop();
      // A 401 while logged in: the login was ended elsewhere (logout in another tab) or expired.
      if (authNow.current === 'in') {
        setNotice('Your login ended (logged out elsewhere, or expired). Log in again.');
      }
      setAuth('out');
    });
    live.onAuthDoubt = () => void loadMe().catch(() => {});
    loadMe()
      .then(() => setAuth('in'))
      // Any failure shows the login form: a 401 is the usual one, and the form reports other errors.
      .catch(() => setAuth('out'));
  }, []);

  useEffect(() => {
    if (auth === 'in') live.start();
  }, [auth]);

  if (auth === 'checking') return <p class="loading">Loading…</p>;
  if (auth === 'out') {
    const loggedIn = () => {
      setNotice(null);
      setAuth('in');
    };
    return <LoginPage onLoggedIn={loggedIn} notice={notice} />;
  }
  return (
    <>
      <Header
        route={route}
        onLogout={() => {
          setNotice(null);
          setAuth('out');
        }}
      />
      <main id="main">
        <Page route={route} />
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'session':
      return <SessionPage key={route.id} id={route.id} />;
    case 'timeline':
      return <TimelinePage key={route.id} id={route.id} />;
    case 'graph':
      return <GraphPage />;
    case 'memory':
      return <MemoryPage />;
    case 'agents':
      return <AgentsPage />;
    case 'metrics':
      return <MetricsPage />;
    default:
      return <SessionsPage />;
  }
}

const NAV: { label: string; route: Route }[] = [
  { label: 'Sessions', route: { page: 'sessions' } },
  { label: 'Agents', route: { page: 'agents' } },
  { label: 'Graph', route: { page: 'graph' } },
  { label: 'Memory', route: { page: 'memory' } },
  { label: 'Metrics', route: { page: 'metrics' } },
];

function Header({ route, onLogout }: { route: Route; onLogout: () => void }) {
  const [state, setState] = useState<LiveState>(live.state);
  useEffect(() => live.onState(setState), []);
  const current = route.page === 'session' || route.page === 'timeline' ? 'sessions' : route.page;
  return (
    <header class="top">
      <a
        class="skip"
        href="#main"
        onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >
        Skip to content
      </a>
      <span class="brand">Shared Context</span>
      <nav aria-label="Main">
        {NAV.map((n) => (
          <a href={hrefFor(n.route)} aria-current={n.route.page === current ? 'page' : undefined}>
            {n.label}
          </a>
        ))}
      </nav>
      <span class={`live live-${state}`} role="status" aria-live="polite">
        {state === 'open' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Offline'}
      </span>
      <button
        type="button"
        class="secondary"
        onClick={() => {
          live.stop();
          void logout().finally(onLogout);
        }}
      >
        Log out
      </button>
    </header>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
