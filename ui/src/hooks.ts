/** Hooks that tie a page to the live socket. */
import { useEffect, useRef } from 'preact/hooks';
import { live } from './live.js';
import type { LiveFrame } from './types.js';

/** Calls `listener` for every live frame while the component is mounted (always the latest closure). */
export function useLiveFrames(listener: (frame: LiveFrame) => void): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => live.onFrame((f) => ref.current(f)), []);
}

/** Re-reads the page's data after the live socket reconnects (frames sent meanwhile are lost). */
export function useReloadOnReconnect(reload: () => void): void {
  const ref = useRef(reload);
  ref.current = reload;
  useEffect(() => live.onReconnect(() => ref.current()), []);
}
