import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { Liveness } from './liveness.js';
import { z } from 'zod';
import { AppError, httpStatusFor, internalFailure, toToolFailure } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import { SESSION_ID_PATTERN } from '../../core/ids.js';
import { credentialsFromHeaders } from '../http/credentials.js';
import { AgentSocket } from './agent-socket.js';
import { hasPermission } from '../../auth/principal.js';
import { invokeNamedTool } from '../../tools/invoke.js';
import { PushHub } from '../../realtime/push-hub.js';

const PROTOCOL_ERROR_GRACE_MS = 1000;

/** The largest frame a client may send; a bigger one closes that socket with 1009. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Sessions one socket may follow at once; a subscribe beyond it is answered LIMIT_EXCEEDED. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

type ClientFrame = z.infer<typeof ClientFrame>;
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

/** Answers a refused upgrade on the raw socket, in the JSON shape of every other failure. */
export function writeRefusal(socket: Duplex, error: AppError): void {
  const status = httpStatusFor(error.code);
  const body = JSON.stringify(toToolFailure(error));
  const retryAfter =
    error.retryAfter !== undefined ? `retry-after: ${Math.max(1, Math.ceil(error.retryAfter))}\r\n` : '';
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${retryAfter}` +
      `connection: close\r\n\r\n${body}`,
  );
}

/**
 * WebSocket /ws/{agent_id}: authenticated as that agent only (Bearer header, API-key headers, or
 * ?token= for browsers). Sockets are push targets of one PushHub (src/realtime/push-hub.ts), fed by
 * the process's change-feed reader: it routes and filters; this class speaks the protocol.
 */
export class AgentWebSockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly hub: PushHub;
  private readonly liveness: Liveness;

  constructor(private readonly services: Services) {
    services.metrics.track('websockets', () => this.open);
    this.hub = new PushHub(services.feed, (message) => JSON.stringify({ type: 'session_message', message }));
    this.liveness = new Liveness(this.wss);
    // With noServer the server itself has no socket; listen anyway, so nothing it emits can crash us.
    this.wss.on('error', (error) => services.logger.warn({ err: error }, 'websocket server error'));
    // A handshake ws itself finds invalid (bad Sec-WebSocket-Key or version): answer it like our refusals.
    this.wss.on('wsClientError', (error: Error, socket: Duplex) => {
      services.logger.debug({ reason: error.message }, 'websocket handshake refused');
      this.reject(socket, new AppError('INVALID_INPUT', `WebSocket handshake refused: ${error.message}.`));
    });
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
        new AppError(
          'INVALID_INPUT',
          'after_id must be a non-negative integer (the last mail id you received).',
        ),
      );
    }
    let principal;
    try {
      principal = await this.services.auth.resolve(credentials);
      this.services.rateLimiter.take(principal.agentId, credentials.clientAddress);
    } catch (error) {
      if (!(error instanceof AppError)) {
        this.services.logger.error({ err: error }, 'websocket authentication failed unexpectedly');
        return this.reject(socket, new AppError('INTERNAL_ERROR', internalFailure().error));
      }
      return this.reject(socket, error);
    }
    if (!hasPermission(principal, 'read')) {
      return this.reject(
        socket,
        new AppError(
          'PERMISSION_DENIED',
          'The WebSocket pushes mail and messages: it needs the "read" permission.',
        ),
      );
    }
    if (principal.agentId !== agentIdInPath) {
      return this.reject(
        socket,
        new AppError(
          'PERMISSION_DENIED',
          `You are ${principal.agentId}; connect to /ws/${principal.agentId}.`,
        ),
      );
    }
    this.wss.handleUpgrade(req, socket, head, (ws) =>
      this.accept(ws, new AgentSocket(ws, principal, credentials, this.services), afterId),
    );
  }

  private reject(socket: Duplex, error: AppError): void {
    this.services.metrics.error(error.code);
    writeRefusal(socket, error);
  }

  private accept(ws: WebSocket, conn: AgentSocket, afterId: number | undefined): void {
    const { services } = this;
    this.hub.add(conn);
    this.liveness.track(ws);
    services.agents.connected(conn.agentId, 1);
    // ws reports a protocol violation (a frame over MAX_FRAME_BYTES, bad UTF-8, a bad opcode) as an
    // 'error' and then closes that socket with the matching code (1009, 1007, 1002): log, never crash.
    // Such a client gets a moment to finish the close handshake, not ws's 30 s.
    ws.on('error', (error: Error & { code?: string }) => {
      services.logger.debug(
        { agentId: conn.agentId, code: error.code, reason: error.message },
        'websocket closed on a bad frame',
      );
      setTimeout(() => ws.terminate(), PROTOCOL_ERROR_GRACE_MS).unref();
    });
    ws.on('message', (data: RawData) => void this.onFrame(conn, data));
    ws.on('close', () => {
      conn.markClosed();
      this.hub.remove(conn, conn.sessions.keys());
      conn.sessions.clear();
      services.agents.connected(conn.agentId, -1);
    });
    conn.start(afterId).catch((error: unknown) => {
      // Without its backlog the socket would silently miss mail: say why, and let the client reconnect.
      conn.error(error);
      conn.end(1011, 'the mail backlog could not be read: reconnect with ?after_id= to resume');
    });
  }

  private async onFrame(conn: AgentSocket, data: RawData): Promise<void> {
    try {
      const frame = this.parse(conn, data);
      if (frame.type === 'subscribe' || frame.type === 'unsubscribe') {
        // Heartbeat and ack run as tools, which count them; every other frame is counted here.
        this.services.rateLimiter.take(conn.agentId, conn.credentials.clientAddress);
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
          if (!conn.sessions.has(frame.session_id) && conn.sessions.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
            throw new AppError(
              'LIMIT_EXCEEDED',
              `This socket already follows ${conn.sessions.size} sessions, the most one socket may: unsubscribe from one first, or open another socket.`,
              { details: { limit: MAX_SUBSCRIPTIONS_PER_SOCKET } },
            );
          }
          this.hub.follow(frame.session_id, conn);
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

  /**
   * A frame as JSON, checked against the frame schema. A frame that is not one is refused, and
   * counted against the agent first: a flood of garbage is answered RATE_LIMITED, not worked on.
   */
  private parse(conn: AgentSocket, data: RawData): ClientFrame {
    let raw: unknown;
    let problem: string | undefined;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      problem = 'Frames are JSON objects: {"type":"heartbeat"|"subscribe"|"unsubscribe"|"ack", …}.';
    }
    if (problem === undefined) {
      const parsed = ClientFrame.safeParse(raw);
      if (parsed.success) return parsed.data;
      problem = `Unknown or malformed frame: ${parsed.error.issues[0]?.message ?? 'invalid'}.`;
    }
    this.services.rateLimiter.take(conn.agentId, conn.credentials.clientAddress);
    throw new AppError('INVALID_INPUT', problem);
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
    this.hub.unfollow(sessionId, conn);
    conn.sessions.delete(sessionId);
  }

  async close(): Promise<void> {
    this.hub.close();
    await this.liveness.close();
  }
}
