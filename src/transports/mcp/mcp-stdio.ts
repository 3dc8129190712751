import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Services } from '../../app/services.js';
import type { Credentials } from '../../auth/principal.js';
import { AppError } from '../../core/errors.js';
import { buildMcpServer, createMcpContext } from './mcp-server.js';

/** Printed on stderr when stdio starts without an identity (stdout is the protocol channel). */
export const STDIO_IDENTITY_HINT =
  'shared-context-server stdio: SCS_AGENT_ID is not set, so tool calls have no identity. Set it in the client config (e.g. "env": {"SCS_AGENT_ID": "my-agent"}), or pass auth_token from authenticate_agent in every call.';

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
      ? {
          apiKey: env.SCS_API_KEY ?? services.secrets.apiKey,
          agentId,
          agentType: env.SCS_AGENT_TYPE,
          clientAddress: 'stdio',
        }
      : { apiKey: env.SCS_API_KEY, clientAddress: 'stdio' };
  const mcp = createMcpContext(
    agentId !== undefined ? services : withIdentityHint(services),
    () => credentials,
  );
  return serveStdio(() => buildMcpServer(mcp, { persistent: true }), {
    onerror: (error) => services.logger.warn({ err: error }, 'stdio transport error'),
  });
}

/**
 * Without SCS_AGENT_ID the auth service's UNAUTHORIZED speaks of HTTP headers, which a stdio user
 * cannot send: the same refusal, reworded to name the variable to set.
 */
function withIdentityHint(services: Services): Services {
  const auth = services.auth;
  const resolve: typeof auth.resolve = async (credentials) => {
    try {
      return await auth.resolve(credentials);
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNAUTHORIZED' && credentials.argToken === undefined) {
        throw new AppError(
          'UNAUTHORIZED',
          'No identity: this stdio server was started without SCS_AGENT_ID. Set SCS_AGENT_ID (and optionally SCS_AGENT_TYPE) in the environment of the stdio command, or pass auth_token (from authenticate_agent) in each call.',
          { suggestions: ['authenticate_agent'] },
        );
      }
      throw error;
    }
  };
  const hinted = new Proxy(auth, {
    get: (target, property) => {
      if (property === 'resolve') return resolve;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { ...services, auth: hinted };
}
