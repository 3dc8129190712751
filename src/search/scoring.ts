import { partial_ratio } from 'fuzzball';
import type { MessageRow } from '../store/schema.js';
import { trigramsOf } from './search-index.js';

/** partial_ratio (0–100) of a lower-cased query against a lower-cased text. */
function ratio(query: string, text: string): number {
  // A text containing the query is its best partial match: 100, by partial_ratio's definition.
  // fuzzball can return less for texts over 200 characters (difflib's "autojunk" drops frequent
  // characters from the alignment), and checking first also spares the alignment.
  if (text.includes(query)) return 100;
  return partial_ratio(query, text, { full_process: false });
}

/** The search score: partial_ratio (0–100) of the query against the content, and the metadata when asked. */
export function scoreOf(row: MessageRow, query: string, withMetadata: boolean): number {
  const content = ratio(query, row.content.toLowerCase());
  if (!withMetadata || row.metadata === 'null' || content === 100) return content;
  return Math.max(content, ratio(query, row.metadata.toLowerCase()));
}

/**
 * The `keep` candidates most worth scoring, in their given order otherwise: partial_ratio costs
 * tens of µs a message, so the index's candidates are first ranked by how many of the query's
 * trigrams they contain (a µs or two each) and only the best are scored.
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
