import {
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { AppError } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import { type Credentials, type Principal, hasPermission } from '../../auth/principal.js';
import { type ToolOutcome, invokeTool } from '../../tools/invoke.js';
import { TOOLS } from '../../tools/registry.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { registerSubscriptions } from './subscriptions.js';

export const SERVER_INFO = { name: 'shared-context-server', version: '0.1.0' } as const;

/** Where an MCP request's credentials come from: the HTTP request, or the stdio process env. */
export type CredentialSource = (ctx: ServerContext) => Credentials;

export interface McpContext {
  readonly services: Services;
  readonly credentialsOf: CredentialSource;
  /**
   * Resolves the caller of a non-tool MCP request (resources, subscriptions, prompts — all reads);
   * throws a protocol error when unauthenticated or without the read permission.
   */
  principalOf(ctx: ServerContext): Promise<Principal>;
}

export function toCallToolResult(outcome: ToolOutcome): CallToolResult {
  return {
    content: [{ type: 'text', text: JSON.stringify(outcome.body) }],
    structuredContent: outcome.body as Record<string, unknown>,
    ...(outcome.ok ? {} : { isError: true }),
  };
}

/** An AppError as a JSON-RPC error for methods that have no tool-result shape (resources, prompts). */
export function toProtocolError(error: unknown): never {
  if (error instanceof AppError) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, error.message, { code: error.code });
  }
  throw error;
}

/** The caller of a read that is not a tool (resources, subscriptions, prompts): needs "read". */
export async function resolveReader(services: Services, credentials: Credentials): Promise<Principal> {
  const principal = await services.auth.resolve(credentials);
  if (!hasPermission(principal, 'read')) {
    throw new AppError(
      'PERMISSION_DENIED',
      'Reading resources, subscriptions and prompts needs the "read" permission.',
    );
  }
  return principal;
}

export function createMcpContext(services: Services, credentialsOf: CredentialSource): McpContext {
  return {
    services,
    credentialsOf,
    async principalOf(ctx) {
      try {
        return await resolveReader(services, credentialsOf(ctx));
      } catch (error) {
        return toProtocolError(error);
      }
    },
  };
}

/**
 * One McpServer exposing every tool from its single definition, plus the resources and prompts.
 * The SDK validates arguments against the tool's zod schema before the handler runs; the handler
 * then takes the same path as every other transport (invokeTool).
 */
export interface BuildOptions {
  /** A connection that lives long enough to be notified (2025-era HTTP session, stdio). */
  persistent: boolean;
  /** How a resources/updated notification reaches this connection; default: through the SDK. */
  notify?: (uri: string) => void;
}

export function buildMcpServer(mcp: McpContext, options: BuildOptions): McpServer {
  const server = new McpServer(SERVER_INFO, {
    // Subscriptions work in both eras: resources/subscribe on persistent connections,
    // subscriptions/listen (served by the SDK entry over ListenBus) on per-request ones.
    capabilities: { logging: {}, resources: { subscribe: true, listChanged: false } },
    instructions:
      'Shared blackboard, private memory and search for cooperating agents. Start with authenticate_agent (unless your client sends an API key header), then create_session or get_session. get_usage_guidance explains the rest.',
  });
  for (const tool of TOOLS.values()) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input,
        ...(tool.annotations ? { annotations: tool.annotations } : {}),
      },
      async (args: unknown, ctx: ServerContext) =>
        toCallToolResult(
          await invokeTool(mcp.services, tool, args, mcp.credentialsOf(ctx), ctx.mcpReq.signal),
        ),
    );
  }
  registerResources(server, mcp);
  registerPrompts(server, mcp);
  if (options.persistent) registerSubscriptions(server, mcp, options.notify);
  return server;
}
