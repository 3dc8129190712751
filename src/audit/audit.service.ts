import { toJsonText, fromJsonText } from '../core/json.js';
import { type PageInfo, jsonBytes, pageInfo, readPage } from '../core/paging.js';
import { nowMs, toIso } from '../core/time.js';
import type { AuditRow } from '../store/schema.js';
import type { Db, Storage } from '../store/store.js';
import { insertAudit, listAudit, purgeAuditBefore } from './audit.repository.js';

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

const toEntry = (r: AuditRow): AuditEntry => ({
  id: Number(r.id),
  timestamp: toIso(Number(r.created_at)),
  agent_id: r.agent_id,
  action: r.action,
  session_id: r.session_id,
  resource: r.resource,
  details: fromJsonText<Record<string, unknown>>(r.details),
});

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

  /**
   * Newest first, within `limit` and `maxBytes` (at least one entry). `next_cursor` is the id of
   * the last (oldest) entry returned: pass it as `beforeId` for the next page.
   */
  async list(
    db: Db,
    filter: { sessionId?: string | undefined; agentId?: string | undefined; beforeId?: number | undefined },
    limit: number,
    maxBytes: number,
  ): Promise<{ entries: AuditEntry[] } & PageInfo<number>> {
    const page = await readPage<AuditEntry>({
      limit,
      maxBytes,
      sizeOf: jsonBytes,
      next: async (last, n) =>
        (await listAudit(db, last ? { ...filter, beforeId: last.id } : filter, n)).map(toEntry),
    });
    return { entries: page.items, ...pageInfo(page, (e) => e.id) };
  },
};

/** The audit trail bound to the database, for readers outside a transaction (admin tools, retention). */
export class AuditLog {
  constructor(
    private readonly store: Storage,
    /** MAX_REPLY_BYTES: a page of entries ends early beyond it. */
    private readonly maxReplyBytes: number,
  ) {}

  /** Newest first; see `auditService.list`. */
  list(
    filter: { sessionId?: string | undefined; agentId?: string | undefined; beforeId?: number | undefined },
    limit: number,
  ): Promise<{ entries: AuditEntry[] } & PageInfo<number>> {
    return auditService.list(this.store.db, filter, limit, this.maxReplyBytes);
  }

  /** Retention: deletes the entries recorded before `cutoff` (ms); returns how many. */
  purgeBefore(cutoff: number): Promise<number> {
    return this.store.write((trx) => purgeAuditBefore(trx, cutoff));
  }
}
