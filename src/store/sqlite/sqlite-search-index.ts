import { type RawBuilder, sql } from 'kysely';
import { visibleTo } from '../../messages/visibility.js';
import {
  type CandidateQuery,
  type SearchIndex,
  type Split,
  piecesOf,
  splitsOf,
  trigramsOf,
  wordsOf,
} from '../../search/search-index.js';
import { sessionTokens } from '../migrations/0009-session-search.js';
import type { MessageRow } from '../schema.js';
import type { Db } from '../store.js';

/** The work one catch-up slice aims at, in ms of the event loop, before it yields. */
const SLICE_MS = 4;
/** Bounds of a slice, in changes; it starts small and adapts to SLICE_MS. */
const SLICE_MIN = 16;
const SLICE_MAX = 2_000;
/**
 * Pages of FTS5 segment merging per merge step (FTS5's automatic merging is off, migration 0009):
 * a step is one small transaction of its own, so merging never stalls the event loop for long.
 */
const MERGE_PAGES = 32;
/** Merge steps after each slice of a catch-up that has more to read. */
const MERGE_STEPS_PER_SLICE = 2;
/** How many of a query's rarest trigrams the ranked (and the last-resort) candidate query ORs together. */
const RARE_GRAMS = 4;
/** Trigram counts stop here: beyond it a trigram is common, whatever its exact count. */
const RARE_CAP = 100;

/**
 * FTS5 expressions over one session's tokens (migration 0009): a text of 3+ characters as the
 * phrase of its trigrams' tokens, which matches where the text occurs, as with the trigram tokenizer.
 */
class SessionTerms {
  constructor(private readonly key: number) {}

  phrase(text: string): string {
    return `"${sessionTokens(this.key, text)}"`;
  }

  anyOf(texts: string[]): string {
    return `(${texts.map((t) => this.phrase(t)).join(' OR ')})`;
  }

  /** A word by any of its splits: its intact piece, and one trigram of the rest of it when there are some. */
  splits(splits: Split[]): string {
    const each = splits.map((s) =>
      s.rest.length === 0 ? this.phrase(s.intact) : `(${this.phrase(s.intact)} AND ${this.anyOf(s.rest)})`,
    );
    return `(${each.join(' OR ')})`;
  }
}

const allOf = (expressions: string[]): string => `(${expressions.join(' AND ')})`;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Order = 'newest' | 'rank';

/**
 * SQLite FTS5 over the trigrams of message content and metadata, each indexed as a token of its
 * session (migration 0009, docs/search-scoping.md): a search reads only its session's doclists, so
 * its cost grows with the session, not the database. The table is contentless and fed from the
 * change feed in small slices that yield to the event loop between them; a search first catches
 * the index up, so a confirmed message is always searchable.
 */
export class SqliteSearchIndex implements SearchIndex {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private merging = false;
  private sliceSize = SLICE_MIN;

  constructor(private readonly db: Db) {}

