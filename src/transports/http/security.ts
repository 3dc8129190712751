import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config/config.js';
import { localhostAllowedHostnames, validateHostHeader, validateOriginHeader } from './host-validation.js';
import { headerValue, sendJson } from './request.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export interface HttpGuard {
  /** Answers 403 itself and returns false when the request must not proceed (DNS rebinding). */
  check(req: IncomingMessage, res: ServerResponse): boolean;
  /** The same Host/Origin check for a WebSocket upgrade (no response object to answer on). */
  checkUpgrade(req: IncomingMessage): boolean;
  /** Adds CORS headers for configured origins; answers preflights. Returns true when it answered. */
  cors(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Host/Origin checks against DNS rebinding: on a loopback bind only localhost names are accepted
 * unless ALLOWED_HOSTS lists others; on any other bind, only ALLOWED_HOSTS when it is set.
 */
export function createHttpGuard(config: Config): HttpGuard {
  const hosts =
    config.allowedHosts !== undefined
      ? [...config.allowedHosts, ...(LOOPBACK.has(config.host) ? localhostAllowedHostnames() : [])]
      : LOOPBACK.has(config.host)
        ? localhostAllowedHostnames()
        : undefined;
  const corsOrigins = new Set(config.corsOrigins);

  /** undefined when allowed, else the reason. */
  const refusal = (req: IncomingMessage): string | undefined => {
    if (hosts === undefined) return undefined;
    const host = validateHostHeader(headerValue(req, 'host'), hosts);
    if (!host.ok) return `Host not allowed: ${host.message}`;
    const originHeader = headerValue(req, 'origin');
    if (originHeader === undefined || corsOrigins.has(originHeader)) return undefined;
    const origin = validateOriginHeader(originHeader, hosts);
    return origin.ok ? undefined : `Origin not allowed: ${origin.message}`;
  };

  return {
    check(req, res) {
      const reason = refusal(req);
      if (reason === undefined) return true;
      sendJson(res, 403, { success: false, code: 'PERMISSION_DENIED', error: reason });
      return false;
    },
    checkUpgrade: (req) => refusal(req) === undefined,
    cors(req, res) {
      const origin = headerValue(req, 'origin');
      if (origin === undefined || !(corsOrigins.has(origin) || corsOrigins.has('*'))) return false;
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-expose-headers', 'mcp-session-id, mcp-protocol-version');
      if (req.method !== 'OPTIONS') return false;
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers':
          'authorization, content-type, x-api-key, x-agent-id, x-agent-type, mcp-session-id, mcp-protocol-version, last-event-id',
        'access-control-max-age': '600',
      });
      res.end();
      return true;
    },
  };
}
