import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

/** The words of a text as the vocabulary keeps them: lower case, letters and digits, 3 to 48 long. */
const WORDS_OF = (
  text: string,
) => `SELECT DISTINCT w FROM regexp_split_to_table(lower(${text}), '[^[:alnum:]]+') AS w
  WHERE length(w) BETWEEN 3 AND 48 ORDER BY w`;

/**
 * PostgreSQL: the vocabulary typo search corrects a query against (src/store/postgres/
 * pg-search-index.ts) — every distinct word of message contents and metadata, with a trigram index.
 * A misspelt word is matched against this small table, then messages are found by the corrected
 * words, instead of scoring the query's similarity against thousands of whole messages. Kept by a
 * trigger in the writing transaction (words in sorted order, so two writers adding the same new
 * words never deadlock). SQLite's FTS5 index has its own vocabulary (migration 0003).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`CREATE TABLE message_words (word text PRIMARY KEY)`.execute(db);
  await sql`CREATE INDEX message_words_trgm ON message_words USING gin (word gin_trgm_ops)`.execute(db);
  await sql
    .raw(
      `CREATE FUNCTION message_words_add() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN
        INSERT INTO message_words (word) ${WORDS_OF("NEW.content || ' ' || NEW.metadata")} ON CONFLICT DO NOTHING;
        RETURN NULL; END $body$`,
    )
    .execute(db);
  await sql`CREATE TRIGGER message_words_add AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION message_words_add()`.execute(
    db,
  );
  // Messages written before this migration.
  await sql`INSERT INTO message_words (word)
    SELECT DISTINCT w FROM messages, regexp_split_to_table(lower(content || ' ' || metadata), '[^[:alnum:]]+') AS w
    WHERE length(w) BETWEEN 3 AND 48 ON CONFLICT DO NOTHING`.execute(db);
}
