import { type RawBuilder, sql } from 'kysely';
import { visibleTo } from '../../messages/visibility.js';
import type { CandidateQuery, SearchIndex } from '../../search/search-index.js';
import { sessionWordTokens, wordsOfText } from '../migrations/0011-word-search.js';
import type { MessageRow } from '../schema.js';
import type { Db } from '../store.js';
import { SearchVocabulary } from './search-vocabulary.js';

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
/** Words of the vocabulary tried for each word of a query, closest first. */
const VARIANTS = 8;
/** Phrases of variants tried for a query of several words (the closest combinations first). */
const PHRASES = 16;

/** An FTS5 phrase of a session's words, which matches where they follow each other. */
const phraseOf = (key: number, words: readonly string[]): string => `"${sessionWordTokens(key, words)}"`;
const anyOf = (expressions: string[]): string => `(${expressions.join(' OR ')})`;
const allOf = (expressions: string[]): string => `(${expressions.join(' AND ')})`;

/** Up to `limit` combinations of one variant per word, the closest (fewest edits in all) first. */
function combinations(groups: string[][], edits: number[][], limit: number): string[][] {
  let out: Array<{ words: string[]; edits: number }> = [{ words: [], edits: 0 }];
  groups.forEach((group, g) => {
    const next: Array<{ words: string[]; edits: number }> = [];
    for (const prefix of out)
      group.forEach((word, v) =>
        next.push({ words: [...prefix.words, word], edits: prefix.edits + edits[g]![v]! }),
      );
    out = next.sort((a, b) => a.edits - b.edits).slice(0, limit);
  });
  return out.map((c) => c.words);
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * SQLite FTS5 over the words of message content and metadata, each indexed as a token of its
 * session (migrations 0009 and 0011, docs/search-scoping.md): a search reads only its session's
 * doclists, so its cost grows with the session, not the database. Typos are corrected against the
 * session's vocabulary before the index is asked. The table is contentless and fed from the
 * change feed in small slices that yield to the event loop between them; a search first catches
 * the index up, so a confirmed message is always searchable.
 */
export class SqliteSearchIndex implements SearchIndex {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private merging = false;
  private sliceSize = SLICE_MIN;
  private readonly vocabulary = new SearchVocabulary();

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
        const vocabularies = await this.vocabulary.of(trx, new Set(rows.rows.map((r) => r.key)));
        const fresh = new Map<string, [number, string]>();
        const tokens = (key: number, text: string): string => {
          const words = wordsOfText(text);
          const known = vocabularies.get(key)!.words;
          for (const word of words) if (!known.has(word)) fresh.set(`${key} ${word}`, [key, word]);
          return sessionWordTokens(key, words);
        };
        const entries = rows.rows.map((r) => [r.id, tokens(r.key, r.content), tokens(r.key, r.metadata)]);
        await sql`INSERT INTO message_search (rowid, content, metadata)
          SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(${JSON.stringify(entries)})`.execute(
          trx,
        );
        // New words join the session's vocabulary (the next use reads them back into memory).
        if (fresh.size > 0)
          await sql`INSERT OR IGNORE INTO session_search_words (key, word)
            SELECT value ->> 0, value ->> 1 FROM json_each(${JSON.stringify([...fresh.values()])})`.execute(
            trx,
          );
      }
      await sql`UPDATE search_index_state SET last_id = ${upTo} WHERE name = 'changes'`.execute(trx);
      return n;
    });
  }

  /**
   * Up to `limit` visible messages of the session, best first, in tiers, each newest first (FTS5
   * walks the session's doclists backwards and stops at the limit — no tier scores every hit): the
   * query's words as a phrase (these contain the query); phrases of the words the session's
   * vocabulary offers for them (the word itself, words holding it, one- or two-edit typos of it);
   * messages holding such a word for every word of the query; then for any word.
   */
  async candidates(db: Db, q: CandidateQuery): Promise<MessageRow[]> {
    const scope = q.visibility === undefined ? sql`` : sql`AND messages.visibility = ${q.visibility}`;
    const words = wordsOfText(q.query);
    if (q.query.length < 3 || words.length === 0) return this.scan(db, q, scope);
    const key = await this.keyOf(db, q.sessionId);
    if (key === undefined) return [];
    const vocabulary = (await this.vocabulary.of(db, [key])).get(key)!;
    const variants = words.map((word) => vocabulary.variants(word, VARIANTS));
    const groups = variants.filter((v) => v.length > 0);
    if (groups.length === 0) return [];
    const column = q.searchMetadata ? '' : 'content : ';
    const found = new Map<number, MessageRow>();
    const take = async (expression: string): Promise<void> => {
      if (found.size >= q.limit) return;
      // Each tier asks for `limit` rows and keeps the new ones.
      for (const row of await this.match(db, q, `${column}${expression}`, scope)) {
        if (found.size >= q.limit) break;
        if (!found.has(row.id)) found.set(row.id, row);
      }
    };
    // 1. The query's words as they are, in order (a word the session has comes first among its variants).
    if (variants.every((v, i) => v[0]?.word === words[i])) await take(phraseOf(key, words));
    // 2. Phrases of the closest variants of each word (words the session does not have are left out).
    const phrases = combinations(
      groups.map((g) => g.map((v) => v.word)),
      groups.map((g) => g.map((v) => v.edits)),
      PHRASES,
    );
    await take(anyOf(phrases.map((p) => phraseOf(key, p))));
    if (groups.length > 1) {
      const each = groups.map((g) => anyOf(g.map((v) => phraseOf(key, [v.word]))));
      // 3. A variant of every word anywhere in the message; 4. of any word.
      await take(allOf(each));
      await take(anyOf(each));
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

  /** The newest `q.limit` visible messages matching an FTS5 expression. */
  private async match(
    db: Db,
    q: CandidateQuery,
    expression: string,
    scope: RawBuilder<unknown>,
  ): Promise<MessageRow[]> {
    // The session's tokens already confine the match to it; session_id guards the join all the same.
    const rows = await sql<MessageRow>`SELECT messages.* FROM message_search
      JOIN messages ON messages.id = message_search.rowid
      WHERE message_search MATCH ${expression}
        AND messages.session_id = ${q.sessionId} AND ${visibleTo(q.viewer)} ${scope}
      ORDER BY message_search.rowid DESC LIMIT ${q.limit}`.execute(db);
    return rows.rows;
  }

  /** Under three characters (or without a letter or digit) a bounded substring scan of the session. */
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
