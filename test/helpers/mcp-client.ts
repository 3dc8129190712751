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
