import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Services } from '../../app/services.js';
import { DASHBOARD_PRINCIPAL, type DashboardClaims } from '../../auth/dashboard-auth.js';
import { AppError, httpStatusFor, toToolFailure } from '../../core/errors.js';
import { SESSION_ID_PATTERN } from '../../core/ids.js';
import { VISIBILITIES } from '../../messages/message.service.js';
import { SEARCH_SCOPES } from '../../search/search.service.js';
import { SESSION_STATUSES } from '../../sessions/session.service.js';
import { AGENT_STATUSES } from '../../agents/agent.service.js';
import { agentGraph } from '../../agents/agent-graph.js';
import { AGENT_ID_PATTERN } from '../../core/ids.js';
import { describeIssues } from '../../tools/invoke.js';
import { headerValue, readJsonBody, sendJson } from '../http/request.js';
import { UI_COOKIE, clearedCookie, loginCookie, readCookie } from './cookies.js';
import { EXPORT_FORMATS, sendSessionExport } from './export.js';
import { clientAddressOf } from '../http/credentials.js';

export const UI_API_PREFIX = '/ui/api/';

const principal = DASHBOARD_PRINCIPAL;
const intParam = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const Login = z.object({ password: z.string().min(1).max(1000) });
const SessionsQuery = z.object({
  status: z.enum(SESSION_STATUSES).optional(),
  q: z.string().min(1).max(200).optional(),
  cursor: z.string().min(1).max(200).optional(),
  limit: intParam(1, 500).default(50),
});
const MessagesQuery = z.object({
  after_id: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
  before_id: intParam(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: intParam(1, 1000).default(200),
});
const SearchQuery = z.object({
  q: z.string().min(1).max(500),
  fuzzy_threshold: intParam(0, 100).default(60),
  limit: intParam(1, 100).default(20),
  scope: z.enum(SEARCH_SCOPES).default('all'),
  cursor: z.string().min(1).max(100).optional(),
});
const AgentsQuery = z.object({
  session_id: z.string().regex(SESSION_ID_PATTERN).optional(),
  status: z.enum(AGENT_STATUSES).optional(),
  cursor: z.string().min(1).max(100).optional(),
});
const GraphQuery = z.object({ session_id: z.string().regex(SESSION_ID_PATTERN).optional() });
const agentId = z.string().regex(AGENT_ID_PATTERN, 'not an agent id');
const MemoryQuery = z.object({
  agent_id: agentId,
  /** A session id, "all", or absent (global entries), as list_memory takes it. */
  scope: z.union([z.literal('all'), z.string().regex(SESSION_ID_PATTERN)]).optional(),
  prefix: z.string().min(1).max(200).optional(),
  cursor: z.string().min(1).max(500).optional(),
  limit: intParam(1, 500).default(100),
});
const ExportQuery = z.object({ format: z.enum(EXPORT_FORMATS).default('json') });
const MailBody = z.object({
  to: z.union([agentId, z.array(agentId).min(1).max(1000)]),
  content: z.string().min(1, 'must not be empty'),
  type: z.string().min(1).max(64).default('request'),
  reply_to: z.number().int().positive().optional(),
});
const StatusBody = z.object({ status: z.enum(SESSION_STATUSES) });
const MessageBody = z.object({
  content: z.string().min(1, 'must not be empty'),
  visibility: z.enum(VISIBILITIES).default('public'),
  message_type: z.string().min(1).max(64).default('human_input'),
  parent_message_id: z.number().int().positive().optional(),
});

/** Request values checked against their schema; INVALID_INPUT names what is wrong. */
function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new AppError('INVALID_INPUT', `Invalid request: ${describeIssues(parsed.error)}.`);
  return parsed.data;
}

const query = (url: URL): Record<string, string> => Object.fromEntries(url.searchParams);

/**
 * The dashboard's JSON API (docs/dashboard.md). Every call but login needs the login cookie and
 * counts against the dashboard principal's rate limit (RATE_LIMIT_*); every POST also needs the
 * cookie's CSRF token in X-CSRF-Token. Handlers call the services as the
 * dashboard principal (a human admin): this file holds no rule of its own.
 */
export async function handleUiApi(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  bodyLimit: number,
): Promise<void> {
  const address = clientAddressOf(req);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = path.slice(UI_API_PREFIX.length - 1);
  const method = req.method ?? 'GET';
  let claims: DashboardClaims | undefined;
  try {
    if (method === 'POST' && route === '/login') {
      const { password } = parse(Login, await readJsonBody(req, bodyLimit));
      const login = await services.dashboard.login(password, address);
      const maxAge = login.claims.expiresAt - Math.floor(Date.now() / 1000);
      sendJson(
        res,
        200,
        { ok: true, csrf: login.claims.csrf },
        { 'set-cookie': loginCookie(req, login.token, maxAge) },
      );
      return;
    }
    claims = await services.dashboard.verify(readCookie(req, UI_COOKIE), address);
    // The operator's calls count against its own bucket, like a tool call against its agent's.
    services.rateLimiter.take(principal.agentId, address);
    if (method === 'POST') services.dashboard.checkCsrf(claims, headerValue(req, 'x-csrf-token'));
    const body = await answer(services, req, res, url, `${method} ${route}`, claims, bodyLimit);
    if (body === WRITTEN) return;
    if (body === undefined) {
      throw new AppError(
        'NOT_FOUND',
        `Nothing at ${method} ${path}. The dashboard API is described in docs/dashboard.md.`,
      );
    }
    const headers: Record<string, string> = route === '/logout' ? { 'set-cookie': clearedCookie(req) } : {};
    sendJson(res, 200, body, headers);
  } catch (error) {
    // A download that fails midway can only be cut off (the HTTP server ends the response).
    if (!(error instanceof AppError) || res.headersSent) throw error;
    services.metrics.error(error.code);
    const headers: Record<string, string> = {};
    if (error.retryAfter !== undefined)
      headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfter)));
    // A cookie that no longer works is dropped, so the page shows the login form at once.
    if (claims === undefined && (error.code === 'TOKEN_REVOKED' || error.code === 'TOKEN_EXPIRED')) {
      headers['set-cookie'] = clearedCookie(req);
    }
    sendJson(res, httpStatusFor(error.code), toToolFailure(error), headers);
  }
}

