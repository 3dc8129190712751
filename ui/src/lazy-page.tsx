/**
 * A page loaded on demand, from a chunk of its own (src/transports/ui/assets.ts splits dynamic
 * imports off): "Loading…" until it arrives, an alert if it cannot be fetched (the next visit tries
 * again). Keeps a large library (uPlot) out of the first load.
 */
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorText } from './format.js';
import { ErrorAlert } from './pages/error-alert.js';

export function lazyPage(load: () => Promise<ComponentType>): ComponentType {
  let loading: Promise<ComponentType> | undefined;
  return function LazyPage() {
    const [Page, setPage] = useState<ComponentType | null>(null);
    const [error, setError] = useState<string | null>(null);
    useEffect(() => {
      loading ??= load();
      loading
        .then((page) => setPage(() => page))
        .catch((err: unknown) => {
          loading = undefined;
          setError(`Could not load the page: ${errorText(err)}`);
        });
    }, []);
    if (Page) return <Page />;
    return error ? <ErrorAlert error={error} /> : <p class="loading">Loading…</p>;
  };
}
