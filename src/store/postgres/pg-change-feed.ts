import { sql } from 'kysely';
import pg from 'pg';
import { type ChangeFeed, type ChangeRow, purgeChangesBefore } from '../change-feed.js';
import type { Db } from '../store.js';

type Listener = (upTo?: number) => void;

/** A safety net under the wake-ups: read the feed at least this often while someone listens. */
export const POLL_MS = 1_000;
/** Changes of another transaction wait behind an older one still running: look again this soon. */
const BEHIND_MS = 15;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/** Transactions below this have all committed or rolled back (computed in the reading statement). */
const HORIZON = sql`pg_snapshot_xmin(pg_current_snapshot())::text::bigint`;

export interface PgFeedOptions {
  connectionString: string;
  types: pg.CustomTypesConfig;
  /** The NOTIFY channel this store's writers and listeners share. */
  channel: string;
}

/**
 * The change feed on PostgreSQL (migration 0005; docs/change-feed.md). A change's cursor is its
 * transaction's id. A reader takes only changes of transactions below the snapshot's xmin — every
 * one of those has ended — in (cursor, id) order, and never splits a transaction: so a reader that
 * has seen cursor N never later finds a committed change at or below N, and writers are never
 * serialized for it.
 *
 * Wake-ups: this process's own commits at once (`committed`); other nodes' over LISTEN/NOTIFY (each
 * node sends one `pg_notify` after its commits, coalesced: one in flight, one more after it); a poll
 * every POLL_MS as a safety net (a node that died between its COMMIT and its NOTIFY). The listening
 * connection reconnects with backoff and then wakes the readers, which catch up from their cursor.
 */
export class PgChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<Listener>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private behindTimer: NodeJS.Timeout | undefined;
  private notifying = false;
  private notifyAgain = false;
  private announcing = false;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly options: PgFeedOptions,
  ) {}

  /** The newest cursor whose changes a reader may take (0 when there is none). */
  async head(): Promise<number> {
    const row = await sql<{ head: number | null }>`SELECT max(cursor) AS head FROM changes
      WHERE cursor < ${HORIZON}`.execute(this.db);
    return Number(row.rows[0]?.head ?? 0);
  }

  /** Cursors are sparse here (transaction ids): retention records the highest one it purged. */
  async keeps(after: number): Promise<boolean> {
    const row = await sql<{ through: number }>`SELECT through FROM changes_purged`.execute(this.db);
    return after >= Number(row.rows[0]?.through ?? 0);
  }

  async purgeBefore(cutoff: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const purged = await purgeChangesBefore(trx, cutoff);
      if (purged === 0) return 0;
      await sql`UPDATE changes_purged SET through = greatest(through,
        coalesce((SELECT min(cursor) - 1 FROM changes), through))`.execute(trx);
      return purged;
    });
  }

  /**
   * Changes after `after` of ended transactions, in order: at least `limit` when there are that
   * many, and the whole of the last transaction (a transaction is never split across reads).
   */
  async read(after: number, limit: number): Promise<ChangeRow[]> {
    const page = await sql<
      ChangeRow & { id: number }
    >`SELECT cursor, id, kind, session_id, agent_id, ref, created_at
      FROM changes WHERE cursor > ${after} AND cursor < ${HORIZON}
      ORDER BY cursor, id LIMIT ${limit}`.execute(this.db);
    const rows = page.rows;
    if (rows.length === limit && rows.length > 0) {
      const last = rows[rows.length - 1]!;
      // The rest of the last transaction (it ended: all of it is visible).
      const rest = await sql<
        ChangeRow & { id: number }
      >`SELECT cursor, id, kind, session_id, agent_id, ref, created_at
        FROM changes WHERE cursor = ${last.cursor} AND id > ${last.id} ORDER BY id`.execute(this.db);
      rows.push(...rest.rows);
    }
    if (rows.length < limit) this.lookBehind(rows.length === 0 ? after : rows[rows.length - 1]!.cursor);
    return rows.map(({ id: _id, ...change }) => change);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.startListening();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.stopListening();
    };
  }

  /**
   * A transaction of this process committed: wake this process's readers now, and the other
   * nodes with one NOTIFY (a commit arriving while one is in flight asks for one more after it).
   */
  committed(): void {
    if (this.closed) return;
    this.announce();
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    void this.sendNotify();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.stopListening();
  }

  private async sendNotify(): Promise<void> {
    try {
      do {
        this.notifyAgain = false;
        await sql`SELECT pg_notify(${this.options.channel}, '')`.execute(this.db);
      } while (this.notifyAgain && !this.closed);
    } catch {
      // Other nodes still find the change by their poll.
    } finally {
      this.notifying = false;
    }
  }

  /** Listeners hear of changes once per turn of the event loop, however many commits came. */
  private announce(): void {
    if (this.announcing || this.listeners.size === 0) return;
    this.announcing = true;
    queueMicrotask(() => {
      this.announcing = false;
      this.notify();
    });
  }

  /**
   * A read came back short: if changes above its end are already committed but wait behind an older
   * transaction still running, look again soon (its commit may come with no NOTIFY: a transaction
   * of another program on the cluster holds the horizon too).
   */
  private lookBehind(readTo: number): void {
    if (this.behindTimer !== undefined || this.listeners.size === 0 || this.closed) return;
    sql<{ top: number | null }>`SELECT max(cursor) AS top FROM changes`
      .execute(this.db)
      .then((result) => {
        const top = Number(result.rows[0]?.top ?? 0);
        if (top <= readTo || this.behindTimer !== undefined || this.closed) return;
        this.behindTimer = setTimeout(() => {
          this.behindTimer = undefined;
          this.notify();
        }, BEHIND_MS);
        this.behindTimer.unref();
      })
      .catch(() => undefined);
  }

  private startListening(): void {
    this.pollTimer ??= setInterval(() => this.notify(), POLL_MS);
    this.pollTimer.unref();
    void this.connect();
  }

  private async stopListening(): Promise<void> {
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.behindTimer);
    this.pollTimer = this.reconnectTimer = this.behindTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await this.connecting?.catch(() => undefined);
    await client?.end().catch(() => undefined);
  }

  /** Opens the LISTEN connection; on every (re)connect, LISTEN first, then wake the readers to catch up. */
  private connect(): Promise<void> {
    if (this.connecting !== undefined || this.client !== undefined || this.closed) return Promise.resolve();
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      types: this.options.types,
      // Named after its channel, so an operator (or a test) can tell one deployment's listeners apart.
      application_name: `scs listener ${this.options.channel}`.slice(0, 63),
    });
    const lost = () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === this.options.channel) this.notify();
    });
    this.connecting = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN ${pg.escapeIdentifier(this.options.channel)}`);
        if (this.closed || this.listeners.size === 0) {
          await client.end();
          return;
        }
        this.client = client;
        this.reconnectDelay = RECONNECT_MIN_MS;
        this.notify(); // catch up on what was committed while nobody listened
      } catch {
        client.removeAllListeners();
        client.on('error', () => undefined);
        await client.end().catch(() => undefined);
        this.scheduleReconnect();
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.listeners.size === 0 || this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener(undefined);
      } catch {
        // A listener's failure is its own (the feed reader logs its errors).
      }
    }
  }
}
