import { createHash, randomBytes } from 'node:crypto';
import { auditService } from '../audit/audit.service.js';
import { toIso, toIsoOrNull } from '../core/time.js';
import type { AgentKeyRow } from '../store/schema.js';
import type { Storage } from '../store/store.js';
import {
  findActiveKey,
  findKeyByHash,
  findKeyById,
  insertAgentKey,
  keysChangedSince,
  listAgentKeys,
  revokeActiveKey,
} from './agent-key.repository.js';

/** Every agent key starts with this: a key without it is never looked up in the database. */
export const AGENT_KEY_PREFIX = 'scs_agent_';

/**
 * How far back each poll looks: a writer stamps `updated_at` before its transaction commits, and
 * may wait up to SQLite's busy_timeout (5 s) for the write lock. Re-reading those rows is harmless.
 */
const CLOCK_SLACK_MS = 10_000;

/** sha256 of a 256-bit random key: enough to store instead of the key (no salt or KDF needed). */
export const hashAgentKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A key as listed: never the key itself, nor its hash. */
export interface AgentKeyView {
  key_id: string;
  agent_id: string;
  agent_type: string;
  status: 'active' | 'revoked';
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
}

export interface IssuedAgentKey extends AgentKeyView {
  /** The key: shown this once, stored only as a hash. */
  api_key: string;
  /** The key this one replaced (revoked now), if the agent had one. */
  replaced_key_id: string | null;
}

export function toAgentKeyView(row: AgentKeyRow): AgentKeyView {
  return {
    key_id: row.key_id,
    agent_id: row.agent_id,
    agent_type: row.agent_type,
    status: row.revoked_at === null ? 'active' : 'revoked',
    created_at: toIso(Number(row.created_at)),
    created_by: row.created_by,
    revoked_at: toIsoOrNull(row.revoked_at === null ? null : Number(row.revoked_at)),
    revoked_by: row.revoked_by,
  };
}

/**
 * Agent keys: issued by an admin, bound to one agent id and type, stored as a sha256 hash.
 *
 * Every key is held in memory, so checking one costs no query. Other processes on the same
 * database (the CLI) issue and revoke keys too: a key this process has not seen is looked up in the
 * database on the spot, and `watch` polls for rows changed since the last poll (one indexed query a
 * second) so a revocation made elsewhere takes effect here within that interval. Revocation is
 * terminal: a row once seen revoked is never taken back as active.
 */
export class AgentKeys {
  private readonly byHash = new Map<string, AgentKeyRow>();
  private readonly byId = new Map<string, AgentKeyRow>();
  private readonly activeByAgent = new Map<string, AgentKeyRow>();
  private syncedUpTo = 0;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(private readonly store: Storage) {}

  /** Loads every key, active and revoked (so revocations survive a restart). */
  async load(): Promise<void> {
    this.apply(await keysChangedSince(this.store.db, 0));
  }