/** A handler that wrote its own response (a download). */
const WRITTEN = Symbol('written');

/** The answer to an authenticated call, or undefined when no route matches. */
async function answer(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  route: string,
  claims: DashboardClaims,
  bodyLimit: number,
): Promise<object | typeof WRITTEN | undefined> {
  switch (route) {
    case 'POST /logout':
      await services.dashboard.logout(claims);
      return { ok: true };
    case 'GET /me':
      return {
        user: principal.agentId,
        csrf: claims.csrf,
        expires_at: new Date(claims.expiresAt * 1000).toISOString(),
      };
    case 'GET /sessions': {
      const q = parse(SessionsQuery, query(url));
      return services.sessions.overview({ status: q.status, text: q.q, cursor: q.cursor, limit: q.limit });
    }
    case 'GET /agents': {
      const q = parse(AgentsQuery, query(url));
      const [page, mail] = await Promise.all([
        services.agents.list(
          { sessionId: q.session_id, status: q.status, cursor: q.cursor },
          services.config.limits.maxReplyBytes,
        ),
        services.mail.countsByAgent(),
      ]);
      const agents = page.agents.map((a) => ({
        ...a,
        mail: mail.get(a.agent_id) ?? { sent: 0, received: 0 },
      }));
      return { ...page, agents };
    }
    case 'GET /metrics':
      return { metrics: await services.metrics.snapshot() };
    case 'GET /graph':
      return agentGraph(services.agents, services.mail, parse(GraphQuery, query(url)).session_id);
    case 'GET /memory': {
      const q = parse(MemoryQuery, query(url));
      const page = await services.memory.listOf(q.agent_id, q.scope, q.prefix, q.limit, q.cursor);
      return { agent_id: q.agent_id, ...page };
    }
    case 'POST /mail': {
      const b = parse(MailBody, await readJsonBody(req, bodyLimit));
      // Agents tell the overseer's mail by its sender type and this flag.
      return services.mail.send(principal, {
        to: b.to,
        content: b.content,
        type: b.type,
        metadata: { from_human: true },
        replyTo: b.reply_to,
      });
    }
  }
  const revoke = /^POST \/agents\/([^/]+)\/revoke$/.exec(route);
  if (revoke) {
    const id = parse(agentId, decodeURIComponent(revoke[1] ?? ''));
    // Every token the agent holds ends (whichever key minted it), and its agent key if it has one.
    const revoked = (await services.auth.agentKeys.revoke(id, principal.agentId)) ?? null;
    const agent = await services.auth.revokeAgent(id, principal.agentId);
    return { revoked, agent };
  }
  const match = /^(GET|POST) \/sessions\/([^/]+)(\/[a-z]+)?$/.exec(route);
  if (!match) return undefined;
  const [, method, rawId, tail] = match;
  const sessionId = parse(
    z.string().regex(SESSION_ID_PATTERN, 'not a session id'),
    decodeURIComponent(rawId ?? ''),
  );
  switch (`${method} ${tail ?? ''}`) {
    case 'GET ':
      return services.sessions.summary(principal, sessionId);
    case 'GET /messages': {
      const q = parse(MessagesQuery, query(url));
      // Without after_id, the newest page (before before_id when given): what a live view opens on.
      if (q.after_id === undefined) {
        return services.messages.newestPage(principal, { sessionId, beforeId: q.before_id }, q.limit);
      }
      const { total_count: _total, ...page } = await services.messages.list(
        principal,
        { sessionId, afterId: q.after_id, beforeId: q.before_id },
        { limit: q.limit, offset: 0 },
      );
      return page;
    }
    case 'GET /search': {
      const q = parse(SearchQuery, query(url));
      return services.search.searchContext(principal, {
        sessionId,
        query: q.q,
        fuzzyThreshold: q.fuzzy_threshold,
        limit: q.limit,
        searchMetadata: true,
        scope: q.scope,
        cursor: q.cursor,
      });
    }
    case 'GET /export': {
      const { format } = parse(ExportQuery, query(url));
      await sendSessionExport(services, res, sessionId, format);
      return WRITTEN;
    }
    case 'POST /status': {
      const { status } = parse(StatusBody, await readJsonBody(req, bodyLimit));
      return { session: await services.sessions.update(principal, sessionId, { status }) };
    }
    case 'POST /messages': {
      const b = parse(MessageBody, await readJsonBody(req, bodyLimit));
      return services.messages.add(principal, {
        sessionId,
        content: b.content,
        visibility: b.visibility,
        messageType: b.message_type,
        parentMessageId: b.parent_message_id,
      });
    }
    default:
      return undefined;
  }
}
