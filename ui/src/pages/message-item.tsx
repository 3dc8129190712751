/** One message: who, when, visibility, the markdown body (sanitized), replies and metadata. */
import { useMemo } from 'preact/hooks';
import { formatTime } from '../format.js';
import { renderMarkdown } from '../markdown.js';
import type { Message } from '../types.js';

interface Props {
  message: Message;
  depth: number;
  parentSender: string | undefined;
  onJump: (id: number) => void;
}

export function MessageItem({ message: m, depth, parentSender, onJump }: Props) {
  const html = useMemo(() => renderMarkdown(m.content), [m.content]);
  const hasMeta = m.metadata !== null && Object.keys(m.metadata).length > 0;
  return (
    <li
      class={`message depth-${depth}`}
      id={`msg-${m.id}`}
      data-message-id={m.id}
      data-key={m.id}
      tabIndex={-1}
      aria-label={`Message ${m.id} from ${m.sender}`}
    >
      <div class="meta-line">
        <span class="sender">{m.sender}</span>
        <span class="badge">{m.sender_type}</span>
        <span class={`badge vis-${m.visibility}`} title="Visibility">
          {m.visibility}
        </span>
        {m.message_type !== 'agent_response' && m.message_type !== 'text' && (
          <span class="badge">{m.message_type}</span>
        )}
        <time dateTime={m.timestamp}>{formatTime(m.timestamp)}</time>
        <span class="sub">#{m.id}</span>
      </div>
      {m.parent_message_id !== null && (
        <button type="button" class="reply-to link" onClick={() => onJump(m.parent_message_id!)}>
          ↳ in reply to #{m.parent_message_id}
          {parentSender ? ` from ${parentSender}` : ''}
        </button>
      )}
      <div class="content" dangerouslySetInnerHTML={{ __html: html }} />
      {hasMeta && (
        <details>
          <summary>Metadata</summary>
          <pre>{JSON.stringify(m.metadata, null, 2)}</pre>
        </details>
      )}
    </li>
  );
}
