import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import type { Principal } from '../../auth/principal.js';
import type { ResourceSubscriptions } from '../../realtime/resource-subscriptions.js';

interface ListenContext {
  principal: Principal;
  uris: string[];
}

/**
 * The `subscriptions/listen` side (2026-07-28 clients) of resource subscriptions. The SDK's listen
 * router opens one bus listener per stream; this bus learns who opened it (the authenticated
 * caller, carried in AsyncLocalStorage from the HTTP request) and registers its URIs in the same
 * ResourceSubscriptions registry the 2025-era `resources/subscribe` uses — so both generations get
 * the same per-subscriber visibility filter.
 */
export class ListenBus implements ServerEventBus {
  private readonly context = new AsyncLocalStorage<ListenContext>();

  constructor(private readonly registry: ResourceSubscriptions) {}

  /** Runs the SDK handler for one listen request on behalf of `principal`. */
  runAs<T>(principal: Principal, uris: string[], fn: () => T): T {
    return this.context.run({ principal, uris }, fn);
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    const ctx = this.context.getStore();
    const owner = randomUUID();
    for (const uri of ctx?.uris ?? []) {
      this.registry.subscribe(owner, ctx!.principal, uri, (changed) =>
        listener({ kind: 'resource_updated', uri: changed }),
      );
    }
    return () => this.registry.dropOwner(owner);
  }

  /** Changes reach listeners through the registry; the SDK's list-changed events are not used. */
  publish(): void {}
}

/** The resource URIs a `subscriptions/listen` request asks for, or undefined for any other message. */
export function listenUris(body: unknown): string[] | undefined {
  if (
    typeof body !== 'object' ||
    body === null ||
    (body as { method?: unknown }).method !== 'subscriptions/listen'
  ) {
    return undefined;
  }
  const uris = (body as { params?: { notifications?: { resourceSubscriptions?: unknown } } }).params
    ?.notifications?.resourceSubscriptions;
  return Array.isArray(uris) ? uris.filter((u): u is string => typeof u === 'string') : [];
}
