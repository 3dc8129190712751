import { toJsonText, fromJsonText } from '../core/json.js';
import { nowMs, toIso } from '../core/time.js';
import type { Db } from '../store/store.js';
import { insertAudit, listAudit } from './audit.repository.js';

export interface AuditEntry {
  id: number;
  timestamp: string;
  agent_id: string;
  action: string;
  session_id: string | null;
  resource: string | null;
  details: Record<string, unknown>;
}

export interface AuditEvent {
  agentId: string;
  action: string;
  sessionId?: string | undefined;
  resource?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

/** Writes and reads the audit trail. Callers pass their transaction so the entry commits with the action. */
export const auditService = {
  async record(db: Db, event: AuditEvent): Promise<void> {
    await insertAudit(db, {
      created_at: nowMs(),
      agent_id: event.agentId,
      action: event.action,
      session_id: event.sessionId ?? null,
      resource: event.resource ?? null,
      details: toJsonText(event.details ?? {}),
    });
  },

  async list(
    db: Db,
    filter: { sessionId?: string | undefined; agentId?: string | undefined },
    limit: number,
  ): Promise<AuditEntry[]> {
    const rows = await listAudit(db, filter, limit);
    return rows.map((r) => ({
      id: Number(r.id),
      timestamp: toIso(Number(r.created_at)),
      agent_id: r.agent_id,
      action: r.action,
      session_id: r.session_id,
      resource: r.resource,
      details: fromJsonText<Record<string, unknown>>(r.details),
    }));
  },
};
