import type { IncomingMessage, ServerResponse } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { headerValue, sendJson } from '../http/request.js';
import type { ClientBuffer } from './client-buffer.js';
import { type EventPosition, parseEventPosition } from '../../realtime/resource-subscriptions.js';

const KEEP_ALIVE_MS = 15_000;
/** How long a client waits before reconnecting a closed stream (the SSE `retry:` field). */
export const SSE_RETRY_MS = 1000;
/** Live notifications held while a resumed stream's replay is read; past it the stream closes (the client resumes again). */
const MAX_HELD = 10_000;

/** Where a resumed stream finds what it missed: the change feed, through the subscription registry. */
export interface StreamHistory {
  /** The feed's position now: a stream that starts here missed nothing before it. */
  position(): number;
  /** One notification per URI the session's subscriptions saw change after `from`, oldest first. */
  replay(from: EventPosition): Promise<{ head: number; missed: { uri: string; eventId: string }[] }>;
}

/**
 * The server→client SSE stream (GET /mcp) of one 2025-era session, which carries its resource
 * notifications. Written here rather than through the SDK transport: a fan-out to a thousand
 * subscribers costs ~60 µs per notification through the SDK's web-stream and schema layers and
 * ~10 µs as one pre-formatted frame written to the socket (bench/fanout.bench.ts).
 *
 * Event ids are change-feed cursors (see ResourceSubscriptions), so nothing is kept per session
 * for replay: a client that reconnects with Last-Event-ID gets, from the feed, one notification for
 * each URI that changed after it, then the live ones; its new stream replaces the old one (which a
 * dropped connection may leave open on the server side).
 */
export class SessionStream {
  private res: ServerResponse | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  /** Live frames that arrive while a resumed stream's replay is read. */
  private held: Array<{ frame: string; cursor: number }> | undefined;

  /** Set once the session's id is known (after initialize). */
  sessionId = '';
  /** The protocol version the client asked for in initialize (for requests without the header). */
  protocolVersion: string | undefined;

  constructor(
    private readonly buffer: ClientBuffer,
    private readonly history: StreamHistory,
  ) {}

  /** Takes over a GET /mcp request as this session's stream (answers the refusals itself). */
  attach(req: IncomingMessage, res: ServerResponse): void {
    if (!headerValue(req, 'accept')?.includes('text/event-stream')) {
      return rpcError(res, 406, 'Not Acceptable: Client must accept text/event-stream');
    }
    const version = headerValue(req, 'mcp-protocol-version');
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      return rpcError(res, 400, `Bad Request: Unsupported protocol version: ${version}`);
    }
    const lastEventId = headerValue(req, 'last-event-id');
    const from = parseEventPosition(lastEventId);
    if (this.res !== undefined) {
      if (from === undefined) {
        return rpcError(res, 409, 'Conflict: Only one SSE stream is allowed per session');
      }
      this.close();
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'mcp-session-id': this.sessionId,
    });
    res.flushHeaders();
    this.buffer.track(res);
    this.res = res;
    res.once('close', () => this.detach(res));
    if (primes(version ?? this.protocolVersion)) {
      // The priming event names the point this stream starts from, so a reconnect with it misses nothing.
      const id = from !== undefined ? lastEventId : String(this.history.position());
      res.write(`id: ${id}\nretry: ${SSE_RETRY_MS}\ndata: \n\n`);
    }
    if (from !== undefined) this.resume(res, from);
    this.keepAlive = setInterval(() => res.write(': keepalive\n\n'), KEEP_ALIVE_MS);
    this.keepAlive.unref();
  }

  get open(): boolean {
    return this.res !== undefined;
  }

  /** Sends a JSON-RPC notification with its event id; with no stream open it is not kept (replay reads the feed). */
  send(notification: object, eventId: string): void {
    if (this.res === undefined) return;
    const frame = `id: ${eventId}\nevent: message\ndata: ${JSON.stringify(notification)}\n\n`;
    if (this.held === undefined) {
      this.res.write(frame);
    } else if (
      this.held.push({ frame, cursor: parseEventPosition(eventId)?.cursor ?? Infinity }) > MAX_HELD
    ) {
      this.close();
    }
  }

  close(): void {
    const res = this.res;
    if (res) {
      this.detach(res);
      res.end();
    }
  }

  /** Writes what the client missed after `from`, then what arrived meanwhile. */
  private resume(res: ServerResponse, from: EventPosition): void {
    const held: Array<{ frame: string; cursor: number }> = [];
    this.held = held;
    this.history
      .replay(from)
      .then(({ head, missed }) => {
        if (this.res !== res) return;
        for (const { uri, eventId } of missed) {
          res.write(`id: ${eventId}\nevent: message\ndata: ${JSON.stringify(resourceUpdated(uri))}\n\n`);
        }
        // What arrived live up to the replay's head is in the replay already.
        for (const { frame, cursor } of held) if (cursor > head) res.write(frame);
        this.held = undefined;
      })
      .catch(() => {
        // The client reconnects (retry:) with the same Last-Event-ID and tries again.
        if (this.res === res) this.close();
      });
  }

  private detach(res: ServerResponse): void {
    if (this.res !== res) return;
    this.res = undefined;
    this.held = undefined;
    clearInterval(this.keepAlive);
  }
}

/** The notification that tells a client to read `uri` again. */
export const resourceUpdated = (uri: string) => ({
  jsonrpc: '2.0',
  method: 'notifications/resources/updated',
  params: { uri },
});

/**
 * Empty-data priming events arrived with protocol 2025-11-25; older clients try to parse the empty
 * data as JSON, so they get none (the SDK transport draws the same line for POST streams).
 */
function primes(version: string | undefined): boolean {
  return version !== undefined && SUPPORTED_PROTOCOL_VERSIONS.includes(version) && version >= '2025-11-25';
}

function rpcError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}
