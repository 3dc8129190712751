import type { EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';

interface StoredEvent {
  readonly streamId: string;
  readonly message: JSONRPCMessage;
  readonly bytes: number;
  readonly owner: SessionEventStore;
}

/** The SDK's id for the GET stream; ours (SessionStream) carries that stream, so the SDK sends nothing there. */
const STANDALONE_STREAM = '_GET_stream';
const MAX_TRACKED_REPLIES = 1000;

/**
 * The SSE events of POST replies that a client may still ask for again with Last-Event-ID, for every
 * session of this process, bounded by bytes: at most `perSessionBytes` per session (an event larger
 * than that is not kept: its client re-sends the request) and `totalBytes` in all, the oldest going
 * first. A reply that was written out completely is forgotten (`forgetReplies`): replay is for the
 * client that lost its stream before the answer reached it.
 */
export class InMemoryEventStore {
  private readonly events = new Map<string, StoredEvent>();
  private bytes = 0;
  private sequence = 0;

  constructor(private readonly limits: { readonly perSessionBytes: number; readonly totalBytes: number }) {}

  /** The EventStore of one session; `close()` it with the session. */
  forSession(): SessionEventStore {
    return new SessionEventStore(this);
  }

  /** Bytes held, all sessions. */
  get size(): number {
    return this.bytes;
  }

  /** @internal */
  get perSessionBytes(): number {
    return this.limits.perSessionBytes;
  }

  /** @internal */
  nextId(streamId: string): string {
    return `${streamId}_${++this.sequence}`;
  }

  /** @internal */
  keep(eventId: string, event: StoredEvent): void {
    if (event.bytes > this.limits.perSessionBytes) return;
    this.events.set(eventId, event);
    this.bytes += event.bytes;
    event.owner.added(eventId, event.bytes);
    while (event.owner.bytes > this.limits.perSessionBytes) this.drop(event.owner.oldest()!);
    while (this.bytes > this.limits.totalBytes) this.drop(this.events.keys().next().value!);
  }

  /** @internal */
  get(eventId: string): StoredEvent | undefined {
    return this.events.get(eventId);
  }

  /** @internal */
  drop(eventId: string): void {
    const event = this.events.get(eventId);
    if (event === undefined) return;
    this.events.delete(eventId);
    this.bytes -= event.bytes;
    event.owner.removed(eventId, event.bytes);
  }
}

/** One session's view of the store: it replays only its own events. */
export class SessionEventStore implements EventStore {
  /** Event ids in the order stored. */
  private readonly ids = new Set<string>();
  /** Stream of each answered request id, so a delivered reply can be forgotten. */
  private readonly replyStreams = new Map<string | number, string>();
  bytes = 0;

  constructor(private readonly store: InMemoryEventStore) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = this.store.nextId(streamId);
    if (streamId === STANDALONE_STREAM) return eventId;
    const id = (message as { id?: unknown }).id;
    const isReply = 'result' in message || 'error' in message;
    if (isReply && (typeof id === 'string' || typeof id === 'number')) {
      this.replyStreams.set(id, streamId);
      if (this.replyStreams.size > MAX_TRACKED_REPLIES) {
        this.replyStreams.delete(this.replyStreams.keys().next().value!);
      }
    }
    const bytes = jsonLengthUpTo(message, this.store.perSessionBytes + 1);
    this.store.keep(eventId, { streamId, message, bytes, owner: this });
    return eventId;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.ids.has(eventId) ? this.store.get(eventId)?.streamId : streamOf(eventId);
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const streamId = streamOf(lastEventId) ?? '';
    const after = sequenceOf(lastEventId);
    for (const eventId of [...this.ids]) {
      const event = this.store.get(eventId);
      if (event?.streamId === streamId && sequenceOf(eventId) > after) await send(eventId, event.message);
    }
    return streamId;
  }

  /** The replies to these requests reached their client: their streams need no replay. */
  forgetReplies(requestIds: readonly (string | number)[]): void {
    for (const requestId of requestIds) {
      const streamId = this.replyStreams.get(requestId);
      if (streamId === undefined) continue;
      this.replyStreams.delete(requestId);
      for (const eventId of [...this.ids]) {
        if (this.store.get(eventId)?.streamId === streamId) this.store.drop(eventId);
      }
    }
  }

  close(): void {
    for (const eventId of [...this.ids]) this.store.drop(eventId);
    this.replyStreams.clear();
  }

  /** @internal */
  added(eventId: string, bytes: number): void {
    this.ids.add(eventId);
    this.bytes += bytes;
  }

  /** @internal */
  removed(eventId: string, bytes: number): void {
    this.ids.delete(eventId);
    this.bytes -= bytes;
  }

  /** @internal */
  oldest(): string | undefined {
    return this.ids.values().next().value;
  }
}

/**
 * About the length of `value` as JSON, counted only until it passes `limit`: a large reply is
 * measured without serializing it a second time (the transport serializes it to write it).
 */
function jsonLengthUpTo(value: unknown, limit: number): number {
  let length = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && length <= limit) {
    const item = pending.pop();
    if (typeof item === 'string') length += item.length + 2;
    else if (Array.isArray(item)) {
      length += 2 + item.length;
      for (const child of item) pending.push(child);
    } else if (typeof item === 'object' && item !== null) {
      length += 2;
      for (const [key, child] of Object.entries(item)) {
        length += key.length + 4;
        pending.push(child);
      }
    } else length += 8;
  }
  return length;
}

function streamOf(eventId: string): string | undefined {
  const at = eventId.lastIndexOf('_');
  return at > 0 ? eventId.slice(0, at) : undefined;
}

function sequenceOf(eventId: string): number {
  return Number(eventId.slice(eventId.lastIndexOf('_') + 1)) || 0;
}
