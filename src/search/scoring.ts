import type { MessageRow } from '../store/schema.js';
import { partialRatio } from './partial-ratio.js';
import { trigramsOf } from './search-index.js';

/**
 * The search score: partial_ratio (0–100, partial-ratio.ts) of the lower-cased query against the
 * lower-cased content, and the metadata when asked — the best ratio of the query against any
 * window of the text as long as it, as the SPEC defines fuzzy matching; a text containing the
 * query scores 100.
 */
export function scoreOf(row: MessageRow, query: string, withMetadata: boolean): number {
  const content = partialRatio(query, row.content.toLowerCase());
  if (!withMetadata || row.metadata === 'null' || content === 100) return content;
  return Math.max(content, partialRatio(query, row.metadata.toLowerCase()));
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
