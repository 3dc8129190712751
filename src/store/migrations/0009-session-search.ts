import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store.js';

const WORD_CHAR = /^[a-z0-9]$/;
const encoded = new Map<string, string>();
/** encodeChar of the ASCII characters, by code: the common case without a Map lookup. */
const ASCII = Array.from({ length: 128 }, (_, code) => encodeUncached(String.fromCharCode(code)));

function encodeUncached(char: string): string {
  return WORD_CHAR.test(char) ? char : `_${char.codePointAt(0)?.toString(36)}_`;
}

/** One character in a token: letters and digits as they are, others as `_<code point, base 36>_`. */
function encodeChar(char: string): string {
  const code = char.charCodeAt(0);
  if (char.length === 1 && code < 128) return ASCII[code]!;
  let out = encoded.get(char);
  if (out === undefined) {
    out = encodeUncached(char);
    if (encoded.size < 10_000) encoded.set(char, out);
  }
  return out;
}

/**
 * A text as the index keeps it for a session: every trigram (three characters, as SQLite's trigram
 * tokenizer cuts them: lower case, spaces and punctuation included), in order, space-separated, as
 * a token of the session: `<session key, base 36>_<trigram>`, where letters and digits stay and
 * any other character becomes `_<code point, base 36>_`. So `aut` in the session keyed 7 is
 * `7_aut`, and `n p` is `7_n_w_p`.
 */
export function sessionTokens(key: number, text: string): string {
  const chars: string[] = [];
  for (const char of text.toLowerCase()) chars.push(encodeChar(char));
  const prefix = `${key.toString(36)}_`;
  const tokens: string[] = [];
  for (let i = 0; i + 3 <= chars.length; i++) tokens.push(prefix + chars[i]! + chars[i + 1]! + chars[i + 2]!);
  return tokens.join(' ');
}

/** The FTS5 definition of the session-keyed index (the tokenizer only splits at spaces). */
export const MESSAGE_SEARCH_TABLE = `CREATE VIRTUAL TABLE message_search USING fts5(content, metadata,
  content='', contentless_delete=1, tokenize="ascii tokenchars '_'")`;

const REINDEX_BATCH = 2_000;

/**
 * Rebuilds the index entry of every message the index had reached (those without a change after
 * its cursor: the background catch-up indexes the rest), in batches, each message's content and
 * metadata given to FTS5 as `tokens` makes them for its session's key, and `afterBatch` called after
 * each batch. Sessions must have their keys.
 */
export async function reindexMessages(
  db: Kysely<unknown>,
  tokens: (key: number, text: string) => string,
  afterBatch?: () => Promise<void>,
): Promise<void> {
  const pending = new Set(
    (
      await sql<{ id: number }>`SELECT CAST(ref AS INTEGER) AS id FROM changes WHERE kind = 'message'
        AND cursor > (SELECT last_id FROM search_index_state WHERE name = 'changes')`.execute(db)
    ).rows.map((r) => r.id),
  );
  for (let after = 0; ;) {
    const rows = await sql<{ id: number; key: number; content: string; metadata: string }>`SELECT
        messages.id, session_search_keys.key, messages.content, messages.metadata
      FROM messages JOIN session_search_keys ON session_search_keys.session_id = messages.session_id
      WHERE messages.id > ${after} ORDER BY messages.id LIMIT ${REINDEX_BATCH}`.execute(db);
    const last = rows.rows.at(-1);
    if (last === undefined) break;
    after = last.id;
    const entries = rows.rows
      .filter((r) => !pending.has(r.id))
      .map((r) => [r.id, tokens(r.key, r.content), tokens(r.key, r.metadata)]);
    await sql`INSERT INTO message_search (rowid, content, metadata)
      SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(${JSON.stringify(entries)})`.execute(db);
    await afterBatch?.();
  }
}

/**
 * SQLite: the search index is keyed by session (docs/search-scoping.md). Each session with messages
 * gets a small integer key, assigned when its first message is indexed, and every trigram is indexed
 * as a token of its session (`sessionTokens`), so each session has doclists of its own: a search
 * reads only its session's doclists, and its cost grows with the session, not the database. (A
 * rowid range per session was measured first: FTS5 walks a doclist up to the range instead of
 * seeking it.) The global trigram counts of migration 0003 are no longer read and go.
 *
 * Existing entries are rebuilt here in the new layout: every message except those whose change the
 * index had not reached yet (the background catch-up takes those, as before). A large database pays
 * this once, at the start that upgrades it.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect !== 'sqlite') return;
  await sql`CREATE TABLE session_search_keys (key INTEGER PRIMARY KEY, session_id TEXT NOT NULL UNIQUE)`.execute(
    db,
  );
  await sql`DROP TABLE message_search_vocab`.execute(db);
  await sql`DROP TRIGGER messages_search_delete`.execute(db);
  await sql`DROP TABLE message_search`.execute(db);
  await sql.raw(MESSAGE_SEARCH_TABLE).execute(db);
  // FTS5 merges its segments inside the COMMIT of whichever insert crosses a threshold: a stall of
  // unbounded length. The index merges in bounded steps of its own instead (sqlite-search-index.ts).
  await sql`INSERT INTO message_search (message_search, rank) VALUES ('automerge', 0)`.execute(db);
  await sql`INSERT INTO session_search_keys (session_id)
    SELECT DISTINCT session_id FROM messages ORDER BY session_id`.execute(db);
  await reindexMessages(db, (key, text) => sessionTokens(key, text));
  // Deletes are rare (retention, session purge): a trigger keeps the index exact for them.
  await sql`CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.id; END`.execute(db);
}