  /** Indexes new messages in the background every `intervalMs`. */
  start(intervalMs = 250): void {
    this.timer ??= setInterval(() => {
      this.catchUp(this.db)
        .then(() => this.merge(this.db))
        .catch(() => undefined);
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async catchUp(db: Db): Promise<void> {
    // One catch-up at a time; a caller arriving during one waits for it and then runs its own,
    // so it sees every message committed before it asked. A search after a bulk import waits for
    // the whole backlog, while other requests are served between the slices.
    while (this.running) await this.running;
    this.running = this.indexPending(db);
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Indexes the changes after the index's cursor, slice by slice, yielding between slices. */
  private async indexPending(db: Db): Promise<void> {
    for (;;) {
      const size = this.sliceSize;
      const started = performance.now();
      const read = await this.indexSlice(db, size);
      const ms = performance.now() - started;
      // Aim the next slice at SLICE_MS (halving at most, doubling at most).
      const scale = Math.min(2, Math.max(0.5, SLICE_MS / Math.max(ms, 0.1)));
      this.sliceSize = Math.round(Math.min(SLICE_MAX, Math.max(SLICE_MIN, size * scale)));
      if (read < size) return;
      await yieldToEventLoop();
      // A long catch-up (a bulk import, a restart) merges as it goes: left for the end, its new
      // segments would pile up to FTS5's crisis merge, one unbounded merge inside an insert.
      await this.mergeSteps(db, MERGE_STEPS_PER_SLICE);
    }
  }

  /**
   * Background merging of the index's segments, in bounded steps (each its own transaction,
   * yielding between them), until FTS5 has nothing left to merge: a step that changes fewer than
   * two rows did no work. Searches never wait for it.
   */
  private async merge(db: Db): Promise<void> {
    if (this.merging) return;
    this.merging = true;
    try {
      await this.mergeSteps(db, Number.POSITIVE_INFINITY);
    } finally {
      this.merging = false;
    }
  }

  /** Up to `steps` merge steps; false when FTS5 had nothing left to merge. */
  private async mergeSteps(db: Db, steps: number): Promise<boolean> {
    for (let step = 0; step < steps; step++) {
      const worked = await db.transaction().execute(async (trx) => {
        const before = await sql<{ n: number }>`SELECT total_changes() AS n`.execute(trx);
        await sql`INSERT INTO message_search (message_search, rank) VALUES ('merge', ${MERGE_PAGES})`.execute(
          trx,
        );
        const after = await sql<{ n: number }>`SELECT total_changes() AS n`.execute(trx);
        return (after.rows[0]?.n ?? 0) - (before.rows[0]?.n ?? 0) >= 2;
      });
      if (!worked) return false;
      await yieldToEventLoop();
    }
    return true;
  }

  /**
   * One transaction: the next `size` changes after the index's cursor (a feed cursor, so the index
   * sees every committed message once, in commit order, whichever process wrote it), their
   * sessions' keys, their messages' entries, and the cursor moved past them. Returns how many
   * changes it read.
   */
  private async indexSlice(db: Db, size: number): Promise<number> {
    return db.transaction().execute(async (trx) => {
      const top = await sql<{ after: number; upTo: number | null; n: number }>`SELECT
          state.last_id AS after, max(c.cursor) AS upTo, count(c.cursor) AS n
        FROM search_index_state AS state
        LEFT JOIN (SELECT cursor FROM changes
          WHERE cursor > (SELECT last_id FROM search_index_state WHERE name = 'changes')
          ORDER BY cursor LIMIT ${size}) AS c
        WHERE state.name = 'changes'`.execute(trx);
      const { after = 0, upTo = null, n = 0 } = top.rows[0] ?? {};
      if (upTo === null) return 0;
      const slice = sql`changes.cursor > ${after} AND changes.cursor <= ${upTo} AND changes.kind = 'message'`;
      await sql`INSERT OR IGNORE INTO session_search_keys (session_id)
        SELECT DISTINCT session_id FROM changes WHERE ${slice}`.execute(trx);
      const rows = await sql<{ id: number; key: number; content: string; metadata: string }>`SELECT
          messages.id, session_search_keys.key, messages.content, messages.metadata
        FROM changes
        JOIN messages ON messages.id = CAST(changes.ref AS INTEGER)
        JOIN session_search_keys ON session_search_keys.session_id = messages.session_id
        WHERE ${slice}`.execute(trx);
      if (rows.rows.length > 0) {
        const entries = rows.rows.map((r) => [
          r.id,
          sessionTokens(r.key, r.content),
          sessionTokens(r.key, r.metadata),
        ]);
        await sql`INSERT INTO message_search (rowid, content, metadata)
          SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(${JSON.stringify(entries)})`.execute(
          trx,
        );
      }
      await sql`UPDATE search_index_state SET last_id = ${upTo} WHERE name = 'changes'`.execute(trx);
      return n;
    });
  }

  /**
   * Up to `limit` visible messages of the session, best first, in tiers: messages containing the
   * query (they score 100); messages containing, for every word (then any word) of the query, a
   * piece a one-edit typo leaves intact and a trigram of the rest of the word (search-index.ts); the
   * hits of the query's trigrams that are rare in the session, ranked; the pieces alone; and, while
   * still short, the newest hits of its least common trigrams. Each tier but the ranked one is
   * newest first, which FTS5 serves by walking the session's doclists backwards and stopping at the
   * limit — no tier scores every hit.
   */
  async candidates(db: Db, q: CandidateQuery): Promise<MessageRow[]> {
    const scope = q.visibility === undefined ? sql`` : sql`AND messages.visibility = ${q.visibility}`;
    const grams = trigramsOf(q.query);
    if (grams.length === 0) return this.scan(db, q, scope);
    const key = await this.keyOf(db, q.sessionId);
    if (key === undefined) return [];
    const terms = new SessionTerms(key);
    const column = q.searchMetadata ? '' : 'content : ';
    const found = new Map<number, MessageRow>();
    const take = async (expression: string, order: Order = 'newest'): Promise<void> => {
      if (found.size >= q.limit) return;
      // Each tier asks for `limit` rows and keeps the new ones.
      for (const row of await this.match(db, q, `${column}${expression}`, scope, order)) {
        if (found.size >= q.limit) break;
        if (!found.has(row.id)) found.set(row.id, row);
      }
    };
    // 1. The query itself: these score 100.
    await take(terms.phrase(q.query));
    const words = wordsOf(q.query);
    const strong = words
      .map(splitsOf)
      .filter((splits) => splits.length > 0)
      .map((splits) => terms.splits(splits));
    const weak = words
      .map(piecesOf)
      .filter((pieces) => pieces.length > 0)
      .map((pieces) => terms.anyOf(pieces));
    // 2. Every word (then any word) by an intact piece and a trigram of the rest of it.
    await take(allOf(strong));
    if (strong.length > 1) await take(`(${strong.join(' OR ')})`);
    if (found.size < q.limit) {
      // 3. Rare trigrams hit few messages: ranking all their hits (bm25: most of them first) is cheap.
      const counted = await this.counted(db, terms, grams);
      const rare = counted.filter((c) => c.n < RARE_CAP);
      if (rare.length > 0) await take(terms.anyOf(rare.slice(0, RARE_GRAMS).map((c) => c.gram)), 'rank');
      // 4. Every word (then any word) by an intact piece alone.
      await take(allOf(weak));
      if (weak.length > 1) await take(`(${weak.join(' OR ')})`);
      // 5. When every trigram is common, the newest hits of the least common ones.
      if (found.size < q.limit / 2 && counted.length > 0)
        await take(terms.anyOf(counted.slice(0, RARE_GRAMS).map((c) => c.gram)));
    }
    return [...found.values()];
  }

  /** The session's index key, if any of its messages was indexed. */
  private async keyOf(db: Db, sessionId: string): Promise<number | undefined> {
    const row = await db
      .selectFrom('session_search_keys')
      .select('key')
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return row?.key;
  }

  /**
   * The query's trigrams that occur in the session, rarest first, with their counts. Each is counted
   * only up to RARE_CAP (a common trigram such as "the" costs RARE_CAP steps, not its whole
   * doclist); trigrams absent from the session are usually the typo.
   */
  private async counted(
    db: Db,
    terms: SessionTerms,
    grams: string[],
  ): Promise<Array<{ gram: string; n: number }>> {
    const counted: Array<{ gram: string; n: number }> = [];
    for (const gram of grams) {
      const row = await sql<{ n: number }>`SELECT count(*) AS n FROM (SELECT rowid FROM message_search
        WHERE message_search MATCH ${terms.phrase(gram)} LIMIT ${RARE_CAP})`.execute(db);
      counted.push({ gram, n: row.rows[0]?.n ?? 0 });
    }
    return counted.filter((c) => c.n > 0).sort((a, b) => a.n - b.n);
  }

  /** The newest (or best by bm25) `q.limit` visible messages matching an FTS5 expression. */
  private async match(
    db: Db,
    q: CandidateQuery,
    expression: string,
    scope: RawBuilder<unknown>,
    order: Order,
  ): Promise<MessageRow[]> {
    const orderBy = order === 'rank' ? sql`message_search.rank` : sql`message_search.rowid DESC`;
    // The session's tokens already confine the match to it; session_id guards the join all the same.
    const rows = await sql<MessageRow>`SELECT messages.* FROM message_search
      JOIN messages ON messages.id = message_search.rowid
      WHERE message_search MATCH ${expression}
        AND messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}
      ORDER BY ${orderBy} LIMIT ${q.limit}`.execute(db);
    return rows.rows;
  }

  /** Under three characters a trigram index cannot help: a bounded substring scan of the session. */
  private async scan(db: Db, q: CandidateQuery, scope: RawBuilder<unknown>): Promise<MessageRow[]> {
    const like = `%${q.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const meta = q.searchMetadata ? sql`OR lower(messages.metadata) LIKE ${like} ESCAPE '\\'` : sql``;
    const rows = await sql<MessageRow>`SELECT messages.* FROM messages
      WHERE messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}
        AND (lower(messages.content) LIKE ${like} ESCAPE '\\' ${meta})
      ORDER BY messages.id DESC LIMIT ${q.limit}`.execute(db);
    return rows.rows;
  }
}
