import { sql } from 'kysely';
import { visibleTo } from '../../messages/visibility.js';
import type { CandidateQuery, SearchIndex } from '../../search/search-index.js';
import type { MessageRow } from '../schema.js';
import type { Db } from '../store.js';

/** Corrections looked up per query word: the closest vocabulary words (pg_trgm similarity). */
const CORRECTIONS = 3;
/** How close a vocabulary word must be to a query word (pg_trgm similarity, 0–1). */
const WORD_SIMILARITY = 0.3;

/** A query's words as the vocabulary keeps them (migration 0008): lower case, letters and digits, 3+ long. */
const wordsOf = (query: string): string[] => [
  ...new Set(
    query
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length >= 3 && w.length <= 48),
  ),
];

/**
 * PostgreSQL search, with pg_trgm (migrations 0001 and 0008), kept by PostgreSQL in the writing
 * transaction — a committed message is searchable at once, so there is nothing to catch up.
 * Candidates, among the messages the viewer may see:
 * 1. exact substring hits (`ILIKE`, served by the trigram indexes on content and metadata), newest
 *    first — they score 100;
 * 2. for typos: each query word is corrected against the vocabulary of words messages contain (a
 *    small table with a trigram index: `word % query_word`), and messages holding a correction of
 *    every query word (else of any) are taken, newest first. Scoring the query's similarity against
 *    thousands of whole messages instead cost a second over 100,000 of them.
 * The fuzzy scorer (search.service.ts) ranks them exactly as on SQLite.
 */
export class PgSearchIndex implements SearchIndex {
  async catchUp(): Promise<void> {}

  async candidates(db: Db, q: CandidateQuery): Promise<MessageRow[]> {
    const scope = q.visibility === undefined ? sql`` : sql`AND messages.visibility = ${q.visibility}`;
    const among = sql`messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}`;
    const contains = (pattern: string) =>
      q.searchMetadata
        ? sql`(messages.content ILIKE ${pattern} OR messages.metadata ILIKE ${pattern})`
        : sql`messages.content ILIKE ${pattern}`;
    // LIKE's escape character is the backslash by default in PostgreSQL.
    const like = `%${q.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const exact = await sql<MessageRow>`SELECT messages.* FROM messages WHERE ${among} AND ${contains(like)}
      ORDER BY messages.id DESC LIMIT ${q.limit}`.execute(db);
    if (exact.rows.length >= q.limit) return exact.rows;
    const corrections = await this.corrections(db, wordsOf(q.query));
    if (corrections.length === 0) return exact.rows;
    // Every query word matched (by one of its corrections), else any of them.
    const each = corrections.map(
      (words) =>
        sql`(${sql.join(
          words.map((w) => contains(`%${w}%`)),
          sql` OR `,
        )})`,
    );
    const seen = new Set(exact.rows.map((r) => r.id));
    const found = [...exact.rows];
    for (const combined of each.length > 1 ? [sql.join(each, sql` AND `), sql.join(each, sql` OR `)] : each) {
      const rows = await sql<MessageRow>`SELECT messages.* FROM messages WHERE ${among} AND (${combined})
        ORDER BY messages.id DESC LIMIT ${q.limit}`.execute(db);
      for (const row of rows.rows) {
        if (found.length >= q.limit * 2) break;
        if (seen.has(row.id)) continue;
        seen.add(row.id);
        found.push(row);
      }
      if (found.length >= q.limit) break;
    }
    return found;
  }

  /** For each query word that has any, its closest vocabulary words (itself first when it is one). */
  private async corrections(db: Db, words: string[]): Promise<string[][]> {
    if (words.length === 0) return [];
    const rows = await sql<{ query_word: string; word: string }>`SELECT q.w AS query_word, v.word
      FROM unnest(${words}::text[]) AS q(w)
      CROSS JOIN LATERAL (
        SELECT word FROM message_words
        WHERE word % q.w AND similarity(word, q.w) >= ${WORD_SIMILARITY}
        ORDER BY word <-> q.w LIMIT ${CORRECTIONS}
      ) AS v`.execute(db);
    const byWord = new Map<string, string[]>();
    for (const row of rows.rows)
      byWord.set(row.query_word, [...(byWord.get(row.query_word) ?? []), row.word]);
    return [...byWord.values()];
  }
}
