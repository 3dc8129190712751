import { z } from 'zod';
import { defineTool } from '../tools/tool.js';
import { metadataArg, sessionIdArg } from '../tools/schemas.js';
import { MAX_EXPIRES_IN_SECONDS } from './memory.service.js';

const key = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\s]+$/, 'must not contain spaces')
  .describe('The memory key (1–256 characters, no spaces).');

export const memoryTools = [
  defineTool({
    name: 'set_memory',
    title: 'Remember a value',
    description:
      'Store any JSON value under a key in your private memory: global, or scoped to a session. expires_in seconds (0 = never). if_version makes it a compare-and-set (0 = only if absent); a mismatch answers CONFLICT with the current version.',
    permission: 'write',
    input: {
      key,
      value: z.unknown().refine((v) => v !== undefined, 'is required (any JSON value)'),
      session_id: sessionIdArg.optional(),
      expires_in: z.number().int().min(0).max(MAX_EXPIRES_IN_SECONDS).optional(),
      metadata: metadataArg,
      overwrite: z.boolean().default(true),
      if_version: z.number().int().min(0).optional(),
    },
    async handler(args, { services, principal }) {
      const entry = await services.memory.set(principal, {
        key: args.key,
        value: args.value,
        sessionId: args.session_id,
        expiresIn: args.expires_in,
        metadata: args.metadata,
        overwrite: args.overwrite,
        ifVersion: args.if_version,
      });
      return {
        key: entry.key,
        scope: entry.scope,
        session_id: entry.session_id,
        version: entry.version,
        expires_at: entry.expires_at,
      };
    },
  }),
  defineTool({
    name: 'get_memory',
    title: 'Recall a value',
    description: 'Read a value from your private memory (global, or the given session scope).',
    permission: 'read',
    input: { key, session_id: sessionIdArg.optional() },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      const entry = await services.memory.get(principal, args.key, args.session_id);
      return { ...entry };
    },
  }),
  defineTool({
    name: 'list_memory',
    title: 'List memory',
    description:
      'Your memory entries: global (default), one session\'s (session_id), or every scope ("all").',
    permission: 'read',
    input: {
      session_id: z.union([sessionIdArg, z.literal('all')]).optional(),
      prefix: z.string().min(1).max(256).optional(),
      limit: z.number().int().min(1).max(1000).default(50),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      return services.memory.list(principal, args.session_id, args.prefix, args.limit);
    },
  }),
  defineTool({
    name: 'delete_memory',
    title: 'Forget a value',
    description: 'Delete a key from your private memory.',
    permission: 'write',
    input: { key, session_id: sessionIdArg.optional() },
    annotations: { destructiveHint: true },
    async handler(args, { services, principal }) {
      return services.memory.delete(principal, args.key, args.session_id);
    },
  }),
];
