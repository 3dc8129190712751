import { sql } from 'kysely';
import { visibleTo } from '../../messages/visibility.js';
import type { CandidateQuery, SearchIndex } from '../../search/search-index.js';
import type { MessageRow } from '../schema.js';
import type { Db } from '../store.js';

const BATCH = 5_000;
/** How many of a query's rarest trigrams the fuzzy candidate query ORs together. */
const RARE_GRAMS = 4;

/** `"abc"` quoted for an FTS5 query (double quotes doubled). */
const quote = (text: string): string => `"${text.replaceAll('"', '""')}"`;

/** Distinct trigrams of each word of 3+ characters: typo-tolerant recall for a trigram index. */
export function trigramsOf(query: string): string[] {
  const grams = new Set<string>();
  for (const word of query.split(/\s+/)) {
    const chars = [...word];
    for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(''));
  }
  return [...grams];
}

/**
 * SQLite FTS5 with the trigram tokenizer over message content and metadata. The table is
 * contentless (it stores only the index) and is fed in batches from the change feed, so an
 * insert costs one row write, not one index segment; a search first catches the index up, so a
 * confirmed message is always searchable.
 */
export class SqliteSearchIndex implements SearchIndex {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly db: Db) {}

  /** Indexes new messages in the background every `intervalMs`. */
  start(intervalMs = 250): void {
    this.timer ??= setInterval(() => {
      this.catchUp(this.db).catch(() => undefined);
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async catchUp(db: Db): Promise<void> {
    // One catch-up at a time; a caller arriving during one waits for it and then runs its own,
    // so it sees every message committed before it asked.
    while (this.running) await this.running;
    this.running = this.indexPending(db);
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /**
   * Indexes the messages of the changes after the index's cursor (a feed cursor, so the index sees
   * every committed message once, in commit order, whichever process wrote it).
   */
  private async indexPending(db: Db): Promise<void> {
    for (;;) {
      const read = await db.transaction().execute(async (trx) => {
        const state = await sql<{
          last_id: number;
        }>`SELECT last_id FROM search_index_state WHERE name = 'changes'`.execute(trx);
        const after = state.rows[0]?.last_id ?? 0;
        const top = await sql<{
          cursor: number | null;
          n: number;
        }>`SELECT max(cursor) AS cursor, count(*) AS n FROM (SELECT cursor FROM changes WHERE cursor > ${after} ORDER BY cursor LIMIT ${BATCH})`.execute(
          trx,
        );
        const upTo = top.rows[0]?.cursor ?? null;
        if (upTo === null) return 0;
        await sql`INSERT INTO message_search (rowid, content, metadata)
          SELECT messages.id, messages.content, messages.metadata FROM changes
          JOIN messages ON messages.id = CAST(changes.ref AS INTEGER)
          WHERE changes.cursor > ${after} AND changes.cursor <= ${upTo} AND changes.kind = 'message'`.execute(
          trx,
        );
        await sql`UPDATE search_index_state SET last_id = ${upTo} WHERE name = 'changes'`.execute(trx);
        return top.rows[0]?.n ?? 0;
      });
      if (read < BATCH) return;
    }
  }

  async candidates(db: Db, q: CandidateQuery): Promise<MessageRow[]> {
    const column = q.searchMetadata ? '' : 'content : ';
    const scope = q.visibility === undefined ? sql`` : sql`AND messages.visibility = ${q.visibility}`;
    const grams = trigramsOf(q.query);
    if (grams.length === 0) {
      // Under three characters a trigram index cannot help: a bounded substring scan of the session.
      const like = `%${q.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const meta = q.searchMetadata ? sql`OR lower(messages.metadata) LIKE ${like} ESCAPE '\\'` : sql``;
      const rows = await sql<MessageRow>`SELECT messages.* FROM messages
        WHERE messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}
          AND (lower(messages.content) LIKE ${like} ESCAPE '\\' ${meta})
        ORDER BY messages.id DESC LIMIT ${q.limit}`.execute(db);
      return rows.rows;
    }
    // Exact substring hits first (they score 100), then the best trigram-overlap hits by bm25.
    const phrase = `${column}${quote(q.query)}`;
    const exact = await this.match(db, q, phrase, scope, q.limit, 'newest');
    if (exact.length >= q.limit) return exact;
    const rare = await this.rarest(db, grams);
    if (rare.length === 0) return exact;
    const loose = `${column}(${rare.map(quote).join(' OR ')})`;
    const fuzzy = await this.match(db, q, loose, scope, q.limit, 'rank');
    const seen = new Set(exact.map((r) => r.id));
    return [...exact, ...fuzzy.filter((r) => !seen.has(r.id))];
  }

  /**
   * The query's trigrams that occur in the index, rarest first, at most RARE_GRAMS of them. Common
   * trigrams ("the", "ion") match most messages and would make ranking scan the whole index;
   * trigrams absent from the index are usually the typo itself.
   */
  private async rarest(db: Db, grams: string[]): Promise<string[]> {
    const rows = await sql<{ term: string; doc: number }>`SELECT term, doc FROM message_search_vocab
      WHERE term IN (${sql.join(grams)})`.execute(db);
    return rows.rows
      .filter((r) => r.doc > 0)
      .sort((a, b) => a.doc - b.doc)
      .slice(0, RARE_GRAMS)
      .map((r) => r.term);
  }

  private async match(
    db: Db,
    q: CandidateQuery,
    expression: string,
    scope: ReturnType<typeof sql>,
    limit: number,
    order: 'rank' | 'newest',
  ): Promise<MessageRow[]> {
    // Exact hits all score 100: newest first lets FTS5 walk its index backwards and stop at the
    // limit, where ranking would score every hit first.
    const orderBy = order === 'rank' ? sql`message_search.rank` : sql`message_search.rowid DESC`;
    const rows = await sql<MessageRow>`SELECT messages.* FROM message_search
      JOIN messages ON messages.id = message_search.rowid
      WHERE message_search MATCH ${expression}
        AND messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}
      ORDER BY ${orderBy} LIMIT ${limit}`.execute(db);
    return rows.rows;
  }
}
