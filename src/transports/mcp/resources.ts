import {
  type CompleteResult,
  type McpServer,
  type Resource,
  type ServerContext,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
import { AppError } from '../../core/errors.js';
import { SESSION_ID_PATTERN } from '../../core/ids.js';
import type { Principal } from '../../auth/principal.js';
import type { McpContext } from './mcp-server.js';
import { toProtocolError } from './mcp-server.js';

const SESSION_RESOURCE_MESSAGES = 200;
/** resources/list shows this many of the caller's sessions (those it created or wrote in). */
const LISTED_SESSIONS = 50;
/** completion/complete answers at most this many values (the MCP limit). */
const MAX_COMPLETIONS = 100;

const SESSION_TEMPLATE = 'session://{session_id}';
const SESSION_MESSAGES_TEMPLATE = 'session://{session_id}/messages/{limit}';

const json = (uri: URL, value: unknown) => ({
  contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value) }],
});

function one(value: string | string[] | undefined, name: string): string {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.length === 0) throw new AppError('INVALID_INPUT', `The URI has no ${name}.`);
  return decodeURIComponent(v);
}

function sessionIdOf(value: string | string[] | undefined): string {
  const id = one(value, 'session id');
  if (!SESSION_ID_PATTERN.test(id)) throw new AppError('INVALID_INPUT', `"${id}" is not a session id.`);
  return id;
}

/**
 * The caller's concrete resources for resources/list: its memory and inbox, and the sessions it
 * created or wrote in (newest first). Needs credentials like every read: an unauthenticated
 * resources/list is a protocol error, while resources/templates/list stays open (discovery).
 */
async function listOwnResources(mcp: McpContext, ctx: ServerContext): Promise<{ resources: Resource[] }> {
  const caller = await mcp.principalOf(ctx);
  const sessions = await mcp.services.sessions.ofAgent(caller.agentId, LISTED_SESSIONS);
  const own = (kind: 'memory' | 'inbox', description: string): Resource => ({
    uri: `agent://${caller.agentId}/${kind}`,
    name: `agent-${kind}`,
    title: `Your ${kind}`,
    description,
    mimeType: 'application/json',
  });
  return {
    resources: [
      own('memory', 'Your own memory entries, every scope.'),
      own('inbox', 'Your unread mail, oldest first.'),
      ...sessions.map((session) => ({
        uri: `session://${session.session_id}`,
        name: session.session_id,
        title: session.purpose.slice(0, 200),
        description: `Session (${session.status}) created by ${session.created_by}, updated ${session.updated_at}.`,
        mimeType: 'application/json',
      })),
    ],
  };
}

/** Callers ask for one more than MAX_COMPLETIONS values, to know whether there are more. */
const completion = (values: string[]): CompleteResult => {
  const hasMore = values.length > MAX_COMPLETIONS;
  return {
    completion: {
      values: values.slice(0, MAX_COMPLETIONS),
      ...(hasMore ? {} : { total: values.length }),
      hasMore,
    },
  };
};

/**
 * completion/complete for the resource templates: session ids (prefix match, at most 100) and the
 * caller's own agent id. The SDK's per-template completers get no request context, so this
 * handler replaces the SDK's to authenticate the caller first: no credentials, no values.
 */
function registerCompletions(server: McpServer, mcp: McpContext): void {
  server.server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref, argument } = request.params;
    if (ref.type !== 'ref/resource') return completion([]);
    const caller = await mcp.principalOf(ctx);
    const prefix = argument.value.slice(0, 200);
    if (
      argument.name === 'session_id' &&
      (ref.uri === SESSION_TEMPLATE || ref.uri === SESSION_MESSAGES_TEMPLATE)
    ) {
      const ids = await mcp.services.sessions.completeIds(prefix, MAX_COMPLETIONS + 1);
      return completion(ids);
    }
    if (argument.name === 'agent_id' && /^agent:\/\/\{agent_id\}\/(memory|inbox)$/.test(ref.uri)) {
      return completion(caller.agentId.startsWith(prefix) ? [caller.agentId] : []);
    }
    if (argument.name === 'limit' && ref.uri === SESSION_MESSAGES_TEMPLATE) {
      return completion(['10', '50', '100', '200', '500'].filter((v) => v.startsWith(prefix)));
    }
    return completion([]);
  });
}

/** session://{id}, session://{id}/messages/{limit}, agent://{id}/memory: reads under the visibility rule. */
export function registerResources(server: McpServer, mcp: McpContext): void {
  const { services } = mcp;

  server.registerResource(
    'session',
    new ResourceTemplate(SESSION_TEMPLATE, { list: (ctx) => listOwnResources(mcp, ctx) }),
    {
      title: 'A session',
      description: 'The session and its newest 200 messages you may see.',
      mimeType: 'application/json',
    },
    async (uri, vars, ctx) => {
      const viewer = await mcp.principalOf(ctx);
      try {
        return json(
          uri,
          await services.sessions.get(viewer, sessionIdOf(vars.session_id), SESSION_RESOURCE_MESSAGES),
        );
      } catch (error) {
        return toProtocolError(error);
      }
    },
  );

  server.registerResource(
    'session-messages',
    new ResourceTemplate(SESSION_MESSAGES_TEMPLATE, { list: undefined }),
    {
      title: 'Newest messages',
      description: 'The newest {limit} (1–500) messages you may see.',
      mimeType: 'application/json',
    },
    async (uri, vars, ctx) => {
      const viewer = await mcp.principalOf(ctx);
      try {
        const sessionId = sessionIdOf(vars.session_id);
        const limit = Number(one(vars.limit, 'limit'));
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
          throw new AppError(
            'INVALID_INPUT',
            'limit in session://{id}/messages/{limit} must be an integer from 1 to 500.',
          );
        }
        const page = await services.messages.newestPage(viewer, { sessionId }, limit);
        return json(uri, { session_id: sessionId, ...page });
      } catch (error) {
        return toProtocolError(error);
      }
    },
  );

  const ownResource = (
    kind: 'memory' | 'inbox',
    description: string,
    read: (caller: Principal) => Promise<object>,
  ) =>
    server.registerResource(
      `agent-${kind}`,
      new ResourceTemplate(`agent://{agent_id}/${kind}`, { list: undefined }),
      { title: `Your ${kind}`, description, mimeType: 'application/json' },
      async (uri, vars, ctx) => {
        const caller = await mcp.principalOf(ctx);
        try {
          const agentId = one(vars.agent_id, 'agent id');
          if (agentId !== caller.agentId) {
            throw new AppError(
              'PERMISSION_DENIED',
              `agent://${agentId}/${kind} belongs to another agent; read agent://${caller.agentId}/${kind}.`,
            );
          }
          return json(uri, { agent_id: agentId, ...(await read(caller)) });
        } catch (error) {
          return toProtocolError(error);
        }
      },
    );

  ownResource('memory', 'Your own memory entries, every scope.', (caller) =>
    services.memory.list(caller, 'all', undefined, 1000),
  );
  ownResource(
    'inbox',
    'Your unread mail, oldest first, up to 200 (reading it marks it delivered).',
    (caller) => services.mail.inbox(caller, { unreadOnly: true, limit: 200 }),
  );
  registerCompletions(server, mcp);
}
