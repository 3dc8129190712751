import { z } from 'zod';
import { defineTool } from '../tools/tool.js';
import { publishAs } from '../tools/json-schema.js';
import { agentIdArg, jsonTextArg, metadataArg, sessionIdArg, valueOrJson } from '../tools/schemas.js';
import { AGENT_STATUSES } from './agent.service.js';

const mailIdArg = z.number().int().positive();

export const agentTools = [
  defineTool({
    name: 'register_agent',
    title: 'Register yourself',
    description:
      'Join the agent registry (optionally for a session) so others can find and mail you. Returns your peers with their status.',
    permission: 'write',
    input: {
      name: z.string().min(1).max(200).optional(),
      capabilities: z.array(z.string().min(1).max(100)).max(100).optional(),
      session_id: sessionIdArg.optional(),
    },
    async handler(args, { services, principal }) {
      const { agent, peers } = await services.agents.register(principal, {
        name: args.name,
        capabilities: args.capabilities,
        sessionId: args.session_id,
      });
      return { agent_id: agent.agent_id, agent, peers, websocket_url: `/ws/${agent.agent_id}` };
    },
  }),
  defineTool({
    name: 'heartbeat',
    title: 'Heartbeat',
    description:
      'Say you are alive (and optionally active or idle). Agents unseen for 5 minutes show as offline.',
    permission: 'write',
    input: { status: z.enum(['active', 'idle']).optional() },
    async handler(args, { services, principal }) {
      return { agent: await services.agents.heartbeat(principal, args.status) };
    },
  }),
  defineTool({
    name: 'list_agents',
    title: 'List agents',
    description: 'Registered agents with status active, idle or offline (from heartbeats and activity).',
    permission: 'read',
    input: {
      session_id: sessionIdArg.optional(),
      status: z.enum(AGENT_STATUSES).optional(),
      cursor: agentIdArg.optional().describe('next_cursor from the previous page.'),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services }) {
      return services.agents.list(
        { sessionId: args.session_id, status: args.status, cursor: args.cursor },
        services.config.limits.maxReplyBytes,
      );
    },
  }),
  defineTool({
    name: 'send_message',
    title: 'Mail other agents',
    description:
      'Send mail to an agent id, a list of them, or "ALL" (the registered agents of your session, or all). The content is text, or JSON text in content_json. It waits in their inbox if they are away. type: ping, ack, request, response, broadcast, heartbeat, task_proposal, task_accept, or your own.',
    permission: 'write',
    input: {
      to: z.union([z.literal('ALL'), agentIdArg, z.array(agentIdArg).min(1).max(1000)]),
      content: z.unknown().meta({
        ...publishAs({ anyOf: [{ type: 'string' }, { type: 'null' }] }),
        description: 'The message text (a JSON value is accepted too). Null when you send content_json.',
      }),
      content_json: jsonTextArg
        .meta({
          ...publishAs({ type: 'string' }),
          description:
            'Structured content as JSON text, e.g. {"task":"review","files":["a.ts"]}. Use instead of content.',
        })
        .optional(),
      type: z.string().min(1).max(64).default('request'),
      metadata: metadataArg,
      reply_to: mailIdArg.optional().describe('The id of the mail this answers.'),
    },
    check: (args) => valueOrJson(args.content, args.content_json, 'content', { emptyAllowed: false }),
    async handler(args, { services, principal }) {
      return services.mail.send(principal, {
        to: args.to,
        content: args.content_json !== undefined ? args.content_json : args.content,
        type: args.type,
        metadata: args.metadata,
        replyTo: args.reply_to,
      });
    },
  }),
  defineTool({
    name: 'get_inbox',
    title: 'Read your inbox',
    description:
      'Mail addressed to you, oldest first. Pass after_id (the last id you saw) to get only new mail; unread_only skips acknowledged mail. Returned mail counts as delivered.',
    permission: 'read',
    input: {
      after_id: z.number().int().min(0).optional(),
      unread_only: z.boolean().default(false),
      limit: z.number().int().min(1).max(1000).default(50),
    },
    async handler(args, { services, principal }) {
      return services.mail.inbox(principal, {
        afterId: args.after_id,
        unreadOnly: args.unread_only,
        limit: args.limit,
      });
    },
  }),
  defineTool({
    name: 'ack_message',
    title: 'Acknowledge mail',
    description:
      'Mark a mail read; its sender sees delivered_at and read_at (get_sent_messages, or a WebSocket receipt).',
    permission: 'write',
    input: { message_id: mailIdArg },
    async handler(args, { services, principal }) {
      return { message: await services.mail.ack(principal, args.message_id) };
    },
  }),
  defineTool({
    name: 'get_sent_messages',
    title: 'Mail you sent',
    description: 'Mail you sent, oldest first, with delivered_at and read_at for each recipient.',
    permission: 'read',
    input: {
      after_id: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(1000).default(50),
    },
    annotations: { readOnlyHint: true },
    async handler(args, { services, principal }) {
      return services.mail.sent(principal, args.after_id, args.limit);
    },
  }),
];
