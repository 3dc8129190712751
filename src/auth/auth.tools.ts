import { z } from 'zod';
import { PERMISSIONS } from './principal.js';
import { defineTool } from '../tools/tool.js';
import { agentIdArg } from '../tools/schemas.js';

export const authTools = [
  defineTool({
    name: 'authenticate_agent',
    title: 'Authenticate an agent',
    description:
      'Exchange an API key for a signed token for this agent. Send the token afterwards as "Authorization: Bearer <token>" or as the auth_token argument. The shared API key and agent keys grant read and write; admin needs the admin key. An agent key names its own agent id and type, so agent_id and agent_type may be left out.',
    permission: 'none',
    input: {
      agent_id: agentIdArg
        .optional()
        .describe(
          'Your agent id (1–100 chars of [A-Za-z0-9._:-]); required with the shared key, optional with an agent key (must be its agent).',
        ),
      agent_type: z
        .string()
        .min(1)
        .max(100)
        .optional()
        .describe(
          'Your kind of agent, e.g. claude, cursor, researcher (default generic; an agent key has its own).',
        ),
      api_key: z
        .string()
        .min(1)
        .optional()
        .describe('The shared API key or your agent key; may come as the X-API-Key header instead.'),
      requested_permissions: z.array(z.enum(PERMISSIONS)).min(1).default(['read', 'write']),
    },
    annotations: { idempotentHint: false },
    async handler(args, { services, credentials }) {
      const issued = await services.auth.authenticateAgent({
        agentId: args.agent_id,
        agentType: args.agent_type,
        apiKey: args.api_key ?? credentials.apiKey,
        requestedPermissions: args.requested_permissions,
        clientAddress: credentials.clientAddress,
      });
      return { ...issued };
    },
  }),
  defineTool({
    name: 'refresh_token',
    title: 'Refresh a token',
    description:
      'Get a fresh token with a new expiry for the same agent and permissions; the old token is revoked.',
    permission: 'read',
    input: {
      token: z
        .string()
        .min(1)
        .optional()
        .describe('The token to refresh; defaults to the one you called with.'),
    },
    async handler(args, { services, principal }) {
      return { ...(await services.auth.refresh(principal, args.token)) };
    },
  }),
  defineTool({
    name: 'revoke_token',
    title: 'Revoke a token',
    description:
      'End a token before it expires: the given one (yours, or any if you are admin), or the one you called with.',
    permission: 'read',
    input: { token: z.string().min(1).optional() },
    annotations: { destructiveHint: true },
    async handler(args, { services, principal }) {
      return { ...(await services.auth.revoke(principal, args.token)) };
    },
  }),
];
