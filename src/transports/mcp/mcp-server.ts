import {
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type ServerContext,
  type StandardSchemaWithJSON,
} from '@modelcontextprotocol/server';
import { AppError } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import { type Credentials, type Principal, hasPermission } from '../../auth/principal.js';
import { type ToolOutcome, invokeTool } from '../../tools/invoke.js';
import { TOOLS } from '../../tools/registry.js';
import type { ToolDefinition } from '../../tools/tool.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { registerSubscriptions } from './subscriptions.js';
import { VERSION } from '../../version.js';

export const SERVER_INFO = { name: 'shared-context-server', version: VERSION } as const;

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
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, error.message, {
      code: error.code,
      ...(error.retryAfter !== undefined ? { retry_after: error.retryAfter } : {}),
    });
  }
  throw error;
}

/**
 * The caller of a read that is not a tool (resources, subscriptions, prompts): needs "read", and
 * counts against the agent's rate limit like a tool call (RATE_LIMITED with retry_after).
 */
export async function resolveReader(services: Services, credentials: Credentials): Promise<Principal> {
  const principal = await services.auth.resolve(credentials);
  if (!hasPermission(principal, 'read')) {
    throw new AppError(
      'PERMISSION_DENIED',
      'Reading resources, subscriptions and prompts needs the "read" permission.',
    );
  }
  services.rateLimiter.take(principal.agentId, credentials.clientAddress);
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
 * What registerTool gets as a tool's input schema: tools/list publishes `tool.inputJsonSchema`
 * (the portable form every major model provider accepts), and the SDK's own validation lets the
 * arguments through untouched, because invokeTool validates them against the full zod schema —
 * the same path, the same error shape (INVALID_INPUT) as every other transport.
 */
function publishedSchema(tool: ToolDefinition): StandardSchemaWithJSON<unknown, unknown> {
  return {
    '~standard': {
      version: 1,
      vendor: 'shared-context-server',
      validate: (value: unknown) => ({ value }),
      jsonSchema: {
        input: () => tool.inputJsonSchema as unknown as Record<string, unknown>,
        output: () => tool.inputJsonSchema as unknown as Record<string, unknown>,
      },
    },
  };
}

/**
 * One McpServer exposing every tool from its single definition, plus the resources and prompts.
 * Arguments are validated by invokeTool against the tool's zod schema (see publishedSchema); the
 * handler takes the same path as every other transport.
 */
export interface BuildOptions {
  /** A connection that lives long enough to be notified (2025-era HTTP session, stdio). */
  persistent: boolean;
  /** How a resources/updated notification reaches this connection; default: through the SDK. */
  notify?: (uri: string, eventId: string) => void;
  /** The connection's owner id in the subscription registry (default: a new one). */
  owner?: string;
  /** Called after a resources/subscribe or unsubscribe on the connection. */
  onSubscriptionsChanged?: () => void;
}

export function buildMcpServer(mcp: McpContext, options: BuildOptions): McpServer {
  const server = new McpServer(SERVER_INFO, {
    // Subscriptions work in both eras: resources/subscribe on persistent connections,
    // subscriptions/listen (served by the SDK entry over ListenBus) on per-request ones.
    capabilities: {
      logging: {},
      completions: {},
      resources: { subscribe: true, listChanged: false },
    },
    instructions:
      'Shared blackboard, private memory and search for cooperating agents. Start with authenticate_agent (unless your client sends an API key header), then create_session or get_session. get_usage_guidance explains the rest.',
  });
  for (const tool of TOOLS.values()) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: publishedSchema(tool),
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
  if (options.persistent) {
    registerSubscriptions(server, mcp, options.notify, options.owner, options.onSubscriptionsChanged);
  }
  return server;
}
