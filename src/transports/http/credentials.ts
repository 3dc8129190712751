import type { IncomingMessage } from 'node:http';
import type { Credentials } from '../../auth/principal.js';
import { headerValue } from './request.js';

const clientAddresses = new WeakMap<IncomingMessage, string | undefined>();

/**
 * Behind `trustedProxies` proxies of the deployment (TRUST_PROXY), the client's address is the one
 * the outermost of them saw: each appends the address it received from to X-Forwarded-For, so it is
 * the trustedProxies-th entry from the end (entries further left were written by the client and are
 * not believed). Noted once per request where it arrives; without trusted proxies, the socket's.
 */
export function noteClientAddress(req: IncomingMessage, trustedProxies: number): void {
  if (trustedProxies === 0) return;
  const hops = (headerValue(req, 'x-forwarded-for') ?? '')
    .split(',')
    .map((hop) => hop.trim())
    .filter((hop) => hop.length > 0);
  if (hops.length === 0) return;
  clientAddresses.set(req, hops[Math.max(0, hops.length - trustedProxies)]);
}

/** The address per-address limits and the audit trail use (see noteClientAddress). */
export const clientAddressOf = (req: IncomingMessage): string | undefined =>
  clientAddresses.get(req) ?? req.socket.remoteAddress;

/** Whatever credentials the request's headers carry; verification happens in the auth service. */
export function credentialsFromHeaders(req: IncomingMessage): Credentials {
  const authorization = headerValue(req, 'authorization');
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  return {
    bearer,
    apiKey: headerValue(req, 'x-api-key'),
    agentId: headerValue(req, 'x-agent-id'),
    agentType: headerValue(req, 'x-agent-type'),
    clientAddress: clientAddressOf(req),
  };
}
