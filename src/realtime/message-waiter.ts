import type { FeedEvents } from '../events/events.js';
import type { MessagePage, MessageService } from '../messages/message.service.js';
import { type Viewer, canSee } from '../messages/visibility.js';

interface Waiter {
  viewer: Viewer;
  /** Only a message above this id wakes it (the feed may still be delivering older ones). */
  afterId: number;
  wake(): void;
}

/**
 * Long-poll for new messages, woken by the change feed (not by polling the database): a waiter is
 * registered before the first read, so a message committed between the read and the wait still
 * wakes it.
 */
export class MessageWaiter {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly unsubscribe: () => void;

  constructor(
    feed: FeedEvents,
    private readonly messages: MessageService,
  ) {
    this.unsubscribe = feed.subscribe(
      (event) => {
        if (event.type !== 'message.created') return;
        const waiting = this.waiters.get(event.message.session_id);
        if (!waiting) return;
        for (const waiter of waiting) {
          if (event.message.id > waiter.afterId && canSee(waiter.viewer, event.message)) waiter.wake();
        }
      },
      (change) => change.kind === 'message' && this.waiters.has(change.session_id ?? ''),
    );
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  async wait(
    viewer: Viewer,
    input: { sessionId: string; afterId: number; timeoutMs: number; limit: number },
    signal?: AbortSignal,
  ): Promise<MessagePage & { timed_out: boolean }> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const waiter: Waiter = { viewer, afterId: input.afterId, wake };
    let set = this.waiters.get(input.sessionId);
    if (!set) this.waiters.set(input.sessionId, (set = new Set()));
    set.add(waiter);
    const read = () =>
      this.messages.list(
        viewer,
        { sessionId: input.sessionId, afterId: input.afterId },
        { limit: input.limit, offset: 0 },
      );
    let timer: NodeJS.Timeout | undefined;
    try {
      const first = await read();
      if (first.messages.length > 0) return { ...first, timed_out: false };
      const timedOut = await Promise.race([
        woken.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), input.timeoutMs);
          signal?.addEventListener('abort', () => resolve(true), { once: true });
        }),
      ]);
      if (timedOut) return { ...first, timed_out: true };
      return { ...(await read()), timed_out: false };
    } finally {
      clearTimeout(timer);
      set.delete(waiter);
      if (set.size === 0) this.waiters.delete(input.sessionId);
    }
  }

  close(): void {
    this.unsubscribe();
    for (const set of this.waiters.values()) for (const waiter of set) waiter.wake();
  }
}
