import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { defineTool } from '../tools/tool.js';
import { agentIdArg } from '../tools/schemas.js';

/** Admin tools for agent keys: a key bound to one agent id and type (SPEC §3). */
export const agentKeyTools = [
  defineTool({
    name: 'issue_agent_key',
    title: 'Issue an agent key',
    description:
      "Issue a key bound to one agent id and type; it is returned once, and only its hash is stored. An agent key authenticates only as its agent (X-API-Key + X-Agent-Id, or authenticate_agent) with read and write. An agent's previous key is revoked. Admin only.",
    permission: 'admin',
    input: {
      agent_id: agentIdArg.describe('The agent the key is for.'),
      agent_type: z.string().min(1).max(100).describe('Its agent type, e.g. claude, cursor, reviewer.'),
    },
    annotations: { idempotentHint: false },
    async handler(args, { services, principal }) {
      const issued = await services.auth.agentKeys.issue(args.agent_id, args.agent_type, principal.agentId);
      return {
        ...issued,
        note: 'Store api_key now: it is not shown again. The agent sends it as X-API-Key (with X-Agent-Id) or as authenticate_agent api_key.',
      };
    },
  }),
  defineTool({
    name: 'revoke_agent_key',
    title: 'Revoke an agent key',
    description:
      "Revoke an agent's key: its tokens are refused, its WebSockets closed and its resource subscriptions dropped, in every server on this database. Admin only.",
    permission: 'admin',
    input: { agent_id: agentIdArg.describe('The agent whose key to revoke.') },
    annotations: { destructiveHint: true, idempotentHint: true },
    async handler(args, { services, principal }) {
      const revoked = await services.auth.agentKeys.revoke(args.agent_id, principal.agentId);
      if (revoked === undefined) {
        throw new AppError('NOT_FOUND', `Agent ${args.agent_id} has no active agent key.`, {
          suggestions: ['list_agent_keys'],
        });
      }
      return { revoked };
    },
  }),
  defineTool({
    name: 'list_agent_keys',
    title: 'List agent keys',
    description:
      'The agent keys (never the keys themselves): agent, type, key id, when and by whom issued or revoked. Admin only.',
    permission: 'admin',
    input: {
      agent_id: agentIdArg.optional().describe('Only this agent.'),
      include_revoked: z.boolean().optional().describe('Also list revoked keys (default false).'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services }) {
      const keys = await services.auth.agentKeys.list({
        includeRevoked: args.include_revoked ?? false,
        agentId: args.agent_id,
      });
      return { keys, count: keys.length };
    },
  }),
];
