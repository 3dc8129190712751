import { fromJsonText } from '../core/json.js';
import { toIso } from '../core/time.js';
import type { MessageRow } from '../store/schema.js';

/** The message shape of SPEC §5. */
export interface MessageView {
  id: number;
  session_id: string;
  sender: string;
  sender_type: string;
  content: string;
  visibility: string;
  message_type: string;
  metadata: Record<string, unknown> | null;
  parent_message_id: number | null;
  timestamp: string;
}

export const toMessageView = (row: MessageRow): MessageView => ({
  id: Number(row.id),
  session_id: row.session_id,
  sender: row.sender,
  sender_type: row.sender_type,
  content: row.content,
  visibility: row.visibility,
  message_type: row.message_type,
  metadata: fromJsonText(row.metadata),
  parent_message_id: row.parent_message_id === null ? null : Number(row.parent_message_id),
  timestamp: toIso(Number(row.created_at)),
});
