import { z } from 'zod';
import { defineTool } from '../tools/tool.js';
import { agentIdArg, sessionIdArg } from '../tools/schemas.js';
import { GUIDANCE, GUIDANCE_TYPES } from './guidance.js';

export const adminTools = [
  defineTool({
    name: 'get_usage_guidance',
    title: 'How to use this server',
    description:
      'Guidance on operations, coordination between agents, security (who sees what) or troubleshooting.',
    permission: 'read',
    input: { guidance_type: z.enum(GUIDANCE_TYPES).default('operations') },
    annotations: { readOnlyHint: true },
    async handler(args, { principal }) {
      return {
        guidance_type: args.guidance_type,
        ...GUIDANCE[args.guidance_type],
        your_agent_id: principal.agentId,
        your_permissions: principal.permissions,
      };
    },
  }),
  defineTool({
    name: 'get_audit_log',
    title: 'Audit log',
    description:
      'Recorded actions, newest first, optionally for one session or agent. Page back with before_id = next_cursor. Admin only.',
    permission: 'admin',
    input: {
      session_id: sessionIdArg.optional(),
      agent_id: agentIdArg.optional(),
      limit: z.number().int().min(1).max(1000).default(100),
      before_id: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('Only older entries: next_cursor of the previous page.'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services }) {
      return services.audit.list(
        { sessionId: args.session_id, agentId: args.agent_id, beforeId: args.before_id },
        args.limit,
      );
    },
  }),
  defineTool({
    name: 'get_performance_metrics',
    title: 'Performance metrics',
    description:
      'Measured figures of this server: per-tool call counts, errors and latency percentiles (over the last 2,048 calls of each tool), open connections, database timings. Admin only.',
    permission: 'admin',
    input: {},
    annotations: { readOnlyHint: true },
    async handler(_args, { services }) {
      return { metrics: await services.metrics.snapshot() };
    },
  }),
];
