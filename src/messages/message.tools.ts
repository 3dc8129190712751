import { z } from 'zod';
import { defineTool } from '../tools/tool.js';
import { messageIdArg, metadataArg, sessionIdArg } from '../tools/schemas.js';
import { COUNT_SCAN_LIMIT } from './message.service.js';
import { VISIBILITIES } from './visibility.js';

const messageType = z
  .string()
  .min(1)
  .max(64)
  .default('agent_response')
  .describe('A label such as agent_response, finding, question, decision, handoff.');

export const messageTools = [
  defineTool({
    name: 'add_message',
    title: 'Add a message',
    description:
      'Write to the session blackboard. visibility: public (everyone), private (only you), agent_only (agents of your agent_type), admin_only (admins). Reply in a thread with parent_message_id.',
    permission: 'write',
    input: {
      session_id: sessionIdArg,
      content: z.string().min(1, 'must not be empty'),
      visibility: z.enum(VISIBILITIES).default('public'),
      message_type: messageType,
      metadata: metadataArg,
      parent_message_id: messageIdArg.optional().describe('The id of the message this one answers.'),
    },
    async handler(args, { services, principal }) {
      return services.messages.add(principal, {
        sessionId: args.session_id,
        content: args.content,
        visibility: args.visibility,
        messageType: args.message_type,
        metadata: args.metadata,
        parentMessageId: args.parent_message_id,
      });
    },
  }),
  defineTool({
    name: 'add_private_note',
    title: 'Add a private note',
    description: 'add_message with visibility=private: a note in the session only you (and admins) can read.',
    permission: 'write',
    input: {
      session_id: sessionIdArg,
      content: z.string().min(1, 'must not be empty'),
      metadata: metadataArg,
    },
    async handler(args, { services, principal }) {
      return services.messages.add(principal, {
        sessionId: args.session_id,
        content: args.content,
        visibility: 'private',
        messageType: 'private_note',
        metadata: args.metadata,
      });
    },
  }),
  defineTool({
    name: 'get_message',
    title: 'Get a message',
    description: 'One message by id, if you may see it.',
    permission: 'read',
    input: { session_id: sessionIdArg, message_id: messageIdArg },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      return { message: await services.messages.get(principal, args.session_id, args.message_id) };
    },
  }),
  defineTool({
    name: 'get_messages',
    title: 'Get messages',
    description: `Messages you may see, oldest first. To read only what is new since you last looked, pass after_id = the last id you saw (or next_cursor). To page through a long session, pass after_id = next_cursor rather than a growing offset: a deep offset re-reads every message it skips. total_count counts every message you may see under the filters; with thread_id it stops at ${COUNT_SCAN_LIMIT} and says so with total_count_exact: false.`,
    permission: 'read',
    input: {
      session_id: sessionIdArg,
      limit: z.number().int().min(1).max(1000).default(50),
      offset: z
        .number()
        .int()
        .min(0)
        .max(1_000_000)
        .default(0)
        .describe('Messages to skip; slow when deep — prefer after_id = next_cursor.'),
      after_id: z.number().int().min(0).optional().describe('Only messages with a larger id.'),
      before_id: z.number().int().min(1).optional().describe('Only messages with a smaller id.'),
      visibility_filter: z
        .enum(VISIBILITIES)
        .optional()
        .describe('Only this visibility (narrows, never widens).'),
      sender: z.string().min(1).max(100).optional(),
      thread_id: messageIdArg.optional().describe('A root message id: that message and its replies.'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      return services.messages.list(
        principal,
        {
          sessionId: args.session_id,
          afterId: args.after_id,
          beforeId: args.before_id,
          visibility: args.visibility_filter,
          sender: args.sender,
          threadId: args.thread_id,
        },
        { limit: args.limit, offset: args.offset },
      );
    },
  }),
  defineTool({
    name: 'wait_for_messages',
    title: 'Wait for new messages',
    description:
      'Long-poll: returns at once if there are messages you may see with id > after_id, otherwise waits until one arrives or timeout_s passes (then messages is empty and timed_out is true).',
    permission: 'read',
    input: {
      session_id: sessionIdArg,
      after_id: z.number().int().min(0),
      timeout_s: z.number().min(0).max(60).default(30),
      limit: z.number().int().min(1).max(1000).default(50),
    },
    annotations: { readOnlyHint: true },
    waits: true,
    async handler(args, { services, principal, signal }) {
      return services.waiter.wait(
        principal,
        {
          sessionId: args.session_id,
          afterId: args.after_id,
          timeoutMs: args.timeout_s * 1000,
          limit: args.limit,
        },
        signal,
      );
    },
  }),
];
