import { z } from 'zod';
import { defineTool } from '../tools/tool.js';
import { agentIdArg, metadataArg, sessionIdArg } from '../tools/schemas.js';
import { SESSION_STATUSES } from './session.service.js';

export const sessionTools = [
  defineTool({
    name: 'create_session',
    title: 'Create a session',
    description:
      'Create a shared workspace for one task. Returns its session_id; give it to the other agents so they can read and write the same blackboard.',
    permission: 'write',
    input: {
      purpose: z.string().min(1).max(1000).describe('What the session is for, in a sentence.'),
      metadata: metadataArg,
      initial_message: z.string().min(1).optional().describe('An optional first public message.'),
    },
    async handler(args, { services, principal }) {
      return services.sessions.create(principal, {
        purpose: args.purpose,
        metadata: args.metadata,
        initialMessage: args.initial_message,
      });
    },
  }),
  defineTool({
    name: 'get_session',
    title: 'Get a session',
    description:
      'The session, the newest 50 messages you may see, and counts of visible messages by visibility.',
    permission: 'read',
    input: { session_id: sessionIdArg },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      return services.sessions.get(principal, args.session_id);
    },
  }),
  defineTool({
    name: 'list_sessions',
    title: 'List sessions',
    description:
      'Sessions, most recently updated first, optionally by status or creator. Page with next_cursor.',
    permission: 'read',
    input: {
      status: z.enum(SESSION_STATUSES).optional(),
      created_by: agentIdArg.optional(),
      limit: z.number().int().min(1).max(200).default(50),
      cursor: z.string().min(1).max(400).optional().describe('next_cursor from the previous page.'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services }) {
      return services.sessions.list({
        status: args.status,
        createdBy: args.created_by,
        limit: args.limit,
        cursor: args.cursor,
      });
    },
  }),
  defineTool({
    name: 'update_session',
    title: 'Update a session',
    description:
      "Change a session's status (active, completed, archived), purpose or metadata. Creator or admin only.",
    permission: 'write',
    input: {
      session_id: sessionIdArg,
      status: z.enum(SESSION_STATUSES).optional(),
      purpose: z.string().min(1).max(1000).optional(),
      metadata: metadataArg,
    },
    async handler(args, { services, principal }) {
      const session = await services.sessions.update(principal, args.session_id, {
        status: args.status,
        purpose: args.purpose,
        metadata: args.metadata,
      });
      return { session };
    },
  }),
];
