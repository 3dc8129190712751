import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Services } from '../../app/services.js';
import { DASHBOARD_PRINCIPAL } from '../../auth/dashboard-auth.js';
import type { MessageView } from '../../messages/message.view.js';

export const EXPORT_FORMATS = ['json', 'md'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const PAGE = 500;

/**
 * A whole session as a download, every visibility (the dashboard is admin): JSON
 * (`{session, counts, messages}`) or Markdown. Written page by page, waiting for the client to
 * drain each, so a session of any size costs one page of memory.
 */
export async function sendSessionExport(
  services: Services,
  res: ServerResponse,
  sessionId: string,
  format: ExportFormat,
): Promise<void> {
  const { session, counts } = await services.sessions.summary(DASHBOARD_PRINCIPAL, sessionId);
  res.writeHead(200, {
    'content-type': format === 'json' ? 'application/json; charset=utf-8' : 'text/markdown; charset=utf-8',
    'content-disposition': `attachment; filename="${sessionId}.${format}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  const write = async (text: string) => {
    if (!res.write(text)) await once(res, 'drain');
  };
  if (format === 'json') {
    await write(`{"session":${JSON.stringify(session)},"counts":${JSON.stringify(counts)},"messages":[`);
  } else {
    await write(
      `# ${session.purpose}\n\n${session.session_id} · ${session.status} · created by ${session.created_by} at ${session.created_at} · ${session.message_count} messages\n`,
    );
  }
  let first = true;
  let afterId = 0;
  for (;;) {
    const page = await services.messages.list(
      DASHBOARD_PRINCIPAL,
      { sessionId, afterId },
      { limit: PAGE, offset: 0 },
    );
    for (const message of page.messages) {
      await write(format === 'json' ? `${first ? '' : ','}${JSON.stringify(message)}` : markdown(message));
      first = false;
      afterId = message.id;
    }
    if (!page.has_more || page.messages.length === 0 || res.destroyed) break;
  }
  res.end(format === 'json' ? ']}' : '');
}

function markdown(m: MessageView): string {
  const reply = m.parent_message_id === null ? '' : ` · reply to #${m.parent_message_id}`;
  return `\n## #${m.id} ${m.sender} (${m.sender_type}) · ${m.timestamp} · ${m.visibility} · ${m.message_type}${reply}\n\n${m.content}\n`;
}
