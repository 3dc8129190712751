import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Services } from '../../app/services.js';
import type { Credentials } from '../../auth/principal.js';
import { buildMcpServer, createMcpContext } from './mcp-server.js';

/**
 * MCP over stdio: the same tools, resources and prompts. The identity comes from the environment
 * (SCS_AGENT_ID, SCS_AGENT_TYPE and SCS_API_KEY — the key defaults to this data directory's own, since
 * whoever can start this process can read it); a call may still pass auth_token instead.
 */
export function serveMcpStdio(
  services: Services,
  env: NodeJS.ProcessEnv = process.env,
): { close(): Promise<void> } {
  const agentId = env.SCS_AGENT_ID;
  const credentials: Credentials =
    agentId !== undefined
      ? { apiKey: env.SCS_API_KEY ?? services.secrets.apiKey, agentId, agentType: env.SCS_AGENT_TYPE }
      : { apiKey: env.SCS_API_KEY };
  const mcp = createMcpContext(services, () => credentials);
  return serveStdio(() => buildMcpServer(mcp, { persistent: true }), {
    onerror: (error) => services.logger.warn({ err: error }, 'stdio transport error'),
  });
}
