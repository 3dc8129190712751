import type { z } from 'zod';
import { AppError, type ToolFailure, httpStatusFor, internalFailure, toToolFailure } from '../core/errors.js';
import type { Services } from '../app/services.js';
import { type Credentials, type Principal, hasPermission, makePrincipal } from '../auth/principal.js';
import { TOOLS } from './registry.js';
import type { ToolDefinition, ToolResultBody } from './tool.js';

export type ToolOutcome =
  | { ok: true; status: 200; body: { success: true } & ToolResultBody }
  | { ok: false; status: number; body: ToolFailure };

const ANONYMOUS: Principal = makePrincipal('anonymous', 'anonymous', []);

/** One line per problem, naming the argument: what an agent needs to fix its call. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : 'arguments';
      if (issue.code === 'unrecognized_keys') return `unknown argument(s): ${issue.keys.join(', ')}`;
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

function failure(error: AppError): ToolOutcome {
  return { ok: false, status: httpStatusFor(error.code), body: toToolFailure(error) };
}

/**
 * The one path every tool call takes, whatever the transport: validate the arguments, authenticate,
 * check the permission, run the handler, and turn any failure into the stable error shape.
 */
export async function invokeTool(
  services: Services,
  tool: ToolDefinition,
  rawArgs: unknown,
  credentials: Credentials,
  signal?: AbortSignal,
): Promise<ToolOutcome> {
  const started = performance.now();
  let outcome: ToolOutcome;
  try {
    const parsed = tool.input.safeParse(rawArgs ?? {});
    if (!parsed.success) {
      throw new AppError(
        'INVALID_INPUT',
        `Invalid arguments for ${tool.name}: ${describeIssues(parsed.error)}.`,
      );
    }
    const args = parsed.data as Record<string, unknown>;
    const argToken = typeof args.auth_token === 'string' ? args.auth_token : undefined;
    const withArg: Credentials = argToken !== undefined ? { ...credentials, argToken } : credentials;
    let principal = ANONYMOUS;
    if (tool.permission !== 'none') {
      principal = await services.auth.resolve(withArg);
      if (!hasPermission(principal, tool.permission)) {
        throw new AppError(
          'PERMISSION_DENIED',
          `${tool.name} needs the "${tool.permission}" permission; your token has ${principal.permissions.join(', ') || 'none'}.`,
        );
      }
      services.rateLimiter.take(principal.agentId, withArg.clientAddress);
      services.agents.touch(principal.agentId);
    }
    const body = await tool.handler(args, { services, principal, credentials: withArg, signal });
    outcome = { ok: true, status: 200, body: { success: true, ...body } };
  } catch (error) {
    if (error instanceof AppError) {
      outcome = failure(error);
    } else {
      services.logger.error({ err: error, tool: tool.name }, 'tool failed');
      outcome = { ok: false, status: 500, body: internalFailure() };
    }
  }
  services.metrics.toolCall(tool.name, outcome.ok ? 'OK' : outcome.body.code, performance.now() - started);
  return outcome;
}

/** invokeTool for a tool named by an adapter (REST routes, WebSocket frames): the name is ours, not the caller's. */
export function invokeNamedTool(
  services: Services,
  name: string,
  rawArgs: unknown,
  credentials: Credentials,
  signal?: AbortSignal,
): Promise<ToolOutcome> {
  const tool = TOOLS.get(name);
  if (tool === undefined) throw new Error(`no tool named ${name}`);
  return invokeTool(services, tool, rawArgs, credentials, signal);
}
