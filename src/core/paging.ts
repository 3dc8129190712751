/**
 * Cursor paging over rows fetched with `limit + 1`: the extra row only says there is more.
 * `next_cursor` is the id of the last item returned, to pass back as `after_id`.
 */
export function idPage<T extends { id: number }>(
  items: T[],
  limit: number,
): { items: T[]; count: number; has_more: boolean; next_cursor: number | null } {
  const hasMore = items.length > limit;
  const page = items.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page,
    count: page.length,
    has_more: hasMore,
    next_cursor: hasMore && last ? last.id : null,
  };
}
