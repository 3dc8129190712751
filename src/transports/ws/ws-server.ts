import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import { SESSION_ID_PATTERN } from '../../core/ids.js';
import { credentialsFromHeaders } from '../http/credentials.js';
import { AgentSocket } from './agent-socket.js';
import { hasPermission } from '../../auth/principal.js';
import { invokeNamedTool } from '../../tools/invoke.js';

const PING_MS = 30_000;

const MAX_FRAME_BYTES = 256 * 1024;

const ClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('heartbeat'), status: z.enum(['active', 'idle']).optional() }),
  z.object({
    type: z.literal('subscribe'),
    session_id: z.string().regex(SESSION_ID_PATTERN),
    after_id: z.number().int().min(0).optional(),
  }),
  z.object({ type: z.literal('unsubscribe'), session_id: z.string().regex(SESSION_ID_PATTERN) }),
  z.object({ type: z.literal('ack'), message_id: z.number().int().positive() }),
]);

function writeRefusal(socket: Duplex, status: number, code: string, error: string): void {
  const body = JSON.stringify({ success: false, code, error });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Bad Request'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * WebSocket /ws/{agent_id}: authenticated as that agent only (Bearer header, API-key headers, or
 * ?token= for browsers). One bus subscription serves every socket of the process; a session
 * message is serialized once and sent to each socket allowed to see it.
 */
