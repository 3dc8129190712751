import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../../app/services.js';
import { OnFirstUse } from '../on-first-use.js';
import type { McpHttpEndpoint } from './mcp-http.js';

/**
 * /mcp as the HTTP server holds it from start: the MCP SDK, its Node adapter and the session
 * machinery (mcp-http.ts) are imported on the first request to /mcp — about 13 MB an idle server
 * without MCP clients does not carry (docs/memory.md). Behaviour is McpHttpEndpoint's.
 */
export class LazyMcpHttpEndpoint {
  private readonly endpoint: OnFirstUse<McpHttpEndpoint>;

  constructor(services: Services, maxBodyBytes: number) {
    this.endpoint = new OnFirstUse(async () => {
      const [{ McpHttpEndpoint, credentialsOfAuthInfo }, { createMcpContext }] = await Promise.all([
        import('./mcp-http.js'),
        import('./mcp-server.js'),
      ]);
      const context = createMcpContext(services, (ctx) => credentialsOfAuthInfo(ctx.http?.authInfo));
      return new McpHttpEndpoint(context, maxBodyBytes);
    });
  }

  /** Open 2025-era sessions. */
  get sessionCount(): number {
    return this.endpoint.loaded?.sessionCount ?? 0;
  }

  /** Bytes of SSE events held for Last-Event-ID replay, all sessions. */
  get replayBufferBytes(): number {
    return this.endpoint.loaded?.replayBufferBytes ?? 0;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Once loaded, every request goes straight to it (no await on the hot path).
    const loaded = this.endpoint.loaded;
    return loaded !== undefined ? loaded.handle(req, res) : (await this.endpoint.get()).handle(req, res);
  }

  async close(): Promise<void> {
    await (await this.endpoint.settled())?.close();
  }
}