  /** Polls the database every `intervalMs` for keys issued or revoked by another process. */
  watch(intervalMs: number, onError: (error: unknown) => void): void {
    this.timer = setInterval(() => {
      this.sync().catch(onError);
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Applies the rows changed since the last sync. Syncs run one after another, and each reads after
   * the call: a sync asked for after a commit (the change feed's agent_key change) sees it.
   */
  sync(): Promise<void> {
    const next = (this.syncing ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => keysChangedSince(this.store.db, this.syncedUpTo - CLOCK_SLACK_MS))
      .then((rows) => this.apply(rows));
    this.syncing = next;
    void next
      .finally(() => {
        if (this.syncing === next) this.syncing = undefined;
      })
      .catch(() => undefined);
    return next;
  }

  /** The key record for a presented key, or undefined when it is no agent key of this server. */
  async findByKey(key: string): Promise<AgentKeyRow | undefined> {
    if (!key.startsWith(AGENT_KEY_PREFIX)) return undefined;
    const hash = hashAgentKey(key);
    const known = this.byHash.get(hash);
    if (known !== undefined) return known;
    const row = await findKeyByHash(this.store.db, hash);
    if (row !== undefined) this.apply([row]);
    return this.byHash.get(hash);
  }

  /** The key a token was minted from, by its id. */
  async findById(keyId: string): Promise<AgentKeyRow | undefined> {
    const known = this.byId.get(keyId);
    if (known !== undefined) return known;
    const row = await findKeyById(this.store.db, keyId);
    if (row !== undefined) this.apply([row]);
    return this.byId.get(keyId);
  }

  /** The agent's active key, as far as this process knows (see `watch`). */
  activeFor(agentId: string): AgentKeyRow | undefined {
    return this.activeByAgent.get(agentId);
  }

  /** Issues a key for the agent; an active key it already had is revoked (replaced). */
  async issue(agentId: string, agentType: string, actor: string): Promise<IssuedAgentKey> {
    const apiKey = `${AGENT_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = Date.now();
    const row: AgentKeyRow = {
      key_id: `akey_${randomBytes(9).toString('base64url')}`,
      agent_id: agentId,
      agent_type: agentType,
      key_hash: hashAgentKey(apiKey),
      created_at: now,
      created_by: actor,
      revoked_at: null,
      revoked_by: null,
      updated_at: now,
    };
    let replaced: string | null = null;
    await this.store.write(async (trx) => {
      const previous = await findActiveKey(trx, agentId);
      if (previous !== undefined) {
        await revokeActiveKey(trx, agentId, now, actor);
        replaced = previous.key_id;
      }
      await insertAgentKey(trx, row);
      await auditService.record(trx, {
        agentId,
        action: 'issue_agent_key',
        details: { agent_type: agentType, key_id: row.key_id, by: actor, replaced_key_id: replaced },
      });
    });
    await this.reload(agentId);
    return { ...toAgentKeyView(row), api_key: apiKey, replaced_key_id: replaced };
  }

  /** Revokes the agent's active key; undefined when it has none. */
  async revoke(agentId: string, actor: string): Promise<AgentKeyView | undefined> {
    const now = Date.now();
    const revoked = await this.store.write(async (trx) => {
      const active = await findActiveKey(trx, agentId);
      if (active === undefined) return undefined;
      await revokeActiveKey(trx, agentId, now, actor);
      await auditService.record(trx, {
        agentId,
        action: 'revoke_agent_key',
        details: { key_id: active.key_id, by: actor },
      });
      return { ...active, revoked_at: now, revoked_by: actor, updated_at: now };
    });
    if (revoked === undefined) return undefined;
    await this.reload(agentId);
    return toAgentKeyView(revoked);
  }

  async list(filter: { includeRevoked: boolean; agentId?: string | undefined }): Promise<AgentKeyView[]> {
    return (await listAgentKeys(this.store.db, filter)).map(toAgentKeyView);
  }

  private async reload(agentId: string): Promise<void> {
    this.apply(await listAgentKeys(this.store.db, { includeRevoked: true, agentId }));
  }

  private remember(row: AgentKeyRow): AgentKeyRow {
    const known = this.byId.get(row.key_id);
    // Revocation is terminal: an older read that still shows the key active changes nothing.
    const merged = known !== undefined && known.revoked_at !== null ? known : row;
    this.byId.set(merged.key_id, merged);
    this.byHash.set(merged.key_hash, merged);
    return merged;
  }

  private apply(rows: readonly AgentKeyRow[]): void {
    const merged = rows.map((row) => {
      this.syncedUpTo = Math.max(this.syncedUpTo, Number(row.updated_at));
      return this.remember(row);
    });
    // Revocations first: within one read there is at most one active key per agent.
    for (const row of merged) {
      if (row.revoked_at !== null && this.activeByAgent.get(row.agent_id)?.key_id === row.key_id) {
        this.activeByAgent.delete(row.agent_id);
      }
    }
    for (const row of merged) {
      if (row.revoked_at !== null) continue;
      const previous = this.activeByAgent.get(row.agent_id);
      if (previous?.key_id === row.key_id) continue;
      if (previous !== undefined) {
        // Replaced: the old key is revoked in the same transaction, even if that row was not read here.
        this.remember({ ...previous, revoked_at: Number(row.created_at), revoked_by: row.created_by });
      }
      this.activeByAgent.set(row.agent_id, row);
    }
  }
}
