/**
 * Thread order for a window of messages: each message is followed by its replies (depth first, in id
 * order), so a reply sits indented under its parent when the parent is loaded; a reply whose parent is
 * outside the window stays at its own place, at depth 0.
 */
import type { Message } from './types.js';

export interface Placed {
  message: Message;
  depth: number;
}

/** Replies deeper than this are drawn at this depth, so a long chain stays readable on a phone. */
const MAX_DEPTH = 4;

export function threadOrder(messages: readonly Message[]): Placed[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const children = new Map<number, Message[]>();
  const roots: Message[] = [];
  for (const m of [...messages].sort((a, b) => a.id - b.id)) {
    const parent = m.parent_message_id;
    if (parent !== null && parent !== m.id && byId.has(parent)) {
      const list = children.get(parent) ?? [];
      list.push(m);
      children.set(parent, list);
    } else roots.push(m);
  }
  const out: Placed[] = [];
  const seen = new Set<number>();
  // An explicit stack: a chain of thousands of replies must not overflow the call stack.
  const stack: Placed[] = roots.reverse().map((message) => ({ message, depth: 0 }));
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (seen.has(item.message.id)) continue;
    seen.add(item.message.id);
    out.push({ message: item.message, depth: Math.min(item.depth, MAX_DEPTH) });
    const kids = children.get(item.message.id) ?? [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ message: kids[i]!, depth: item.depth + 1 });
  }
  // A parent always precedes its reply, so no message is left out; this guards a malformed chain.
  for (const m of messages) if (!seen.has(m.id)) out.push({ message: m, depth: 0 });
  return out;
}
