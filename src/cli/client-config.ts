/** Snippets that connect common MCP clients to a running server. */
export const CLIENTS = [
  'claude-code',
  'claude-desktop',
  'cursor',
  'vscode',
  'windsurf',
  'gemini-cli',
  'codex',
  'generic',
] as const;
export type ClientName = (typeof CLIENTS)[number];

export interface ClientConfigInput {
  url: string;
  apiKey: string;
  agentId: string;
  /** The checkout this server runs from and its data directory (for stdio clients). */
  repoDir: string;
  dataDir: string;
}

export function clientConfig(
  client: ClientName,
  { url, apiKey, agentId, repoDir, dataDir }: ClientConfigInput,
): string {
  const mcpUrl = `${url}/mcp`;
  const headers = { 'X-API-Key': apiKey, 'X-Agent-Id': agentId };
  switch (client) {
    case 'claude-code':
      return `claude mcp add --transport http shared-context ${mcpUrl} --header "X-API-Key: ${apiKey}" --header "X-Agent-Id: ${agentId}"`;
    case 'vscode':
      return JSON.stringify(
        { servers: { 'shared-context': { type: 'http', url: mcpUrl, headers } } },
        null,
        2,
      );
    case 'claude-desktop':
      return JSON.stringify(
        {
          mcpServers: {
            'shared-context': {
              command: `${repoDir}/node_modules/.bin/tsx`,
              args: [`${repoDir}/src/cli/main.ts`, 'stdio'],
              env: { DATA_DIR: dataDir, SCS_AGENT_ID: agentId },
            },
          },
        },
        null,
        2,
      );
    case 'gemini-cli':
      // ~/.gemini/settings.json: `httpUrl` is Streamable HTTP (`url` would mean the old SSE transport).
      return JSON.stringify({ mcpServers: { 'shared-context': { httpUrl: mcpUrl, headers } } }, null, 2);
    case 'codex':
      // ~/.codex/config.toml: a Streamable HTTP server is a `url`; fixed headers go in `http_headers`.
      return [
        '[mcp_servers.shared-context]',
        `url = ${tomlString(mcpUrl)}`,
        `http_headers = { ${Object.entries(headers)
          .map(([name, value]) => `${tomlString(name)} = ${tomlString(value)}`)
          .join(', ')} }`,
      ].join('\n');
    case 'cursor':
    case 'windsurf':
    case 'generic':
      return JSON.stringify({ mcpServers: { 'shared-context': { url: mcpUrl, headers } } }, null, 2);
  }
}

/** A TOML basic string (JSON's escapes are a subset TOML accepts for these values). */
const tomlString = (value: string): string => JSON.stringify(value);
