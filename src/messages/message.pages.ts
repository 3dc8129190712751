import { type PageInfo, jsonBytes, pageInfo, readPage } from '../core/paging.js';
import type { Db } from '../store/store.js';
import { type MessageFilter, listNewestVisibleMessages, listVisibleMessages } from './message.repository.js';
import { type MessageView, toMessageView } from './message.view.js';
import type { Viewer } from './visibility.js';

/** Newest messages, oldest first; `next_cursor` is the oldest id returned (older ones: `before_id`). */
export interface NewestMessages extends PageInfo<number> {
  messages: MessageView[];
}

/**
 * A page of visible messages in id order within `maxBytes`. It continues after `after_id` = its
 * `next_cursor` (offset 0): the first read applies the caller's offset, later reads go by id.
 */
export async function readMessagePage(
  db: Db,
  viewer: Viewer,
  filter: MessageFilter,
  page: { limit: number; offset?: number | undefined },
  maxBytes: number,
): Promise<PageInfo<number> & { messages: MessageView[] }> {
  const read = await readPage<MessageView>({
    limit: page.limit,
    maxBytes,
    sizeOf: jsonBytes,
    next: async (last, n) =>
      (
        await listVisibleMessages(db, viewer, last === undefined ? filter : { ...filter, afterId: last.id }, {
          limit: n,
          offset: last === undefined ? page.offset : 0,
        })
      ).map(toMessageView),
  });
  return { messages: read.items, ...pageInfo(read, (m) => m.id) };
}

/**
 * The newest `limit` visible messages that fit `maxBytes` (the newest win), returned oldest first.
 * `has_more`: older ones exist; `next_cursor` is then the oldest id returned, to pass as `before_id`.
 */
export async function readNewestMessages(
  db: Db,
  viewer: Viewer,
  filter: MessageFilter,
  limit: number,
  maxBytes: number,
): Promise<NewestMessages> {
  const read = await readPage<MessageView>({
    limit,
    maxBytes,
    sizeOf: jsonBytes,
    next: async (last, n) =>
      (
        await listNewestVisibleMessages(
          db,
          viewer,
          last === undefined ? filter : { ...filter, beforeId: last.id },
          n,
        )
      ).map(toMessageView),
  });
  const info = pageInfo(read, (m) => m.id);
  return { messages: read.items.reverse(), ...info };
}