export class AgentWebSockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly byAgent = new Map<string, Set<AgentSocket>>();
  private readonly bySession = new Map<string, Set<AgentSocket>>();
  private readonly unsubscribeBus: () => void;
  private readonly pinger: NodeJS.Timeout;
  private readonly alive = new WeakSet<WebSocket>();

  constructor(private readonly services: Services) {
    services.metrics.track('websockets', () => this.open);
    this.unsubscribeBus = services.bus.subscribe((event) => {
      if (event.type === 'mail.sent') {
        for (const s of this.byAgent.get(event.mail.to) ?? []) s.onMail(event.mail);
      } else if (event.type === 'mail.receipt') {
        for (const s of this.byAgent.get(event.mail.from) ?? []) s.onReceipt(event.mail);
      } else if (event.type === 'token.revoked') {
        for (const s of this.byAgent.get(event.agentId) ?? []) {
          if (event.jti === undefined || s.principal.tokenId === event.jti) s.end(4001, 'token revoked');
        }
      } else if (event.type === 'message.created') {
        const sockets = this.bySession.get(event.message.session_id);
        if (!sockets) return;
        const text = JSON.stringify({ type: 'session_message', message: event.message });
        for (const s of sockets) s.onSessionMessage(event.message, text);
      }
    });
    this.pinger = setInterval(() => this.ping(), PING_MS);
    this.pinger.unref();
  }

  get open(): number {
    return this.wss.clients.size;
  }

  /** Handles an HTTP upgrade for /ws/{agent_id}; answers errors on the raw socket. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, agentIdInPath: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const credentials = credentialsFromHeaders(req);
    const queryToken = url.searchParams.get('token');
    if (queryToken) credentials.argToken = queryToken;
    const afterParam = url.searchParams.get('after_id');
    const afterId = afterParam === null ? undefined : Number(afterParam);
    if (afterId !== undefined && (!Number.isSafeInteger(afterId) || afterId < 0)) {
      return this.reject(
        socket,
        400,
        'INVALID_INPUT',
        'after_id must be a non-negative integer (the last mail id you received).',
      );
    }
    let principal;
    try {
      principal = await this.services.auth.resolve(credentials);
      this.services.rateLimiter.take(principal.agentId);
    } catch (error) {
      const e = error instanceof AppError ? error : new AppError('UNAUTHORIZED', 'Authentication failed.');
      return this.reject(socket, e.code === 'RATE_LIMITED' ? 429 : 401, e.code, e.message);
    }
    if (!hasPermission(principal, 'read')) {
      return this.reject(
        socket,
        403,
        'PERMISSION_DENIED',
        'The WebSocket pushes mail and messages: it needs the "read" permission.',
      );
    }
    if (principal.agentId !== agentIdInPath) {
      return this.reject(
        socket,
        403,
        'PERMISSION_DENIED',
        `You are ${principal.agentId}; connect to /ws/${principal.agentId}.`,
      );
    }
    this.wss.handleUpgrade(req, socket, head, (ws) =>
      this.accept(ws, new AgentSocket(ws, principal, credentials, this.services), afterId),
    );
  }

  private reject(socket: Duplex, status: number, code: string, error: string): void {
    this.services.metrics.error(code);
    writeRefusal(socket, status, code, error);
  }

  private accept(ws: WebSocket, conn: AgentSocket, afterId: number | undefined): void {
    const { services } = this;
    let set = this.byAgent.get(conn.agentId);
    if (!set) this.byAgent.set(conn.agentId, (set = new Set()));
    set.add(conn);
    this.alive.add(ws);
    services.agents.connected(conn.agentId, 1);
    ws.on('pong', () => this.alive.add(ws));
    ws.on('message', (data: RawData) => void this.onFrame(conn, data));
    ws.on('close', () => {
      conn.markClosed();
      set.delete(conn);
      if (set.size === 0) this.byAgent.delete(conn.agentId);
      for (const sessionId of conn.sessions.keys()) this.leave(conn, sessionId);
      services.agents.connected(conn.agentId, -1);
    });
    conn.start(afterId).catch((error: unknown) => conn.error(error));
  }

  private async onFrame(conn: AgentSocket, data: RawData): Promise<void> {
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        throw new AppError(
          'INVALID_INPUT',
          'Frames are JSON objects: {"type":"heartbeat"|"subscribe"|"unsubscribe"|"ack", …}.',
        );
      }
      const parsed = ClientFrame.safeParse(raw);
      if (!parsed.success) {
        throw new AppError(
          'INVALID_INPUT',
          `Unknown or malformed frame: ${parsed.error.issues[0]?.message ?? 'invalid'}.`,
        );
      }
      const frame = parsed.data;
      if (frame.type === 'subscribe' || frame.type === 'unsubscribe') {
        // Tool frames are limited and recorded by invokeTool; these two are counted here.
        this.services.rateLimiter.take(conn.agentId);
        this.services.agents.touch(conn.agentId);
      }
      switch (frame.type) {
        case 'heartbeat': {
          const body = (await this.tool(conn, 'heartbeat', frame.status ? { status: frame.status } : {})) as {
            agent: { status: string };
          };
          conn.send({
            type: 'heartbeat_ack',
            status: body.agent.status,
            agent: body.agent,
            at: new Date().toISOString(),
          });
          break;
        }
        case 'subscribe': {
          let set = this.bySession.get(frame.session_id);
          if (!set) this.bySession.set(frame.session_id, (set = new Set()));
          set.add(conn);
          try {
            await conn.subscribe(frame.session_id, frame.after_id);
          } catch (error) {
            this.leave(conn, frame.session_id);
            throw error;
          }
          break;
        }
        case 'unsubscribe':
          this.leave(conn, frame.session_id);
          conn.unsubscribe(frame.session_id);
          break;
        case 'ack':
          conn.send({
            type: 'acked',
            ...(await this.tool(conn, 'ack_message', { message_id: frame.message_id })),
          });
          break;
      }
    } catch (error) {
      conn.error(error);
    }
  }

  /** Runs a frame as the tool it stands for, with the socket's credentials: same checks, same results. */
  private async tool(conn: AgentSocket, name: string, args: Record<string, unknown>): Promise<object> {
    const outcome = await invokeNamedTool(this.services, name, args, conn.credentials);
    if (!outcome.ok) {
      const { error, code, retry_after } = outcome.body;
      throw new AppError(code, error, retry_after !== undefined ? { retryAfter: retry_after } : {});
    }
    const { success: _success, ...body } = outcome.body;
    return body;
  }

  private leave(conn: AgentSocket, sessionId: string): void {
    const set = this.bySession.get(sessionId);
    set?.delete(conn);
    if (set?.size === 0) this.bySession.delete(sessionId);
    conn.sessions.delete(sessionId);
  }

  private ping(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    this.unsubscribeBus();
    for (const ws of this.wss.clients) ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
