import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import { type AuthInfo, createMcpHandler, isInitializeRequest } from '@modelcontextprotocol/server';
import { AppError, httpStatusFor } from '../../core/errors.js';
import type { Credentials } from '../../auth/principal.js';
import { credentialsFromHeaders } from '../http/credentials.js';
import { headerValue, readJsonBody, sendJson } from '../http/request.js';
import { ClientBuffer } from './client-buffer.js';
import { InMemoryEventStore } from './event-store.js';
import { type McpSession, McpSessionRegistry } from './session-registry.js';
import { SSE_RETRY_MS, SessionStream, resourceUpdated } from './session-stream.js';
import { tryFastToolCall } from './fast-tool-call.js';
import { ListenBus, listenUris } from './listen-bus.js';
import { parseEventPosition, watchKeyOf } from '../../realtime/resource-subscriptions.js';
import { type McpContext, buildMcpServer, resolveReader } from './mcp-server.js';

type AuthedRequest = IncomingMessage & { auth?: AuthInfo };

/** The SSE replay buffer holds at most this many sessions' worth of MAX_CLIENT_BUFFER_BYTES in all. */
const REPLAY_BUFFER_SESSIONS = 16;

/** Credentials ride on the SDK's pass-through AuthInfo; they are verified per tool call. */
export function credentialsOfAuthInfo(info: AuthInfo | undefined): Credentials {
  return (info?.extra?.credentials as Credentials | undefined) ?? {};
}

function setCredentials(req: AuthedRequest, credentials: Credentials): void {
  req.auth = {
    token: credentials.bearer ?? '',
    clientId: credentials.agentId ?? 'mcp-client',
    scopes: [],
    extra: { credentials },
  };
}

const rpcError = (res: ServerResponse, status: number, code: number, message: string) =>
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });

/** A domain failure before the SDK runs, as a JSON-RPC error with its HTTP status (and Retry-After). */
function appRpcError(res: ServerResponse, error: AppError, id: unknown): void {
  const data: Record<string, unknown> = { code: error.code };
  if (error.retryAfter !== undefined) data.retry_after = error.retryAfter;
  const headers: Record<string, string> =
    error.retryAfter !== undefined ? { 'retry-after': String(Math.ceil(error.retryAfter)) } : {};
  const rpcId = typeof id === 'string' || typeof id === 'number' ? id : null;
  sendJson(
    res,
    httpStatusFor(error.code),
    { jsonrpc: '2.0', id: rpcId, error: { code: -32000, message: error.message, data } },
    headers,
  );
}

/** Header credentials that name a principal (X-Agent-Id alone is only a claim). */
const hasHeaderCredentials = (c: Credentials): boolean => c.bearer !== undefined || c.apiKey !== undefined;

/** The `auth_token` argument of a tools/call, for clients that cannot set headers. */
function authTokenArgument(body: unknown): string | undefined {
  const params = (body as { method?: unknown; params?: { arguments?: { auth_token?: unknown } } } | null)
    ?.params;
  const token =
    (body as { method?: unknown } | null)?.method === 'tools/call'
      ? params?.arguments?.auth_token
      : undefined;
  return typeof token === 'string' && token.length > 0 ? token : undefined;
}

/** The ids of the JSON-RPC requests in a POST body (one message or a batch). */
function requestIds(body: unknown): (string | number)[] {
  const ids: (string | number)[] = [];
  for (const message of Array.isArray(body) ? body : [body]) {
    const id = (message as { id?: unknown; method?: unknown } | null)?.id;
    if ((typeof id === 'string' || typeof id === 'number') && 'method' in (message as object)) ids.push(id);
  }
  return ids;
}

/**
 * MCP over Streamable HTTP at /mcp. 2025-era clients (initialize handshake) get stateful
 * sessions (Mcp-Session-Id, a GET SSE stream, resumable with Last-Event-ID); 2026-07-28 clients
 * are served per request by the SDK's createMcpHandler. Both build their servers from the same
 * factory, so tools, resources and prompts are identical.
 */
