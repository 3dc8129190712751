import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/server';
import { type McpContext, toProtocolError } from './mcp-server.js';

/**
 * resources/subscribe and resources/unsubscribe for a connection that lives long enough to be
 * notified (a 2025-era HTTP session, or stdio). Who may learn of what is decided by the shared
 * ResourceSubscriptions registry; this only binds it to one connection.
 */
export function registerSubscriptions(
  server: McpServer,
  mcp: McpContext,
  notify: (uri: string, eventId: string) => void = (uri) =>
    void server.server.sendResourceUpdated({ uri }).catch(() => undefined),
  /** Who owns the subscriptions in the registry (the HTTP session replays by it); one per connection. */
  owner: string = randomUUID(),
  /** After a subscribe or unsubscribe (the HTTP session records its URIs for another node). */
  onChange: () => void = () => undefined,
): void {
  const registry = mcp.services.subscriptions;
  server.server.setRequestHandler('resources/subscribe', async (request, ctx) => {
    const principal = await mcp.principalOf(ctx);
    try {
      registry.subscribe(owner, principal, request.params.uri, notify);
    } catch (error) {
      return toProtocolError(error);
    }
    onChange();
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (request, ctx) => {
    await mcp.principalOf(ctx);
    registry.unsubscribe(owner, request.params.uri);
    onChange();
    return {};
  });
  const previous = server.server.onclose;
  server.server.onclose = () => {
    registry.dropOwner(owner);
    previous?.();
  };
}
