/**
 * Pages of list replies, bounded twice: by the caller's `limit` and by a byte budget
 * (MAX_REPLY_BYTES), so one reply never grows without bound. A page always holds at least one item
 * (an item larger than the budget comes back alone), so a caller following the cursor always
 * progresses.
 */

/** The default of MAX_REPLY_BYTES, for services constructed without one. */
export const DEFAULT_MAX_REPLY_BYTES = 1_048_576;

/** What every budgeted page reports besides its items. */
export interface PageInfo<C> {
  count: number;
  has_more: boolean;
  next_cursor: C | null;
  /** True when the page ended early because its items reached the reply byte budget. */
  truncated_by_bytes: boolean;
}

export interface Page<T> {
  items: T[];
  has_more: boolean;
  truncated_by_bytes: boolean;
}

/** The paging fields of a page whose cursor is a function of its last item. */
export function pageInfo<T, C>(page: Page<T>, cursorOf: (last: T) => C): PageInfo<C> {
  const last = page.items.at(-1);
  return {
    count: page.items.length,
    has_more: page.has_more,
    next_cursor: page.has_more && last !== undefined ? cursorOf(last) : null,
    truncated_by_bytes: page.truncated_by_bytes,
  };
}

// What makes JSON.stringify's UTF-8 output differ from the string's own UTF-8 bytes plus two quotes:
// characters it escapes, and lone surrogates (written as \uXXXX; a well-formed pair stays 4 bytes).
const ESCAPED = /["\\\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** UTF-8 bytes of `JSON.stringify(text)`, exactly; without a second copy of the text when nothing is escaped. */
export function jsonStringBytes(text: string): number {
  return ESCAPED.test(text) ? Buffer.byteLength(JSON.stringify(text)) : Buffer.byteLength(text) + 2;
}

/**
 * UTF-8 bytes of `JSON.stringify(value)`, computed without building that string: exact for JSON
 * data, never lower than the truth otherwise (an `undefined` property counts as `null`).
 */
export function jsonBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return jsonStringBytes(value);
    case 'number':
      return Number.isFinite(value) ? String(value).length : 4;
    case 'boolean':
      return value ? 4 : 5;
    case 'object': {
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let n = 1 + Math.max(1, value.length);
        for (const item of value) n += jsonBytes(item);
        return n;
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return jsonBytes(toJSON.call(value));
      const keys = Object.keys(value);
      let n = 1 + Math.max(1, keys.length);
      for (const key of keys)
        n += jsonStringBytes(key) + 1 + jsonBytes((value as Record<string, unknown>)[key]);
      return n;
    }
    default:
      return 4;
  }
}

/**
 * The leading items of an in-memory list that fit `limit` and `maxBytes` (at least one).
 * `has_more` says items were left out, for either reason.
 */
export function takePage<T>(
  items: readonly T[],
  limit: number,
  maxBytes: number,
  sizeOf: (item: T) => number,
): Page<T> {
  const page: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (page.length === limit) return { items: page, has_more: true, truncated_by_bytes: false };
    const size = sizeOf(item);
    if (page.length > 0 && bytes + size > maxBytes)
      return { items: page, has_more: true, truncated_by_bytes: true };
    page.push(item);
    bytes += size;
  }
  return { items: page, has_more: false, truncated_by_bytes: false };
}

/** Rows read by the first query of a page; later reads are sized from the bytes seen so far. */
const FIRST_READ = 100;

/**
 * Reads a page in chunks (keyset: `next(last, n)` returns the `n` items after `last`, in page order)
 * until it holds `limit` items or the next one would pass `maxBytes`, and reads one item past a
 * full page to know whether there is more. The rows held at once stay near the budget: a page of
 * 1,000 large rows is not loaded to return ten of them. Each item is sized once, as it is added.
 */
export async function readPage<T>(spec: {
  limit: number;
  maxBytes: number;
  sizeOf: (item: T) => number;
  next: (last: T | undefined, n: number) => Promise<T[]>;
}): Promise<Page<T>> {
  const { limit, maxBytes, sizeOf } = spec;
  const items: T[] = [];
  let bytes = 0;
  let last: T | undefined;
  let want = Math.min(limit + 1, FIRST_READ);
  for (;;) {
    const chunk = await spec.next(last, want);
    for (const item of chunk) {
      if (items.length === limit) return { items, has_more: true, truncated_by_bytes: false };
      const size = sizeOf(item);
      if (items.length > 0 && bytes + size > maxBytes)
        return { items, has_more: true, truncated_by_bytes: true };
      items.push(item);
      bytes += size;
    }
    if (chunk.length < want) return { items, has_more: false, truncated_by_bytes: false };
    last = chunk.at(-1);
    // As many as the remaining budget holds at the average size so far, plus the one that tells.
    const fit = Math.ceil(Math.max(0, maxBytes - bytes) / Math.max(1, bytes / Math.max(1, items.length)));
    want = Math.max(1, Math.min(limit + 1 - items.length, fit + 1));
  }
}
