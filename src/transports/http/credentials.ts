import type { IncomingMessage } from 'node:http';
import type { Credentials } from '../../auth/principal.js';
import { headerValue } from './request.js';

/** Whatever credentials the request's headers carry; verification happens in the auth service. */
export function credentialsFromHeaders(req: IncomingMessage): Credentials {
  const authorization = headerValue(req, 'authorization');
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  return {
    bearer,
    apiKey: headerValue(req, 'x-api-key'),
    agentId: headerValue(req, 'x-agent-id'),
    agentType: headerValue(req, 'x-agent-type'),
    clientAddress: req.socket.remoteAddress,
  };
}
