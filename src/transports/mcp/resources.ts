import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { AppError } from '../../core/errors.js';
import { SESSION_ID_PATTERN } from '../../core/ids.js';
import type { Principal } from '../../auth/principal.js';
import type { McpContext } from './mcp-server.js';
import { toProtocolError } from './mcp-server.js';

const SESSION_RESOURCE_MESSAGES = 200;

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

/** session://{id}, session://{id}/messages/{limit}, agent://{id}/memory: reads under the visibility rule. */
export function registerResources(server: McpServer, mcp: McpContext): void {
  const { services } = mcp;

  server.registerResource(
    'session',
    new ResourceTemplate('session://{session_id}', { list: undefined }),
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
    new ResourceTemplate('session://{session_id}/messages/{limit}', { list: undefined }),
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
        const messages = await services.messages.newest(viewer, { sessionId }, limit);
        return json(uri, { session_id: sessionId, messages, count: messages.length });
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
}
