import type { DomainEvent } from './events.js';

export type EventListener = (event: DomainEvent) => void;

/**
 * Where writes announce themselves. In-process now; a PostgreSQL (LISTEN/NOTIFY) implementation
 * carries the same events between processes.
 */
export interface EventBus {
  publish(event: DomainEvent): void;
  /** Returns an idempotent unsubscribe. */
  subscribe(listener: EventListener): () => void;
}

/**
 * Delivers synchronously to every listener; a throwing listener is reported and does not stop
 * delivery to the others.
 */
export class InMemoryEventBus implements EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly onError: (error: unknown, event: DomainEvent) => void = () => {}) {}

  publish(event: DomainEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error, event);
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
