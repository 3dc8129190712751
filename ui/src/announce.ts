/**
 * Screen-reader announcements of new live messages, coalesced: the messages of one burst (each
 * within QUIET_MS of the previous, at most MAX_WAIT_MS in all) make one announcement, so a busy
 * session does not drown the reader in "new message" lines.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

const QUIET_MS = 1_000;
const MAX_WAIT_MS = 5_000;
const NBSP = '\u00a0';

/** "New message from alpha", "3 new messages from alpha", "2 new messages from alpha and beta", "5 new messages". */
export function newMessagesText(senders: readonly string[]): string {
  const distinct = [...new Set(senders)];
  if (senders.length === 1) return `New message from ${distinct[0]}`;
  const from =
    distinct.length === 1
      ? ` from ${distinct[0]}`
      : distinct.length === 2
        ? ` from ${distinct[0]} and ${distinct[1]}`
        : '';
  return `${senders.length} new messages${from}`;
}

/**
 * The text for an aria-live region, and `add(sender)` to count a new message into the current
 * burst. A repeated text gets a trailing no-break space, so the reader announces it again.
 */
export function useNewMessageAnnouncer(): [string, (sender: string) => void] {
  const [text, setText] = useState('');
  const burst = useRef<{ senders: string[]; started: number; timer: ReturnType<typeof setTimeout> } | null>(
    null,
  );

  useEffect(() => () => clearTimeout(burst.current?.timer), []);

  const flush = () => {
    const senders = burst.current?.senders ?? [];
    burst.current = null;
    if (senders.length === 0) return;
    const next = newMessagesText(senders);
    setText((prev) => (prev === next ? `${next}${NBSP}` : next));
  };

  const add = (sender: string) => {
    const now = Date.now();
    const b = burst.current;
    if (b === null) {
      burst.current = { senders: [sender], started: now, timer: setTimeout(flush, QUIET_MS) };
      return;
    }
    b.senders.push(sender);
    clearTimeout(b.timer);
    b.timer = setTimeout(flush, Math.max(0, Math.min(QUIET_MS, b.started + MAX_WAIT_MS - now)));
  };

  return [text, add];
}
