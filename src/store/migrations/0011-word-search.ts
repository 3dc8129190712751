import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';
import { MESSAGE_SEARCH_TABLE, reindexMessages } from './0009-session-search.js';

const WORD = /[\p{L}\p{N}]+/gu;
/** Longer runs of letters and digits (hashes, encoded blobs) are indexed by their first 64 characters. */
export const MAX_WORD = 64;

/** The words of a text as the index keeps them: lower-cased runs of letters and digits, at most MAX_WORD long. */
export function wordsOfText(text: string): string[] {
  const words = text.toLowerCase().match(WORD);
  if (words === null) return [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word.length > MAX_WORD) words[i] = word.slice(0, MAX_WORD);
  }
  return words;
}

/**
 * Words as the index keeps them for a session: each as the token `<session key, base 36>_<word>`,
 * in order, space-separated (FTS5's ascii tokenizer, `_` a token character, only splits at the
 * spaces). So `pool` in the session keyed 7 is `7_pool`, and a phrase of tokens matches where the
 * words follow each other.
 */
export function sessionWordTokens(key: number, words: readonly string[]): string {
  if (words.length === 0) return '';
  const prefix = `${key.toString(36)}_`;
  return prefix + words.join(` ${prefix}`);
}

const VOCABULARY_FLUSH = 100_000;

/**
 * SQLite: the search index keeps words, not trigrams (docs/search-scoping.md). Every word of a
 * message is a token of its session, as in 0009, so a search still reads only its session's
 * doclists; a message gives FTS5 about 40 tokens instead of about 230 trigrams, which is most of
 * what indexing a write cost. Typos are corrected against the session's vocabulary
 * (`session_search_words`, every distinct word of the session once), which the server holds in
 * memory per searched session (src/store/sqlite/search-vocabulary.ts), and messages are then
 * found by the corrected words.
 *
 * Existing entries are rebuilt in the new layout here, as 0009 did; the vocabulary with them.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect !== 'sqlite') return;
  await sql`CREATE TABLE session_search_words (id INTEGER PRIMARY KEY, key INTEGER NOT NULL, word TEXT NOT NULL)`.execute(
    db,
  );
  await sql`CREATE UNIQUE INDEX session_search_words_key_word ON session_search_words (key, word)`.execute(
    db,
  );
  await sql`DROP TRIGGER messages_search_delete`.execute(db);
  await sql`DROP TABLE message_search`.execute(db);
  await sql.raw(MESSAGE_SEARCH_TABLE).execute(db);
  await sql`INSERT INTO message_search (message_search, rank) VALUES ('automerge', 0)`.execute(db);
  await sql`INSERT OR IGNORE INTO session_search_keys (session_id)
    SELECT DISTINCT session_id FROM messages ORDER BY session_id`.execute(db);
  let vocabulary = new Map<string, [number, string]>();
  const flush = async () => {
    const words = [...vocabulary.values()];
    vocabulary = new Map();
    if (words.length === 0) return;
    await sql`INSERT OR IGNORE INTO session_search_words (key, word)
      SELECT value ->> 0, value ->> 1 FROM json_each(${JSON.stringify(words)})`.execute(db);
  };
  await reindexMessages(
    db,
    (key, text) => {
      const words = wordsOfText(text);
      for (const word of words) vocabulary.set(`${key} ${word}`, [key, word]);
      return sessionWordTokens(key, words);
    },
    async () => {
      if (vocabulary.size >= VOCABULARY_FLUSH) await flush();
    },
  );
  await flush();
  await sql`CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.id; END`.execute(db);
  // A deleted session's words go with it (its key stays: keys are never reused).
  await sql`CREATE TRIGGER sessions_search_words_delete AFTER DELETE ON sessions BEGIN
    DELETE FROM session_search_words
      WHERE key = (SELECT key FROM session_search_keys WHERE session_id = old.session_id); END`.execute(db);
}
