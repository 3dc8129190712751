import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, httpStatusFor, toToolFailure } from '../../core/errors.js';
import type { Services } from '../../app/services.js';
import type { Credentials } from '../../auth/principal.js';
import { invokeNamedTool } from '../../tools/invoke.js';
import { credentialsFromHeaders } from './credentials.js';
import { readJsonBody, sendJson } from './request.js';
import { sendToolOutcome } from './tool.route.js';

export const REST_PREFIX = '/api/v1/';

type Json = Record<string, unknown>;

/**
 * The agent REST API of seed 004, as thin adapters over the same tools: each route reshapes its
 * request into tool arguments and answers with the tool's result. The one rule added here is the
 * identity check: `agent_id` / `from` must be the caller.
 */
export async function handleRest(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  maxBodyBytes: number,
): Promise<void> {
  const credentials = credentialsFromHeaders(req);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${path.slice(REST_PREFIX.length - 1)}`;
  try {
    const ack = /^POST \/messages\/(\d+)\/ack$/.exec(route);
    if (ack) return await run(services, res, 'ack_message', { message_id: Number(ack[1]) }, credentials);
    switch (route) {
      case 'POST /agents/register': {
        const body = await jsonObject(req, maxBodyBytes);
        await requireSelf(services, credentials, body.agent_id, 'agent_id');
        const { agent_id: _agentId, ...args } = body;
        return await run(services, res, 'register_agent', args, credentials);
      }
      case 'GET /agents':
        return await run(services, res, 'list_agents', queryArgs(url, ['session_id', 'status']), credentials);
      case 'POST /messages': {
        const body = await jsonObject(req, maxBodyBytes);
        await requireSelf(services, credentials, body.from, 'from');
        const { from: _from, message, content, ...rest } = body;
        return await run(
          services,
          res,
          'send_message',
          { ...rest, content: content ?? message },
          credentials,
        );
      }
      case 'GET /messages': {
        const args = queryArgs(url, ['after_id', 'limit', 'unread_only']);
        const agentId = url.searchParams.get('agent_id');
        if (agentId !== null) await requireSelf(services, credentials, agentId, 'agent_id');
        return await run(services, res, 'get_inbox', args, credentials);
      }
      default:
        throw new AppError(
          'NOT_FOUND',
          `No route ${req.method} ${path}. See /api/v1/agents, /api/v1/agents/register, /api/v1/messages.`,
        );
    }
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    services.metrics.error(error.code);
    sendJson(res, httpStatusFor(error.code), toToolFailure(error));
  }
}

async function run(
  services: Services,
  res: ServerResponse,
  tool: string,
  args: Json,
  credentials: Credentials,
): Promise<void> {
  sendToolOutcome(res, await invokeNamedTool(services, tool, args, credentials));
}

async function jsonObject(req: IncomingMessage, maxBodyBytes: number): Promise<Json> {
  const body = await readJsonBody(req, maxBodyBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('INVALID_INPUT', 'The request body must be a JSON object.');
  }
  return body as Json;
}

/** Query parameters as tool arguments: numbers and booleans converted, unknown names ignored. */
function queryArgs(url: URL, names: string[]): Json {
  const args: Json = {};
  for (const name of names) {
    const value = url.searchParams.get(name);
    if (value === null) continue;
    args[name] = /^\d+$/.test(value)
      ? Number(value)
      : value === 'true'
        ? true
        : value === 'false'
          ? false
          : value;
  }
  return args;
}

async function requireSelf(
  services: Services,
  credentials: Credentials,
  claimed: unknown,
  field: string,
): Promise<void> {
  const principal = await services.auth.resolve(credentials);
  if (claimed === undefined) return;
  if (claimed !== principal.agentId) {
    throw new AppError('PERMISSION_DENIED', `${field} must be your own agent id (${principal.agentId}).`);
  }
}