export class McpHttpEndpoint {
  private readonly sessions: McpSessionRegistry;
  private readonly eventStore: InMemoryEventStore;
  private readonly modern: ReturnType<typeof toNodeHandler>;
  private readonly modernHandler: ReturnType<typeof createMcpHandler>;
  private readonly sweeper: NodeJS.Timeout;
  private readonly listenBus: ListenBus;
  /** Pending writes of each session's database record, in order. */
  private readonly persisting = new Map<string, Promise<void>>();
  /** Sessions being taken over from another node (concurrent requests share one take-over). */
  private readonly takingOver = new Map<string, Promise<McpSession | undefined>>();
  /** The process is stopping: its sessions stay in the database for other nodes. */
  private closing = false;

  constructor(
    private readonly mcp: McpContext,
    private readonly maxBodyBytes: number,
  ) {
    const limits = mcp.services.config.limits;
    this.sessions = new McpSessionRegistry({
      max: limits.maxMcpSessions,
      idleMs: limits.mcpSessionIdleSeconds * 1000,
      anonymousIdleMs: limits.mcpAnonymousSessionIdleSeconds * 1000,
    });
    this.eventStore = new InMemoryEventStore({
      perSessionBytes: limits.maxClientBufferBytes,
      totalBytes: REPLAY_BUFFER_SESSIONS * limits.maxClientBufferBytes,
    });
    this.listenBus = new ListenBus(mcp.services.subscriptions);
    this.modernHandler = createMcpHandler(() => buildMcpServer(mcp, { persistent: false }), {
      bus: this.listenBus,
      legacy: 'reject',
      maxRequestBodySize: maxBodyBytes,
      onerror: (error) => mcp.services.logger.debug({ err: error }, 'mcp request rejected'),
    });
    this.modern = toNodeHandler(this.modernHandler);
    mcp.services.metrics.track('mcp_sessions', () => this.sessions.size);
    // Often enough that the short anonymous idle time is kept to within half of itself.
    const shortestIdleMs =
      Math.min(limits.mcpAnonymousSessionIdleSeconds, limits.mcpSessionIdleSeconds) * 1000;
    this.sweeper = setInterval(
      () => this.sessions.sweep(),
      Math.min(60_000, Math.max(500, shortestIdleMs / 2)),
    );
    this.sweeper.unref();
  }

  /** Open 2025-era sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Bytes of SSE events held for Last-Event-ID replay, all sessions. */
  get replayBufferBytes(): number {
    return this.eventStore.size;
  }

  async handle(req: AuthedRequest, res: ServerResponse): Promise<void> {
    const credentials = credentialsFromHeaders(req);
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
      if (session) return this.serve(session, req, res, credentials, body);
      if (sessionId !== undefined) return this.takeOver(sessionId, req, res, credentials, body);
      if (isInitializeRequest(body)) return this.openSession(req, res, body, credentials);
      setCredentials(req, credentials);
      const uris = listenUris(body);
      if (uris !== undefined) return this.listen(req, res, body, credentials, uris);
      return this.modern(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (session) return this.serve(session, req, res, credentials);
      if (sessionId !== undefined) return this.takeOver(sessionId, req, res, credentials);
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
      // Rate-limited: 429 with Retry-After, like every other surface.
      if (error.code === 'RATE_LIMITED') return appRpcError(res, error, id);
      return sendJson(res, 200, {
        jsonrpc: '2.0',
        id,
        error: { code: -32602, message: error.message, data: { code: error.code } },
      });
    }
  }

