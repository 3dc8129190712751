import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Services } from '../../app/services.js';
import { internalFailure } from '../../core/errors.js';
import { LazyMcpHttpEndpoint } from '../mcp/lazy-mcp-http.js';
import { handleHealth } from './health.route.js';
import { handleMetrics } from './metrics.route.js';
import { REST_PREFIX, handleRest } from './rest.routes.js';
import type { AgentWebSockets } from '../ws/ws-server.js';
import type { Duplex } from 'node:stream';
import { sendJson } from './request.js';
import { createHttpGuard } from './security.js';
import { handleToolRoute } from './tool.route.js';
import { UiAssets } from '../ui/assets.js';
import type { DashboardSockets } from '../ui/live.js';
import { UI_LIVE_PATH, handleUi, isUiPath } from '../ui/ui.routes.js';
import { OnFirstUse } from '../on-first-use.js';
import { noteClientAddress } from './credentials.js';

export interface HttpApp {
  readonly server: Server;
  readonly mcp: LazyMcpHttpEndpoint;
  /** The agents' sockets (/ws/{agent_id}); undefined until the first one connects (docs/memory.md). */
  readonly websockets: AgentWebSockets | undefined;
  /** The dashboard's live sockets (/ui/live); undefined until the first one connects. */
  readonly dashboardSockets: DashboardSockets | undefined;
  listen(): Promise<{ host: string; port: number }>;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes connections. */
  close(graceMs?: number): Promise<void>;
}

const TOOL_PREFIX = '/mcp/tool/';

/** How a request Node could not parse is answered (`clientError`); anything else is a 400. */
const CLIENT_ERROR_STATUS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/** The largest body any endpoint accepts: room for the biggest allowed content or memory value as JSON. */
export const maxBodyBytes = (services: Services): number =>
  Math.max(
    4 * 1024 * 1024,
    services.config.maxContentLength * 4 + 256 * 1024,
    services.config.maxMemoryValueBytes * 2,
  );

export function createHttpApp(services: Services): HttpApp {
  const { config, logger } = services;
  const guard = createHttpGuard(config);
  const bodyLimit = maxBodyBytes(services);
  // What a transport needs beyond this file is imported on its first use: an idle server holds
  // neither the MCP SDK nor ws (and assets.ts imports esbuild when it first builds; docs/memory.md).
  const mcp = new LazyMcpHttpEndpoint(services, bodyLimit);
  const websockets = new OnFirstUse(
    async () => new (await import('../ws/ws-server.js')).AgentWebSockets(services),
  );
  const dashboardSockets = new OnFirstUse(
    async () => new (await import('../ui/live.js')).DashboardSockets(services),
  );
  const uiAssets = new UiAssets();
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const sockets = new Set<Socket>();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (guard.cors(req, res)) return;
    if (!guard.check(req, res)) return;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith(TOOL_PREFIX)) {
      return handleToolRoute(
        services,
        decodeURIComponent(path.slice(TOOL_PREFIX.length)),
        req,
        res,
        bodyLimit,
      );
    }
    if (path === '/mcp' || path === '/mcp/') return mcp.handle(req, res);
    if (path.startsWith(REST_PREFIX)) return handleRest(services, req, res, path, bodyLimit);
    if (path === '/health' && req.method === 'GET') return handleHealth(services, res);
    if (path === '/metrics' && req.method === 'GET') return handleMetrics(services, res);
    if (isUiPath(path)) return handleUi(services, uiAssets, req, res, path, bodyLimit);
    sendJson(res, 404, {
      success: false,
      code: 'NOT_FOUND',
      error: `Nothing at ${req.method} ${path}. MCP is at /mcp, tools at POST /mcp/tool/{name}.`,
    });
  }

  const server = createServer((req, res) => {
    noteClientAddress(req, config.trustProxy);
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    route(req, res).catch((error: unknown) => {
      logger.error({ err: error, url: req.url, method: req.method }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, internalFailure());
      else res.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  // A request Node cannot parse (a garbage request line, headers too large, a reset mid-request)
  // never reaches `route`: answer it here when the socket can still be written, and never crash.
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    logger.debug({ code: error.code, reason: error.message }, 'malformed HTTP request refused');
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const [status, text] = CLIENT_ERROR_STATUS[error.code ?? ''] ?? [400, 'Bad Request'];
    const body = JSON.stringify({
      success: false,
      code: status === 431 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_INPUT',
      error: `The server could not read this HTTP request (${text.toLowerCase()}).`,
    });
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    noteClientAddress(req, config.trustProxy);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === UI_LIVE_PATH && guard.checkUpgrade(req)) {
      dashboardSockets
        .get()
        .then((sockets) => sockets.upgrade(req, socket, head))
        .catch((error: unknown) => {
          logger.error({ err: error }, 'dashboard websocket upgrade failed');
          socket.destroy();
        });
      return;
    }
    const match = /^\/ws\/([^/]+)$/.exec(path);
    if (!match || !guard.checkUpgrade(req)) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const agentId = decodeURIComponent(match[1] ?? '');
    websockets
      .get()
      .then((sockets) => sockets.upgrade(req, socket, head, agentId))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'websocket upgrade failed');
        socket.destroy();
      });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Node drops its own 'error' listener when a socket is handed to 'upgrade', and the WebSocket
    // upgrade then awaits authentication: a reset in that window would be an unhandled 'error'.
    socket.on('error', (error: Error & { code?: string }) =>
      logger.debug({ code: error.code, reason: error.message }, 'client socket error'),
    );
  });

  return {
    server,
    mcp,
    get websockets() {
      return websockets.loaded;
    },
    get dashboardSockets() {
      return dashboardSockets.loaded;
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          // After listen, an 'error' (e.g. EMFILE on accept) is logged: it must not end the process.
          server.on('error', (error) => logger.error({ err: error }, 'HTTP server error'));
          const address = server.address();
          const port = typeof address === 'object' && address ? address.port : config.port;
          resolve({ host: config.host, port });
        });
      });
    },
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Long-lived streams (SSE) never end by themselves: close the MCP sessions first.
      await mcp.close();
      await (await websockets.settled())?.close();
      await (await dashboardSockets.settled())?.close();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref()),
        ]);
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
