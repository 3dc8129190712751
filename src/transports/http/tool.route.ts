import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, httpStatusFor, toToolFailure } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import { type ToolOutcome, invokeTool } from '../../tools/invoke.js';
import { TOOLS } from '../../tools/registry.js';
import { credentialsFromHeaders } from './credentials.js';
import { abortWhenClientLeaves, readJsonBody, sendJson } from './request.js';

/**
 * POST /mcp/tool/{name}: the JSON body is the tool's arguments, the JSON reply is its result —
 * for agent frameworks that are not MCP clients. Same definitions, same invokeTool path.
 */
export async function handleToolRoute(
  services: Services,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
): Promise<void> {
  const tool = TOOLS.get(name);
  if (tool === undefined) {
    const error = new AppError('NOT_FOUND', `There is no tool "${name}".`, {
      suggestions: [...TOOLS.keys()].slice(0, 30),
    });
    return sendJson(res, 404, toToolFailure(error));
  }
  if (req.method !== 'POST') {
    const error = new AppError('INVALID_INPUT', `Call ${name} with POST and a JSON body of its arguments.`);
    return sendJson(res, 405, toToolFailure(error), { allow: 'POST' });
  }
  let args: unknown;
  try {
    args = await readJsonBody(req, maxBodyBytes);
  } catch (error) {
    if (error instanceof AppError) return sendJson(res, httpStatusFor(error.code), toToolFailure(error));
    throw error;
  }
  const outcome = await invokeTool(
    services,
    tool,
    args,
    credentialsFromHeaders(req),
    tool.waits === true ? abortWhenClientLeaves(res) : undefined,
  );
  sendToolOutcome(res, outcome);
}

/** A tool's outcome as an HTTP reply: its status, its JSON body, and Retry-After when rate-limited. */
export function sendToolOutcome(res: ServerResponse, outcome: ToolOutcome): void {
  const headers: Record<string, string> =
    !outcome.ok && outcome.body.retry_after !== undefined
      ? { 'retry-after': String(Math.ceil(outcome.body.retry_after)) }
      : {};
  sendJson(res, outcome.status, outcome.body, headers);
}
