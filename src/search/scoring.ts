import type { MessageRow } from '../store/schema.js';
import { partialRatio } from './partial-ratio.js';
import { trigramsOf } from './search-index.js';

/**
 * RapidFuzz's partial_ratio (0–100) of a lower-cased query against a lower-cased text: the best
 * ratio of the query against any window of the text, every window tried (partial-ratio.ts), as
 * the SPEC defines fuzzy matching. fuzzball's partial_ratio, used before, tries only the windows
 * at difflib's matching blocks (and difflib's "autojunk" drops frequent characters from texts over
 * 200 characters), so it under-scored typo matches, and it cost tens of µs a message. A text
 * containing the query scores 100.
 */
function ratio(query: string, text: string): number {
  return partialRatio(query, text);
}

/** The search score: partial_ratio (0–100) of the query against the content, and the metadata when asked. */
export function scoreOf(row: MessageRow, query: string, withMetadata: boolean): number {
  const content = ratio(query, row.content.toLowerCase());
  if (!withMetadata || row.metadata === 'null' || content === 100) return content;
  return Math.max(content, ratio(query, row.metadata.toLowerCase()));
}

/**
 * The `keep` candidates most worth scoring, in their given order otherwise: partial_ratio costs a
 * few µs a message (more on long ones), so the index's candidates are first ranked by how many of
 * the query's trigrams they contain (a µs or two each) and only the best are scored.
 */
export function shortlist(
  rows: MessageRow[],
  query: string,
  withMetadata: boolean,
  keep: number,
): MessageRow[] {
  if (rows.length <= keep) return rows;
  const grams = trigramsOf(query);
  const overlap = (row: MessageRow): number => {
    const text = withMetadata ? `${row.content}\n${row.metadata}`.toLowerCase() : row.content.toLowerCase();
    if (text.includes(query)) return Number.MAX_SAFE_INTEGER;
    let n = 0;
    for (const gram of grams) if (text.includes(gram)) n++;
    return n;
  };
  return rows
    .map((row, order) => ({ row, order, n: overlap(row) }))
    .sort((a, b) => b.n - a.n || a.order - b.order)
    .slice(0, keep)
    .map((r) => r.row);
}
