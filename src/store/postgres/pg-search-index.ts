import { sql } from 'kysely';
import { visibleTo } from '../../messages/visibility.js';
import type { CandidateQuery, SearchIndex } from '../../search/search-index.js';
import type { MessageRow } from '../schema.js';
import type { Db } from '../store.js';

/**
 * How loosely a message must match to be a candidate: pg_trgm's word similarity (the share of the
 * query's trigrams found in the best-matching stretch of the text). A one-letter typo in a word of
 * six keeps about three quarters of its trigrams; the fuzzy scorer decides what passes
 * `fuzzy_threshold`, so this only bounds the work.
 */
const WORD_SIMILARITY = 0.3;

/**
 * PostgreSQL search: pg_trgm GIN indexes on message content and metadata (migration 0001), kept
 * by PostgreSQL in the writing transaction — a committed message is searchable at once, so there
 * is nothing to catch up. Candidates are found among the messages the viewer may see; the scorer
 * (search.service.ts) ranks them exactly as on SQLite.
 */
export class PgSearchIndex implements SearchIndex {
  async catchUp(): Promise<void> {}

  async candidates(db: Db, q: CandidateQuery): Promise<MessageRow[]> {
    const scope = q.visibility === undefined ? sql`` : sql`AND messages.visibility = ${q.visibility}`;
    // LIKE's escape character is the backslash by default in PostgreSQL.
    const like = `%${q.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const exactMeta = q.searchMetadata ? sql`OR messages.metadata ILIKE ${like}` : sql``;
    // Exact substring hits first (they score 100), newest first; a trigram index serves ILIKE too.
    const exact = await sql<MessageRow>`SELECT messages.* FROM messages
      WHERE messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}
        AND (messages.content ILIKE ${like} ${exactMeta})
      ORDER BY messages.id DESC LIMIT ${q.limit}`.execute(db);
    if (exact.rows.length >= q.limit || [...q.query].length < 3) return exact.rows;
    // Then the closest trigram matches (typos), best first.
    const looseMeta = q.searchMetadata ? sql`OR ${q.query} <% messages.metadata` : sql``;
    const similarity = q.searchMetadata
      ? sql`greatest(word_similarity(${q.query}, messages.content), word_similarity(${q.query}, messages.metadata))`
      : sql`word_similarity(${q.query}, messages.content)`;
    const fuzzy = await db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('pg_trgm.word_similarity_threshold', ${String(WORD_SIMILARITY)}, true)`.execute(
        trx,
      );
      return sql<MessageRow>`SELECT messages.* FROM messages
        WHERE messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}
          AND (${q.query} <% messages.content ${looseMeta})
        ORDER BY ${similarity} DESC, messages.id DESC LIMIT ${q.limit}`.execute(trx);
    });
    const seen = new Set(exact.rows.map((r) => r.id));
    return [...exact.rows, ...fuzzy.rows.filter((r) => !seen.has(r.id))];
  }
}
