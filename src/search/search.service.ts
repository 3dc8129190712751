import { AppError } from '../core/errors.js';
import { DEFAULT_MAX_REPLY_BYTES, type PageInfo, jsonBytes, pageInfo, takePage } from '../core/paging.js';
import { requireSession } from '../sessions/session.service.js';
import { type MessageView, toMessageView } from '../messages/message.view.js';
import { type NewestMessages, readMessagePage, readNewestMessages } from '../messages/message.pages.js';
import type { Viewer, Visibility } from '../messages/visibility.js';
import type { Db } from '../store/store.js';
import type { SearchIndex } from './search-index.js';
import { scoreOf, shortlist } from './scoring.js';

export const SEARCH_SCOPES = ['all', 'public', 'private'] as const;
export type SearchScope = (typeof SEARCH_SCOPES)[number];

/** How many candidates the index returns, at least: the pool the shortlist picks from. */
const MIN_CANDIDATES = 100;
/** How many of them the fuzzy scorer scores, at least (partial_ratio costs tens of µs each). */
const MIN_SCORED = 40;
const PREVIEW_CHARS = 160;

export interface SearchResult {
  message: MessageView;
  score: number;
  match_preview: string;
  relevance: 'high' | 'medium' | 'low';
}

const relevance = (score: number): SearchResult['relevance'] =>
  score >= 85 ? 'high' : score >= 70 ? 'medium' : 'low';

/** A window of the content around the first (case-insensitive) occurrence of the query, else its start. */
export function matchPreview(content: string, query: string): string {
  const at = content.toLowerCase().indexOf(query);
  if (content.length <= PREVIEW_CHARS) return content;
  const start = at < 0 ? 0 : Math.max(0, at - Math.floor((PREVIEW_CHARS - query.length) / 2));
  const end = Math.min(content.length, start + PREVIEW_CHARS);
  return `${start > 0 ? '…' : ''}${content.slice(start, end)}${end < content.length ? '…' : ''}`;
}

/** search_context cursors: "<score>:<message id>" of the last result, in (score desc, id desc) order. */
const cursorOf = (r: SearchResult) => `${r.score}:${r.message.id}`;

function decodeCursor(cursor: string): { score: number; id: number } {
  const match = /^(\d+(?:\.\d+)?):(\d+)$/.exec(cursor);
  if (match === null) {
    throw new AppError(
      'INVALID_INPUT',
      'cursor is not one this server returned: pass next_cursor from a previous search_context with the same query.',
    );
  }
  return { score: Number(match[1]), id: Number(match[2]) };
}

export class SearchService {
  constructor(
    private readonly db: Db,
    private readonly index: SearchIndex,
    /** MAX_REPLY_BYTES: results end early beyond it (one always comes back). */
    private readonly maxReplyBytes = DEFAULT_MAX_REPLY_BYTES,
  ) {}

  async searchContext(
    viewer: Viewer,
    input: {
      sessionId: string;
      query: string;
      fuzzyThreshold: number;
      limit: number;
      searchMetadata: boolean;
      scope: SearchScope;
      /** next_cursor of the previous page: results ranked after it. */
      cursor?: string | undefined;
    },
  ): Promise<
    {
      results: SearchResult[];
      query: string;
      threshold: number;
      search_time_ms: number;
      candidates: number;
    } & PageInfo<string>
  > {
    const started = performance.now();
    const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
    const query = input.query.trim().toLowerCase();
    if (query.length === 0)
      throw new AppError('INVALID_INPUT', 'query is empty: give at least one non-space character.');
    await requireSession(this.db, input.sessionId);
    await this.index.catchUp(this.db);
    const visibility: Visibility | undefined = input.scope === 'all' ? undefined : input.scope;
    const candidates = await this.index.candidates(this.db, {
      sessionId: input.sessionId,
      viewer,
      query,
      visibility,
      searchMetadata: input.searchMetadata,
      limit: Math.max(MIN_CANDIDATES, input.limit * 10),
    });
    const scored = shortlist(candidates, query, input.searchMetadata, Math.max(MIN_SCORED, input.limit * 4))
      .map((row) => ({ row, score: scoreOf(row, query, input.searchMetadata) }))
      .filter((s) => s.score >= input.fuzzyThreshold)
      .filter(
        (s) =>
          after === undefined ||
          s.score < after.score ||
          (s.score === after.score && Number(s.row.id) < after.id),
      )
      .sort((a, b) => b.score - a.score || Number(b.row.id) - Number(a.row.id));
    // Only the results that can still fit are built; each is sized once, as it is added.
    const page = takePage(
      scored.slice(0, input.limit + 1).map(({ row, score }): SearchResult => ({
        message: toMessageView(row),
        score,
        match_preview: matchPreview(row.content, query),
        relevance: relevance(score),
      })),
      input.limit,
      this.maxReplyBytes,
      jsonBytes,
    );
    return {
      results: page.items,
      ...pageInfo(page, cursorOf),
      query: input.query,
      threshold: input.fuzzyThreshold,
      search_time_ms: Math.round((performance.now() - started) * 100) / 100,
      candidates: candidates.length,
    };
  }

  /** The newest visible messages of one sender, oldest first; `before_id` pages back to older ones. */
  async bySender(
    viewer: Viewer,
    sessionId: string,
    sender: string,
    limit: number,
    beforeId?: number | undefined,
  ): Promise<NewestMessages> {
    await requireSession(this.db, sessionId);
    return readNewestMessages(this.db, viewer, { sessionId, sender, beforeId }, limit, this.maxReplyBytes);
  }

  /** Visible messages written in [start, end], in id order; `after_id` = next_cursor continues. */
  async byTimeRange(
    viewer: Viewer,
    sessionId: string,
    start: number,
    end: number,
    limit: number,
    afterId?: number | undefined,
  ): Promise<{ messages: MessageView[] } & PageInfo<number>> {
    if (end < start) throw new AppError('INVALID_INPUT', 'end_time is before start_time.');
    await requireSession(this.db, sessionId);
    return readMessagePage(
      this.db,
      viewer,
      { sessionId, startTime: start, endTime: end, afterId },
      { limit },
      this.maxReplyBytes,
    );
  }
}
