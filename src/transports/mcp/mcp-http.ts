import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import {
  type AuthInfo,
  type McpServer,
  createMcpHandler,
  isInitializeRequest,
} from '@modelcontextprotocol/server';
import { AppError } from '../../core/errors.js';
import type { Credentials } from '../../auth/principal.js';
import { credentialsFromHeaders } from '../http/credentials.js';
import { headerValue, readJsonBody, sendJson } from '../http/request.js';
import { InMemoryEventStore } from './event-store.js';
import { SessionStream } from './session-stream.js';
import { tryFastToolCall } from './fast-tool-call.js';
import { ListenBus, listenUris } from './listen-bus.js';
import { watchKeyOf } from '../../realtime/resource-subscriptions.js';
import { type McpContext, buildMcpServer, resolveReader } from './mcp-server.js';

interface LegacySession {
  readonly transport: NodeStreamableHTTPServerTransport;
  readonly server: McpServer;
  lastSeen: number;
  /** The GET stream that carries the session's notifications. */
  readonly stream: SessionStream;
}

const IDLE_SESSION_MS = 30 * 60_000;

type AuthedRequest = IncomingMessage & { auth?: AuthInfo };

/** Credentials ride on the SDK's pass-through AuthInfo; they are verified per tool call. */
export function credentialsOfAuthInfo(info: AuthInfo | undefined): Credentials {
  return (info?.extra?.credentials as Credentials | undefined) ?? {};
}

const rpcError = (res: ServerResponse, status: number, code: number, message: string) =>
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });

/**
 * MCP over Streamable HTTP at /mcp. 2025-era clients (initialize handshake) get stateful
 * sessions (Mcp-Session-Id, a GET SSE stream, resumable with Last-Event-ID); 2026-07-28 clients
 * are served per request by the SDK's createMcpHandler. Both build their servers from the same
 * factory, so tools, resources and prompts are identical.
 */
export class McpHttpEndpoint {
  private readonly sessions = new Map<string, LegacySession>();
  private readonly eventStore = new InMemoryEventStore();
  private readonly modern: ReturnType<typeof toNodeHandler>;
  private readonly modernHandler: ReturnType<typeof createMcpHandler>;
  private readonly sweeper: NodeJS.Timeout;
  private readonly listenBus: ListenBus;

  constructor(
    private readonly mcp: McpContext,
    private readonly maxBodyBytes: number,
  ) {
    this.listenBus = new ListenBus(mcp.services.subscriptions);
    this.modernHandler = createMcpHandler(() => buildMcpServer(mcp, { persistent: false }), {
      bus: this.listenBus,
      legacy: 'reject',
      maxRequestBodySize: maxBodyBytes,
      onerror: (error) => mcp.services.logger.debug({ err: error }, 'mcp request rejected'),
    });
    this.modern = toNodeHandler(this.modernHandler);
    mcp.services.metrics.track('mcp_sessions', () => this.sessions.size);
    this.sweeper = setInterval(() => this.sweepIdle(), 60_000);
    this.sweeper.unref();
  }

  async handle(req: AuthedRequest, res: ServerResponse): Promise<void> {
    const credentials = credentialsFromHeaders(req);
    req.auth = {
      token: credentials.bearer ?? '',
      clientId: credentials.agentId ?? 'mcp-client',
      scopes: [],
      extra: { credentials },
    };
    const sessionId = headerValue(req, 'mcp-session-id');
    const session = sessionId !== undefined ? this.sessions.get(sessionId) : undefined;

    if (req.method === 'POST') {
      let body: unknown;
      try {
        body = await readJsonBody(req, this.maxBodyBytes);
      } catch (error) {
        const tooLarge = error instanceof AppError && error.code === 'PAYLOAD_TOO_LARGE';
        return rpcError(
          res,
          tooLarge ? 413 : 400,
          -32700,
          error instanceof Error ? error.message : 'Parse error',
        );
      }
      if (session) {
        session.lastSeen = Date.now();
        if (await tryFastToolCall(this.mcp, sessionId!, req, res, body, credentials)) return;
        return this.serve(session, req, res, body);
      }
      if (sessionId !== undefined)
        return rpcError(res, 404, -32001, 'Session not found: start a new one with initialize.');
      if (isInitializeRequest(body)) return this.openSession(req, res, body);
      const uris = listenUris(body);
      if (uris !== undefined) return this.listen(req, res, body, credentials, uris);
      return this.modern(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (session) return this.serve(session, req, res);
      if (sessionId !== undefined)
        return rpcError(res, 404, -32001, 'Session not found: start a new one with initialize.');
      return rpcError(res, 400, -32000, 'Bad Request: an Mcp-Session-Id header is required.');
    }
    res.setHeader('allow', 'GET, POST, DELETE');
    return rpcError(res, 405, -32000, 'Method not allowed.');
  }

  /** subscriptions/listen: authenticate and check every URI first, then let the SDK hold the stream. */
  private async listen(
    req: AuthedRequest,
    res: ServerResponse,
    body: unknown,
    credentials: Credentials,
    uris: string[],
  ) {
    const id = (body as { id?: unknown }).id ?? null;
    try {
      const principal = await resolveReader(this.mcp.services, credentials);
      for (const uri of uris) watchKeyOf(uri, principal);
      return await this.listenBus.runAs(principal, uris, () => this.modern(req, res, body));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return sendJson(res, 200, {
        jsonrpc: '2.0',
        id,
        error: { code: -32602, message: error.message, data: { code: error.code } },
      });
    }
  }

  private async serve(
    session: LegacySession,
    req: AuthedRequest,
    res: ServerResponse,
    body?: unknown,
  ): Promise<void> {
    session.lastSeen = Date.now();
    if (req.method === 'GET') {
      session.stream.attach(req, res);
      res.once('close', () => (session.lastSeen = Date.now()));
      return;
    }
    await session.transport.handleRequest(req, res, body);
  }

  private async openSession(req: AuthedRequest, res: ServerResponse, body: unknown): Promise<void> {
    const stream = new SessionStream();
    const server = buildMcpServer(this.mcp, {
      persistent: true,
      notify: (uri) =>
        stream.send({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } }),
    });
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: this.eventStore,
      onsessioninitialized: (id) => {
        stream.sessionId = id;
        this.sessions.set(id, { transport, server, stream, lastSeen: Date.now() });
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id === undefined) return;
      this.sessions.get(id)?.stream.close();
      this.sessions.delete(id);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - IDLE_SESSION_MS;
    for (const session of this.sessions.values()) {
      if (!session.stream.open && session.lastSeen < cutoff) void session.server.close();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.sessions.values()].map((s) => s.server.close()));
    this.sessions.clear();
    await this.modernHandler.close?.();
  }
}
