import { AppError } from '../core/errors.js';
import { fromJsonText, toJsonText } from '../core/json.js';
import { DEFAULT_MAX_REPLY_BYTES, type PageInfo, jsonBytes, pageInfo, readPage } from '../core/paging.js';
import { nowMs, toIso, toIsoOrNull } from '../core/time.js';
import { auditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { requireSession } from '../sessions/session.service.js';
import type { MemoryRow } from '../store/schema.js';
import type { Storage } from '../store/store.js';
import {
  type MemoryAddress,
  deleteLiveMemory,
  findAnyMemory,
  findLiveMemory,
  insertMemory,
  listLiveMemory,
  purgeExpiredMemory,
  replaceMemory,
} from './memory.repository.js';

export const MAX_EXPIRES_IN_SECONDS = 31_536_000;

export interface MemoryEntry {
  key: string;
  value: unknown;
  scope: 'global' | 'session';
  session_id: string | null;
  version: number;
  metadata: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
}

const toEntry = (row: MemoryRow): MemoryEntry => ({
  key: row.key,
  value: fromJsonText(row.value),
  scope: row.scope_key === '' ? 'global' : 'session',
  session_id: row.scope_key === '' ? null : row.scope_key,
  version: Number(row.version),
  metadata: fromJsonText(row.metadata),
  created_at: toIso(Number(row.created_at)),
  updated_at: toIso(Number(row.updated_at)),
  expires_at: toIsoOrNull(row.expires_at === null ? null : Number(row.expires_at)),
});

const address = (caller: Principal, key: string, sessionId: string | undefined): MemoryAddress => ({
  agentId: caller.agentId,
  scopeKey: sessionId ?? '',
  key,
});

const notFound = (key: string, sessionId: string | undefined) =>
  new AppError(
    'MEMORY_NOT_FOUND',
    `No memory "${key}" in ${sessionId ? `session ${sessionId}` : 'your global scope'} (it may have expired).`,
    { suggestions: ['list_memory'] },
  );

const conflict = (key: string, message: string, currentVersion: number | null) =>
  new AppError('CONFLICT', message, { details: { key, current_version: currentVersion } });

export interface SetMemoryInput {
  key: string;
  value: unknown;
  sessionId?: string | undefined;
  expiresIn?: number | undefined;
  metadata?: Record<string, unknown> | undefined;
  overwrite: boolean;
  ifVersion?: number | undefined;
}

/**
 * JSON bytes of an entry without building it: the value is counted from its stored JSON text
 * (what JSON.stringify wrote; a value may be 1 MB, so it is neither parsed nor copied to be sized).
 */
const entryBytes = (row: MemoryRow): number =>
  jsonBytes(toEntry({ ...row, value: 'null' })) - 4 + Buffer.byteLength(row.value);

/** list_memory cursors are opaque to callers: base64url of JSON [scope_key, key]. */
const encodeCursor = (row: MemoryRow) =>
  Buffer.from(JSON.stringify([row.scope_key, row.key])).toString('base64url');

function decodeCursor(cursor: string): { scopeKey: string; key: string } {
  try {
    const [scopeKey, key] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof scopeKey === 'string' && typeof key === 'string') return { scopeKey, key };
  } catch {
    // falls through to the error below
  }
  throw new AppError(
    'INVALID_INPUT',
    'cursor is not one this server returned: pass next_cursor from a previous list_memory.',
  );
}

/** Private key-value memory: every operation is scoped to the calling agent. */
export class MemoryService {
  constructor(
    private readonly store: Storage,
    private readonly maxValueBytes: number,
    /** MAX_REPLY_BYTES: a page of entries ends early beyond it (one entry always comes back). */
    private readonly maxReplyBytes = DEFAULT_MAX_REPLY_BYTES,
  ) {}

