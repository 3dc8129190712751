import type { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { McpContext } from './mcp-server.js';
import { toProtocolError } from './mcp-server.js';

const text = (body: string) => ({
  messages: [{ role: 'user' as const, content: { type: 'text' as const, text: body } }],
});

export function registerPrompts(server: McpServer, mcp: McpContext): void {
  server.registerPrompt(
    'setup-collaboration',
    {
      title: 'Set up a collaboration',
      description: 'Steps to start a shared session for a task and bring other agents in.',
      argsSchema: z.object({
        purpose: z.string().min(1).describe('What the agents will work on.'),
        roles: z.string().optional().describe('Comma-separated roles, e.g. researcher,reviewer,writer.'),
      }),
    },
    async ({ purpose, roles }, ctx) => {
      await mcp.principalOf(ctx);
      const roleList = (roles ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      return text(
        [
          `Set up a shared-context session for: ${purpose}`,
          '1. Call create_session with that purpose; note the session_id.',
          '2. Post a public message describing the plan and how work is claimed (message_type "plan").',
          roleList.length > 0
            ? `3. Hand the session_id to the agents for these roles: ${roleList.join(', ')}. Each reads get_session first.`
            : '3. Hand the session_id to the other agents; each reads get_session first.',
          '4. Agents post findings publicly, claim work before starting, and read new messages with get_messages(after_id=…).',
          '5. When done, update_session with status "completed".',
        ].join('\n'),
      );
    },
  );

  server.registerPrompt(
    'debug-session',
    {
      title: 'Debug a session (admin)',
      description: 'A summary of a session for diagnosing a collaboration: status, counts, recent activity.',
      argsSchema: z.object({ session_id: z.string().min(1) }),
    },
    async ({ session_id }, ctx) => {
      const caller = await mcp.principalOf(ctx);
      try {
        if (!caller.isAdmin)
          throw new AppError('PERMISSION_DENIED', 'debug-session is for admins (admin key).');
        const view = await mcp.services.sessions.get(caller, session_id, 20);
        return text(
          [
            `Session ${view.session.session_id} — "${view.session.purpose}" (${view.session.status}), created by ${view.session.created_by} at ${view.session.created_at}.`,
            `Messages by visibility: ${JSON.stringify(view.counts)} (total ${view.message_count}).`,
            'Newest messages:',
            ...view.messages.map(
              (m) => `- #${m.id} [${m.visibility}] ${m.sender}: ${m.content.slice(0, 200)}`,
            ),
            'Look for: agents repeating work, questions without replies, private notes that should be public.',
          ].join('\n'),
        );
      } catch (error) {
        return toProtocolError(error);
      }
    },
  );
}
