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
): Promise<Record<string, string>> {
  const base = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...headers,
  };
  const init = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: base,
    body: JSON.stringify(RAW_INITIALIZE),
  });
  await init.text();
  const session = {
    ...base,
    'mcp-session-id': init.headers.get('mcp-session-id')!,
    'mcp-protocol-version': '2025-06-18',
  };
  const initialized = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: session,
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.text();
  return session;
}
