import type { IncomingMessage, ServerResponse } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { headerValue, sendJson } from '../http/request.js';
import type { ClientBuffer } from './client-buffer.js';

const REPLAY_CAPACITY = 1000;
const KEEP_ALIVE_MS = 15_000;
/** How long a client waits before reconnecting a closed stream (the SSE `retry:` field). */
export const SSE_RETRY_MS = 1000;

/**
 * The server→client SSE stream (GET /mcp) of one 2025-era session, which carries its resource
 * notifications. Written here rather than through the SDK transport: a fan-out to a thousand
 * subscribers costs ~60 µs per notification through the SDK's web-stream and schema layers and
 * ~10 µs as one pre-formatted frame written to the socket (bench/fanout.bench.ts). Frames carry
 * per-session event ids; a client that reconnects with Last-Event-ID gets what it missed, and its
 * new stream replaces the old one (which a dropped connection may leave open on the server side).
 */
export class SessionStream {
  private res: ServerResponse | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private sequence = 0;
  private readonly recent: { id: number; frame: string }[] = [];

  /** Set once the session's id is known (after initialize). */
  sessionId = '';
  /** The protocol version the client asked for in initialize (for requests without the header). */
  protocolVersion: string | undefined;

  constructor(private readonly buffer: ClientBuffer) {}

  /** Takes over a GET /mcp request as this session's stream (answers the refusals itself). */
  attach(req: IncomingMessage, res: ServerResponse): void {
    if (!headerValue(req, 'accept')?.includes('text/event-stream')) {
      return rpcError(res, 406, 'Not Acceptable: Client must accept text/event-stream');
    }
    const version = headerValue(req, 'mcp-protocol-version');
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      return rpcError(res, 400, `Bad Request: Unsupported protocol version: ${version}`);
    }
    const lastEventId = parseEventId(headerValue(req, 'last-event-id'));
    if (this.res !== undefined) {
      if (lastEventId === undefined) {
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
      const from = Math.min(lastEventId ?? this.sequence, this.sequence);
      res.write(`id: ${from}\nretry: ${SSE_RETRY_MS}\ndata: \n\n`);
    }
    if (lastEventId !== undefined) {
      for (const event of this.recent) if (event.id > lastEventId && !res.destroyed) res.write(event.frame);
    }
    this.keepAlive = setInterval(() => res.write(': keepalive\n\n'), KEEP_ALIVE_MS);
    this.keepAlive.unref();
  }

  get open(): boolean {
    return this.res !== undefined;
  }

  /** Sends a JSON-RPC notification (kept for replay even while no stream is open). */
  send(notification: object): void {
    const id = ++this.sequence;
    const frame = `id: ${id}\nevent: message\ndata: ${JSON.stringify(notification)}\n\n`;
    this.recent.push({ id, frame });
    if (this.recent.length > REPLAY_CAPACITY) this.recent.shift();
    this.res?.write(frame);
  }

  close(): void {
    const res = this.res;
    if (res) {
      this.detach(res);
      res.end();
    }
  }

  private detach(res: ServerResponse): void {
    if (this.res !== res) return;
    this.res = undefined;
    clearInterval(this.keepAlive);
  }
}

/** This stream's event ids are plain sequence numbers; anything else belongs to the SDK's POST streams. */
export function parseEventId(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

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
