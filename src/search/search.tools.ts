import { z } from 'zod';
import { parseIso } from '../core/time.js';
import { defineTool } from '../tools/tool.js';
import { isoTimeArg, sessionIdArg } from '../tools/schemas.js';
import { SEARCH_SCOPES } from './search.service.js';

export const searchTools = [
  defineTool({
    name: 'search_context',
    title: 'Search a session',
    description:
      'Typo-tolerant fuzzy search over the whole history of a session (content and, by default, metadata). Each result has a 0–100 score; raise fuzzy_threshold for stricter matches.',
    permission: 'read',
    input: {
      session_id: sessionIdArg,
      query: z.string().min(1).max(500),
      fuzzy_threshold: z.number().min(0).max(100).default(60),
      limit: z.number().int().min(1).max(100).default(10),
      search_metadata: z.boolean().default(true),
      search_scope: z.enum(SEARCH_SCOPES).default('all'),
      cursor: z
        .string()
        .min(1)
        .max(100)
        .optional()
        .describe('next_cursor from the previous page (same query).'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      return services.search.searchContext(principal, {
        sessionId: args.session_id,
        query: args.query,
        fuzzyThreshold: args.fuzzy_threshold,
        limit: args.limit,
        searchMetadata: args.search_metadata,
        scope: args.search_scope,
        cursor: args.cursor,
      });
    },
  }),
  defineTool({
    name: 'search_by_sender',
    title: 'Messages by sender',
    description: 'The newest messages you may see from one sender, oldest first.',
    permission: 'read',
    input: {
      session_id: sessionIdArg,
      sender: z.string().min(1).max(100),
      limit: z.number().int().min(1).max(1000).default(20),
      before_id: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('Only older messages: next_cursor of the previous page.'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      const page = await services.search.bySender(
        principal,
        args.session_id,
        args.sender,
        args.limit,
        args.before_id,
      );
      return { ...page, sender: args.sender };
    },
  }),
  defineTool({
    name: 'search_by_timerange',
    title: 'Messages in a time range',
    description:
      'Messages you may see written between start_time and end_time (ISO 8601, inclusive), oldest first.',
    permission: 'read',
    input: {
      session_id: sessionIdArg,
      start_time: isoTimeArg,
      end_time: isoTimeArg,
      limit: z.number().int().min(1).max(1000).default(50),
      after_id: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe('Only messages with a larger id: next_cursor of the previous page.'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      const start = parseIso(args.start_time) ?? 0;
      const end = parseIso(args.end_time) ?? 0;
      const page = await services.search.byTimeRange(
        principal,
        args.session_id,
        start,
        end,
        args.limit,
        args.after_id,
      );
      return { ...page, start_time: args.start_time, end_time: args.end_time };
    },
  }),
];
