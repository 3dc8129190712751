import { z } from 'zod';
import { defineTool } from '../tools/tool.js';
import { publishAs } from '../tools/json-schema.js';
import { jsonTextArg, metadataArg, sessionIdArg, valueOrJson } from '../tools/schemas.js';
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
      'Store any JSON value under a key in your private memory: global, or scoped to a session. Give the value as value (text, number or boolean) or, for an object or array, as JSON text in value_json (value null). expires_in seconds (0 = never). if_version makes it a compare-and-set (0 = only if absent); a mismatch answers CONFLICT with the current version.',
    permission: 'write',
    input: {
      key,
      value: z.unknown().meta({
        ...publishAs({
          anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }],
        }),
        description:
          'The value to store: text, a number or a boolean (any JSON value is accepted). Null when you send value_json.',
      }),
      value_json: jsonTextArg
        .meta({
          ...publishAs({ type: 'string' }),
          description:
            'The value as JSON text, e.g. {"step":3,"done":["a"]}: for objects and arrays. Use instead of value.',
        })
        .optional(),
      session_id: sessionIdArg.optional(),
      expires_in: z.number().int().min(0).max(MAX_EXPIRES_IN_SECONDS).optional(),
      metadata: metadataArg,
      overwrite: z.boolean().default(true),
      if_version: z.number().int().min(0).optional(),
    },
    check: (args) => valueOrJson(args.value, args.value_json, 'value'),
    async handler(args, { services, principal }) {
      const entry = await services.memory.set(principal, {
        key: args.key,
        value: args.value_json !== undefined ? args.value_json : args.value,
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
      cursor: z.string().min(1).max(4000).optional().describe('next_cursor from the previous page.'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      return services.memory.list(principal, args.session_id, args.prefix, args.limit, args.cursor);
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