  /** A request on an established session: every credential it carries is checked against the session's agent. */
  private async serve(
    session: McpSession,
    req: AuthedRequest,
    res: ServerResponse,
    credentials: Credentials,
    body?: unknown,
  ): Promise<void> {
    this.sessions.touch(session);
    // Its database record too (now and then), or retention would take an active session for idle.
    this.mcp.services.mcpSessions.touch(session.id);
    if (session.agentId === undefined) await this.bind(session, credentials, body);
    const bound = session.agentId !== undefined ? { ...credentials, boundTo: session.agentId } : credentials;
    setCredentials(req, bound);
    if (req.method === 'POST') {
      if (await tryFastToolCall(this.mcp, session.id, req, res, body, bound)) {
        session.buffer.settle(res);
        return;
      }
      session.buffer.track(res);
      const ids = requestIds(body);
      if (ids.length > 0) res.once('finish', () => session.events.forgetReplies(ids));
    } else if (req.method === 'GET') {
      const lastEventId = headerValue(req, 'last-event-id');
      // Event ids of POST reply streams are the SDK's to replay; the rest is our notification stream.
      if (lastEventId === undefined || parseEventPosition(lastEventId) !== undefined) {
        session.stream.attach(req, res);
        res.once('close', () => (session.lastSeen = Date.now()));
        return;
      }
    }
    session.buffer.track(res);
    await session.transport.handleRequest(req, res, body);
  }

  /**
   * Binds a session nobody authenticated on yet to the agent of the first request whose credentials
   * (headers, or a tool's auth_token) are valid. Invalid ones bind nothing; the request itself is
   * refused where it is served.
   */
  private async bind(session: McpSession, credentials: Credentials, body: unknown): Promise<void> {
    const argToken = hasHeaderCredentials(credentials) ? undefined : authTokenArgument(body);
    if (!hasHeaderCredentials(credentials) && argToken === undefined) return;
    try {
      const principal = await this.mcp.services.auth.resolve(
        argToken !== undefined ? { ...credentials, argToken } : credentials,
      );
      session.agentId ??= principal.agentId;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
    }
  }

  /**
   * initialize: credentials, when sent, must be valid and bind the session to their agent (whose
   * rate limit it takes); without them the client address's anonymous limit applies. Then a place
   * among the capped sessions.
   */
  private async openSession(
    req: AuthedRequest,
    res: ServerResponse,
    body: unknown,
    credentials: Credentials,
  ): Promise<void> {
    const { services } = this.mcp;
    const rpcId = (body as { id?: unknown }).id;
    let agentId: string | undefined;
    try {
      if (hasHeaderCredentials(credentials)) {
        agentId = (await services.auth.resolve(credentials)).agentId;
        services.rateLimiter.take(agentId, credentials.clientAddress);
      } else {
        services.anonymousLimiter.take(credentials.clientAddress ?? 'unknown');
      }
    } catch (error) {
      if (error instanceof AppError) return appRpcError(res, error, rpcId);
      throw error;
    }
    const room = this.sessions.reserve();
    if (!room.ok) {
      const max = services.config.limits.maxMcpSessions;
      services.metrics.error('MCP_SESSIONS_FULL');
      return appRpcError(
        res,
        new AppError(
          'UNAVAILABLE',
          `The server already holds its maximum of ${max} MCP sessions (MAX_MCP_SESSIONS). Retry in ${room.retryAfter} s; clients should end sessions they no longer use (DELETE /mcp).`,
          { retryAfter: room.retryAfter },
        ),
        rpcId,
      );
    }
    try {
      await this.startSession(req, res, body, credentials, agentId);
    } finally {
      this.sessions.release();
    }
  }

  private async startSession(
    req: AuthedRequest,
    res: ServerResponse,
    body: unknown,
    credentials: Credentials,
    agentId: string | undefined,
  ): Promise<void> {
    const params = (body as { params?: Record<string, unknown> }).params ?? {};
    const { transport, server, buffer, events } = await this.newSession(agentId, params);
    setCredentials(req, agentId !== undefined ? { ...credentials, boundTo: agentId } : credentials);
    buffer.track(res);
    res.once('finish', () => events.forgetReplies(requestIds(body)));
    await transport.handleRequest(req, res, body);
    if (transport.sessionId === undefined) await server.close();
  }

