import type { IncomingMessage, ServerResponse } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import type { Credentials } from '../../auth/principal.js';
import { invokeTool } from '../../tools/invoke.js';
import { TOOLS } from '../../tools/registry.js';
import { abortWhenClientLeaves, headerValue, sendJson } from '../http/request.js';
import { type McpContext, toCallToolResult } from './mcp-server.js';

interface ToolCallRequest {
  jsonrpc: '2.0';
  id: string | number;
  method: 'tools/call';
  params: { name: string; arguments?: Record<string, unknown> };
}

function asToolCall(body: unknown): ToolCallRequest | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const m = body as Partial<ToolCallRequest>;
  if (m.jsonrpc !== '2.0' || m.method !== 'tools/call') return undefined;
  if (typeof m.id !== 'string' && typeof m.id !== 'number') return undefined;
  const params = m.params;
  if (typeof params !== 'object' || params === null || typeof params.name !== 'string') return undefined;
  if (params.arguments !== undefined && (typeof params.arguments !== 'object' || params.arguments === null)) {
    return undefined;
  }
  return m as ToolCallRequest;
}

/**
 * The hot path of an established 2025-era session: a POST holding one `tools/call` of a known
 * tool is answered here with a single JSON response (which Streamable HTTP allows for any POST of
 * requests), through the same invokeTool and result shape the SDK handler uses. It skips the SDK
 * transport's Node→Web request conversion and SSE framing, about half of an MCP write's CPU (see
 * bench/). Anything else — other methods, batches, unknown tools, an unsupported protocol version
 * header, a client that does not accept JSON — returns false and goes through the SDK.
 */
export async function tryFastToolCall(
  mcp: McpContext,
  sessionId: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  credentials: Credentials,
): Promise<boolean> {
  const call = asToolCall(body);
  if (call === undefined) return false;
  const tool = TOOLS.get(call.params.name);
  if (tool === undefined) return false;
  if (!headerValue(req, 'accept')?.includes('application/json')) return false;
  const version = headerValue(req, 'mcp-protocol-version');
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return false;
  const outcome = await invokeTool(
    mcp.services,
    tool,
    call.params.arguments ?? {},
    credentials,
    tool.waits === true ? abortWhenClientLeaves(res) : undefined,
  );
  const headers: Record<string, string> = { 'mcp-session-id': sessionId };
  // The tool result carries retry_after; the header tells HTTP-level clients and proxies too.
  if (!outcome.ok && outcome.body.retry_after !== undefined) {
    headers['retry-after'] = String(Math.ceil(outcome.body.retry_after));
  }
  sendJson(res, 200, { jsonrpc: '2.0', id: call.id, result: toCallToolResult(outcome) }, headers);
  return true;
}
