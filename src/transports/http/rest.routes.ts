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
        const declaredType = agentTypeOf(body.agent_type);
        const asDeclared = withDeclaredType(credentials, declaredType);
        await requireSelf(services, asDeclared, body.agent_id, 'agent_id');
        await requireOwnType(services, asDeclared, declaredType);
        const { agent_id: _agentId, agent_type: _agentType, ...args } = body;
        return await run(services, res, 'register_agent', args, asDeclared);
      }
      case 'GET /agents':
        return await run(
          services,
          res,
          'list_agents',
          queryArgs(url, { session_id: 'string', status: 'string', cursor: 'string' }),
          credentials,
        );
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
        const args = queryArgs(url, { after_id: 'number', limit: 'number', unread_only: 'boolean' });
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

/**
 * Query parameters as tool arguments, each converted to its argument's type (a value that does not
 * convert is passed as the string, for the tool's validation to name); unknown names are ignored.
 */
function queryArgs(url: URL, names: Record<string, 'string' | 'number' | 'boolean'>): Json {
  const args: Json = {};
  for (const [name, kind] of Object.entries(names)) {
    const value = url.searchParams.get(name);
    if (value === null) continue;
    if (kind === 'number' && /^\d+$/.test(value)) args[name] = Number(value);
    else if (kind === 'boolean' && (value === 'true' || value === 'false')) args[name] = value === 'true';
    else args[name] = value;
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

/**
 * Seed 004's clients send `agent_type` in the register body. With API-key headers and no
 * X-Agent-Type it stands for that header (the same claim, made in the body); a token's or an
 * agent key's type is fixed, so there it can only repeat it.
 */
function withDeclaredType(credentials: Credentials, declared: string | undefined): Credentials {
  const usesKeyHeaders = credentials.bearer === undefined && credentials.apiKey !== undefined;
  if (!usesKeyHeaders || credentials.agentType !== undefined || declared === undefined) return credentials;
  return { ...credentials, agentType: declared };
}

function agentTypeOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) {
    throw new AppError('INVALID_INPUT', 'agent_type must be a string of 1–100 characters, e.g. "claude".');
  }
  return value;
}

/** A declared agent_type must be the caller's: declaring one never changes what the caller may see. */
async function requireOwnType(
  services: Services,
  credentials: Credentials,
  declared: string | undefined,
): Promise<void> {
  if (declared === undefined) return;
  const principal = await services.auth.resolve(credentials);
  if (declared !== principal.agentType) {
    throw new AppError(
      'PERMISSION_DENIED',
      `agent_type must be your own agent type (${principal.agentType}): it comes from your token (authenticate_agent) or the X-Agent-Type header, and registering cannot change it.`,
    );
  }
}