  /**
   * A session object with its transport, notification stream and subscriptions; added to the
   * registry (and, when new, recorded in the database) once initialized. `takeOver` gives it the
   * id of a session another node opened.
   */
  private async newSession(
    agentId: string | undefined,
    initialize: Record<string, unknown>,
    takeOver?: string,
  ): Promise<{
    transport: NodeStreamableHTTPServerTransport;
    server: ReturnType<typeof buildMcpServer>;
    owner: string;
    stream: SessionStream;
    buffer: ClientBuffer;
    events: ReturnType<InMemoryEventStore['forSession']>;
  }> {
    const { services } = this.mcp;
    let sessionId = takeOver ?? '';
    const buffer = new ClientBuffer(services.config.limits.maxClientBufferBytes, (unread) => {
      services.logger.warn(
        { mcp_session: sessionId, unread_bytes: unread, agent_id: agentId },
        'MCP client cut off: it left more unread bytes than MAX_CLIENT_BUFFER_BYTES',
      );
      services.metrics.error('CLIENT_BUFFER_OVERFLOW');
    });
    // The session's subscriptions are registered under `owner`; a resumed stream replays by it.
    const owner = randomUUID();
    const stream = new SessionStream(buffer, {
      position: () => services.feed.position,
      replay: (from) => services.subscriptions.replay(owner, from),
    });
    if (typeof initialize.protocolVersion === 'string') stream.protocolVersion = initialize.protocolVersion;
    const events = this.eventStore.forSession();
    const server = buildMcpServer(this.mcp, {
      persistent: true,
      owner,
      notify: (uri, eventId) => stream.send(resourceUpdated(uri), eventId),
      onSubscriptionsChanged: () =>
        this.persist(sessionId, () =>
          services.mcpSessions.setSubscriptions(sessionId, services.subscriptions.urisOf(owner)),
        ),
    });
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => takeOver ?? randomUUID(),
      eventStore: events,
      retryInterval: SSE_RETRY_MS,
      onsessioninitialized: (id) => {
        sessionId = id;
        stream.sessionId = id;
        this.sessions.add({
          id,
          transport,
          stream,
          buffer,
          events,
          agentId,
          lastSeen: Date.now(),
          close: () => server.close(),
        });
        // A new session is recorded before initialize is answered (the SDK waits for this promise),
        // so another node the client reaches next already finds it.
        if (takeOver === undefined) {
          return this.persist(id, () =>
            services.mcpSessions.save({ sessionId: id, agentId, initialize, subscriptions: [] }),
          );
        }
        return undefined;
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id !== undefined) {
        this.sessions.remove(id);
        // Ended by its client or idle: gone for every node. This node stopping: kept for the others.
        if (this.closing) services.mcpSessions.forget(id);
        else this.persist(id, () => services.mcpSessions.remove(id));
      }
      stream.close();
      events.close();
    };
    await server.connect(transport);
    return { transport, server, owner, stream, buffer, events };
  }

  /**
   * Writes of one session's record, in order (a bind or a subscribe never overtakes the insert).
   * Resolves once this write is done (a failed write is logged, not thrown).
   */
  private persist(sessionId: string, write: () => Promise<void>): Promise<void> {
    const previous = this.persisting.get(sessionId) ?? Promise.resolve();
    const next = previous
      .then(write)
      .catch((error: unknown) =>
        this.mcp.services.logger.warn(
          { err: error, mcp_session: sessionId },
          'recording the MCP session failed',
        ),
      )
      .finally(() => {
        if (this.persisting.get(sessionId) === next) this.persisting.delete(sessionId);
      });
    this.persisting.set(sessionId, next);
    return next;
  }

  /**
   * A request for a session this node does not hold: if the database has it (its node stopped or
   * died, or the load balancer moved the client), take it over — the same id, initialized with the
   * request it was opened with, bound to the same agent (the request's credentials must name it),
   * its subscriptions restored — and serve the request; a resumed GET stream replays from the feed.
   * Otherwise 404: the client re-initializes, as the MCP spec says.
   */
  private async takeOver(
    sessionId: string,
    req: AuthedRequest,
    res: ServerResponse,
    credentials: Credentials,
    body?: unknown,
  ): Promise<void> {
    let pending = this.takingOver.get(sessionId);
    if (pending === undefined) {
      pending = this.adopt(sessionId, credentials).finally(() => this.takingOver.delete(sessionId));
      this.takingOver.set(sessionId, pending);
    }
    let session: McpSession | undefined;
    try {
      session = await pending;
    } catch (error) {
      if (error instanceof AppError) return appRpcError(res, error, null);
      throw error;
    }
    if (session === undefined)
      return rpcError(res, 404, -32001, 'Session not found: start a new one with initialize.');
    return this.serve(session, req, res, credentials, body);
  }

  private async adopt(sessionId: string, credentials: Credentials): Promise<McpSession | undefined> {
    const { services } = this.mcp;
    if (!hasHeaderCredentials(credentials)) return undefined;
    const saved = await services.mcpSessions.find(sessionId);
    if (saved === undefined) return undefined;
    const principal = await services.auth.resolve(credentials);
    if (saved.agentId !== undefined && saved.agentId !== principal.agentId) return undefined;
    const room = this.sessions.reserve();
    if (!room.ok) {
      throw new AppError('UNAVAILABLE', 'The server holds its maximum of MCP sessions (MAX_MCP_SESSIONS).', {
        retryAfter: room.retryAfter,
      });
    }
    try {
      const { transport, owner, stream } = await this.newSession(
        principal.agentId,
        saved.initialize,
        sessionId,
      );
      await initializeInPlace(transport, saved.initialize);
      const session = this.sessions.get(sessionId);
      if (session === undefined) return undefined;
      session.agentId = principal.agentId;
      if (saved.agentId === undefined)
        this.persist(sessionId, () => services.mcpSessions.bind(sessionId, principal.agentId));
      for (const uri of saved.subscriptions) {
        try {
          services.subscriptions.subscribe(owner, principal, uri, (changed, eventId) =>
            stream.send(resourceUpdated(changed), eventId),
          );
        } catch {
          // No longer allowed (e.g. the agent lost a permission): that subscription ends here.
        }
      }
      services.logger.info(
        { mcp_session: sessionId, agent_id: principal.agentId },
        'MCP session taken over from another node',
      );
      return session;
    } finally {
      this.sessions.release();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    await this.sessions.closeAll();
    await this.modernHandler.close?.();
  }
}

/**
 * Makes a fresh transport hold an existing session: the initialize request it was opened with, and
 * the initialized notification, are played to it directly (the SDK has no other way to create an
 * initialized session; its Node transport wraps a web-standard one, reached here).
 */
async function initializeInPlace(
  transport: NodeStreamableHTTPServerTransport,
  params: Record<string, unknown>,
): Promise<void> {
  const web = (
    transport as unknown as { _webStandardTransport: { handleRequest(r: Request): Promise<Response> } }
  )._webStandardTransport;
  const post = (message: object, headers: Record<string, string> = {}) =>
    web.handleRequest(
      new Request('http://localhost/mcp', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
        body: JSON.stringify(message),
      }),
    );
  const opened = await post({ jsonrpc: '2.0', id: 'take-over', method: 'initialize', params });
  const text = await opened.text();
  if (!opened.ok) throw new Error(`taking the session over: initialize answered ${opened.status}: ${text}`);
  const version = /"protocolVersion":"([^"]+)"/.exec(text)?.[1];
  const done = await post(
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    {
      'mcp-session-id': transport.sessionId ?? '',
      ...(version === undefined ? {} : { 'mcp-protocol-version': version }),
    },
  );
  await done.text();
}
