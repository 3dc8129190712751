import type { EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';

interface StoredEvent {
  streamId: string;
  message: JSONRPCMessage;
}

/**
 * Keeps the last `capacity` SSE events of this process so a client that reconnects with
 * Last-Event-ID gets what it missed. Event ids are "<streamId>_<sequence>" so replay can find
 * the stream without a lookup table.
 */
export class InMemoryEventStore implements EventStore {
  private readonly events = new Map<string, StoredEvent>();
  private sequence = 0;

  constructor(private readonly capacity = 10_000) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const eventId = `${streamId}_${++this.sequence}`;
    this.events.set(eventId, { streamId, message });
    if (this.events.size > this.capacity) {
      const oldest = this.events.keys().next().value;
      if (oldest !== undefined) this.events.delete(oldest);
    }
    return eventId;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.get(eventId)?.streamId ?? streamOf(eventId);
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const streamId = streamOf(lastEventId) ?? '';
    const after = sequenceOf(lastEventId);
    for (const [eventId, event] of this.events) {
      if (event.streamId === streamId && sequenceOf(eventId) > after) await send(eventId, event.message);
    }
    return streamId;
  }
}

function streamOf(eventId: string): string | undefined {
  const at = eventId.lastIndexOf('_');
  return at > 0 ? eventId.slice(0, at) : undefined;
}

function sequenceOf(eventId: string): number {
  return Number(eventId.slice(eventId.lastIndexOf('_') + 1)) || 0;
}
