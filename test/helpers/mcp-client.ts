import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

export type ToolJson = Record<string, unknown> & { success: boolean };

/** The official v2 SDK client over Streamable HTTP, with fixed headers (e.g. Authorization). */
export async function connectMcp(
  url: string,
  headers: Record<string, string> = {},
  mode: 'legacy' | 'auto' = 'legacy',
): Promise<Client> {
  const client = new Client(
    { name: 'scs-test', version: '1.0.0' },
    mode === 'auto' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }),
  );
  return client;
}

/** Calls a tool and returns the JSON body of its result (success or failure) plus isError. */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ json: ToolJson; isError: boolean }> {
  const result = await client.callTool({ name, arguments: args });
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  const json = JSON.parse(first?.text ?? '{}') as ToolJson;
  return { json, isError: result.isError === true };
}

/** The JSON-RPC `initialize` of a 2025-era client, for tests that speak the wire protocol by hand. */
export const RAW_INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
} as const;

/**
 * Opens a 2025-era MCP session by hand (initialize, then notifications/initialized) and returns the
 * headers every later request of that session carries.
 */
export async function openRawSession(
  url: string,
  headers: Record<string, string>,
  protocolVersion = '2025-06-18',
): Promise<Record<string, string>> {
  const base = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...headers,
  };
  const init = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: base,
    body: JSON.stringify({ ...RAW_INITIALIZE, params: { ...RAW_INITIALIZE.params, protocolVersion } }),
  });
  await init.text();
  if (!init.ok) throw new Error(`initialize failed with HTTP ${init.status}`);
  const session = {
    ...base,
    'mcp-session-id': init.headers.get('mcp-session-id')!,
    'mcp-protocol-version': protocolVersion,
  };
  const initialized = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: session,
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.text();
  return session;
}

export interface RpcReply {
  status: number;
  headers: Headers;
  /** The JSON-RPC response (from a JSON body or the last answering SSE event), if any. */
  body: {
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: Record<string, unknown> };
  };
}

/** POSTs one JSON-RPC message (or batch) to /mcp and reads the reply, JSON or SSE alike. */
export async function postMcp(
  url: string,
  headers: Record<string, string>,
  message: unknown,
): Promise<RpcReply> {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(message),
  });
  const text = await res.text();
  let body: RpcReply['body'] = {};
  if (res.headers.get('content-type')?.includes('text/event-stream')) {
    for (const line of text.split('\n')) {
      if (!line.startsWith('data: ') || line.length <= 6) continue;
      const event = JSON.parse(line.slice(6)) as RpcReply['body'] | RpcReply['body'][];
      const reply = Array.isArray(event) ? event[0] : event;
      if (reply && ('result' in reply || 'error' in reply)) body = reply;
    }
  } else if (text.length > 0) {
    body = JSON.parse(text) as RpcReply['body'];
  }
  return { status: res.status, headers: res.headers, body };
}

/** The JSON body of a tool result in a JSON-RPC reply, plus isError. */
export function toolJson(reply: RpcReply): { json: ToolJson; isError: boolean } {
  const result = reply.body.result as { content?: { text?: string }[]; isError?: boolean } | undefined;
  return {
    json: JSON.parse(result?.content?.[0]?.text ?? '{}') as ToolJson,
    isError: result?.isError === true,
  };
}

/** A tools/call JSON-RPC request. */
export const toolCall = (name: string, args: Record<string, unknown>, id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

/**
 * Reads an SSE response until `done(text)` holds, the stream ends, or `ms` pass; returns the text
 * and whether the stream ended. Bounded wait, not a timing assertion.
 */
export async function readSse(
  res: Response,
  done: (text: string) => boolean,
  ms = 5000,
): Promise<{ text: string; ended: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void reader.cancel().catch(() => undefined);
  }, ms);
  try {
    while (!done(text)) {
      const { value, done: finished } = await reader.read();
      if (finished) {
        ended = !timedOut;
        break;
      }
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    ended = !timedOut;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return { text, ended };
}
