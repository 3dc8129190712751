import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { answerLoopDelayCommands } from './loop-delay.js';

/**
 * The HTTP half of a bare baseline (bare-baseline.ts on SQLite, bare-pg-baseline.ts on
 * PostgreSQL): a plain node:http server, no framework, no MCP, no auth, that parses the same JSON
 * body as add_message and hands it to the baseline's insert. Runs as a benchmark child: prints
 * `{ url, ...info }` on stdout once it listens, stops on SIGTERM/SIGINT or when stdin closes.
 *
 * POST /add_message  {"session_id", "content", "visibility"?, "message_type"?, "metadata"?}
 *   → {"success": true, "message_id": n, "timestamp": iso}
 */

export interface BareBody {
  session_id?: unknown;
  content?: unknown;
  visibility?: unknown;
  message_type?: unknown;
  metadata?: unknown;
}

export interface BareRow {
  id: number;
  created_at: number;
}

/** A synchronous insert (better-sqlite3) answers in the same turn; an asynchronous one (pg) when it settles. */
export type BareInsert = (
  body: BareBody & { session_id: string; content: string },
) => BareRow | Promise<BareRow>;

/**
 * The message row's values, in the order (session_id, sender, content, visibility, message_type,
 * metadata, created_at), with add_message's defaults.
 */
export function rowValues(
  body: BareBody,
  sender: string,
): [string, string, unknown, string, string, string, number] {
  return [
    String(body.session_id),
    sender,
    body.content,
    typeof body.visibility === 'string' ? body.visibility : 'public',
    typeof body.message_type === 'string' ? body.message_type : 'agent_response',
    JSON.stringify(body.metadata ?? null),
    Date.now(),
  ];
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const ok = (res: ServerResponse, row: BareRow): void =>
  send(res, 200, {
    success: true,
    message_id: row.id,
    timestamp: new Date(row.created_at).toISOString(),
  });

const failed = (res: ServerResponse, error: unknown): void =>
  send(res, 500, { success: false, error: error instanceof Error ? error.message : String(error) });

function handle(insert: BareInsert, req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
  if (req.method !== 'POST' || req.url !== '/add_message') return send(res, 404, { success: false });
  let body: BareBody;
  try {
    body = JSON.parse(raw.toString('utf8')) as BareBody;
  } catch {
    return send(res, 400, { success: false, error: 'invalid JSON' });
  }
  if (typeof body.session_id !== 'string' || typeof body.content !== 'string' || body.content.length === 0) {
    return send(res, 400, { success: false, error: 'session_id and content are required' });
  }
  try {
    const row = insert(body as BareBody & { session_id: string; content: string });
    if (row instanceof Promise)
      row.then(
        (r) => ok(res, r),
        (error: unknown) => failed(res, error),
      );
    else ok(res, row);
  } catch (error) {
    failed(res, error);
  }
}

/** Serves `insert` on 127.0.0.1 (a free port); `close` releases the baseline's database on stop. */
export function serveBare(
  insert: BareInsert,
  info: Record<string, unknown>,
  close: () => Promise<void>,
): void {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(insert, req, res, Buffer.concat(chunks)));
  });
  server.keepAliveTimeout = 65_000;

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close();
    server.closeAllConnections();
    close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();

  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, ...info })}\n`);
    answerLoopDelayCommands();
  });
}