  async set(caller: Principal, input: SetMemoryInput): Promise<MemoryEntry> {
    const value = toJsonText(input.value);
    if (Buffer.byteLength(value) > this.maxValueBytes) {
      throw new AppError(
        'PAYLOAD_TOO_LARGE',
        `The value is ${Buffer.byteLength(value)} bytes as JSON; the limit is ${this.maxValueBytes}.`,
      );
    }
    const at = address(caller, input.key, input.sessionId);
    const entry = await this.store.write(async (trx) => {
      if (input.sessionId !== undefined) await requireSession(trx, input.sessionId);
      const now = nowMs();
      const existing = await findAnyMemory(trx, at);
      const live =
        existing !== undefined && (existing.expires_at === null || Number(existing.expires_at) > now);
      const liveVersion = live ? Number(existing.version) : null;
      if (input.ifVersion !== undefined && input.ifVersion !== (liveVersion ?? 0)) {
        throw conflict(
          input.key,
          input.ifVersion === 0
            ? `Memory "${input.key}" already exists (version ${liveVersion}); if_version 0 writes only when it is absent.`
            : `Memory "${input.key}" is at version ${liveVersion ?? 'none (absent)'}, not ${input.ifVersion}. Read it again and retry with the current version.`,
          liveVersion,
        );
      }
      if (input.ifVersion === undefined && !input.overwrite && live) {
        throw conflict(
          input.key,
          `Memory "${input.key}" already exists and overwrite is false.`,
          liveVersion,
        );
      }
      const expiresAt = input.expiresIn ? now + input.expiresIn * 1000 : null;
      const metadata = toJsonText(input.metadata ?? null);
      const row = {
        value,
        metadata,
        version: (liveVersion ?? 0) + 1,
        created_at: live ? Number(existing.created_at) : now,
        updated_at: now,
        expires_at: expiresAt,
      };
      if (existing !== undefined) {
        const replaced = await replaceMemory(trx, at, Number(existing.version), row);
        if (!replaced)
          throw conflict(input.key, `Memory "${input.key}" changed while writing; read it and retry.`, null);
      } else {
        const inserted = await insertMemory(trx, {
          agent_id: at.agentId,
          scope_key: at.scopeKey,
          key: at.key,
          ...row,
        });
        if (!inserted)
          throw conflict(
            input.key,
            `Memory "${input.key}" was created while writing; read it and retry.`,
            null,
          );
      }
      await auditService.record(trx, {
        agentId: caller.agentId,
        action: 'set_memory',
        sessionId: input.sessionId,
        resource: `memory:${input.key}`,
        details: { version: row.version },
      });
      return toEntry({ agent_id: at.agentId, scope_key: at.scopeKey, key: at.key, ...row });
    });
    return entry;
  }

  async get(caller: Principal, key: string, sessionId: string | undefined): Promise<MemoryEntry> {
    const row = await findLiveMemory(this.store.db, address(caller, key, sessionId), nowMs());
    if (row === undefined) throw notFound(key, sessionId);
    return toEntry(row);
  }

  /**
   * `scope`: a session id, "all" (every scope), or undefined (global only). In (scope, key) order;
   * `cursor` is the `next_cursor` of the previous page.
   */
  list(
    caller: Principal,
    scope: string | undefined,
    prefix: string | undefined,
    limit: number,
    cursor?: string | undefined,
  ): Promise<{ entries: MemoryEntry[] } & PageInfo<string>> {
    return this.listOf(caller.agentId, scope, prefix, limit, cursor);
  }

  /** `list` of any agent's memory, for an overseer (the dashboard): callers check that they may. */
  async listOf(
    agentId: string,
    scope: string | undefined,
    prefix: string | undefined,
    limit: number,
    cursor?: string | undefined,
  ): Promise<{ entries: MemoryEntry[] } & PageInfo<string>> {
    const scopeKey = scope === 'all' ? undefined : (scope ?? '');
    const first = cursor === undefined ? undefined : decodeCursor(cursor);
    const now = nowMs();
    const page = await readPage<MemoryRow>({
      limit,
      maxBytes: this.maxReplyBytes,
      sizeOf: entryBytes,
      next: (last, n) =>
        listLiveMemory(
          this.store.db,
          agentId,
          scopeKey,
          prefix,
          now,
          n,
          last ? { scopeKey: last.scope_key, key: last.key } : first,
        ),
    });
    return { entries: page.items.map(toEntry), ...pageInfo(page, encodeCursor) };
  }

  async delete(
    caller: Principal,
    key: string,
    sessionId: string | undefined,
  ): Promise<{ key: string; deleted: true }> {
    await this.store.write(async (trx) => {
      const deleted = await deleteLiveMemory(trx, address(caller, key, sessionId), nowMs());
      if (!deleted) throw notFound(key, sessionId);
      await auditService.record(trx, {
        agentId: caller.agentId,
        action: 'delete_memory',
        sessionId,
        resource: `memory:${key}`,
      });
    });
    return { key, deleted: true };
  }

  /** Retention: deletes the entries expired at `now` (ms); returns how many. */
  purgeExpired(now: number): Promise<number> {
    return this.store.write((trx) => purgeExpiredMemory(trx, now));
  }
}
