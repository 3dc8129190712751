import type { Viewer } from '../messages/visibility.js';

export const PERMISSIONS = ['read', 'write', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** An authenticated caller. */
export interface Principal extends Viewer {
  readonly permissions: readonly Permission[];
  /** The token's id when the caller used a token; absent for API-key header auth. */
  readonly tokenId?: string | undefined;
  /** Token expiry, epoch seconds. */
  readonly expiresAt?: number | undefined;
  /** The key the caller authenticated with, directly or through a token (absent in older tokens). */
  readonly via?: 'shared' | 'admin' | 'agent' | undefined;
  /** The agent key's id when `via` is "agent". */
  readonly keyId?: string | undefined;
}

/** Whatever credentials a request carried; the auth service decides what they are worth. */
export interface Credentials {
  bearer?: string | undefined;
  apiKey?: string | undefined;
  agentId?: string | undefined;
  agentType?: string | undefined;
  /** The `auth_token` tool argument, for clients that cannot set headers. */
  argToken?: string | undefined;
  /** Where the request came from (the socket's remote address; "stdio" for stdio), for per-address limits. */
  clientAddress?: string | undefined;
  /**
   * The agent an MCP session is bound to (the principal that opened it): credentials that resolve
   * to another agent are refused on that session.
   */
  boundTo?: string | undefined;
}

export const hasPermission = (p: Principal, needed: Permission): boolean => p.permissions.includes(needed);

export function makePrincipal(
  agentId: string,
  agentType: string,
  permissions: readonly Permission[],
  token?: { id: string; expiresAt: number },
  origin?: { via?: Principal['via']; keyId?: string | undefined },
): Principal {
  return {
    agentId,
    agentType,
    permissions,
    isAdmin: permissions.includes('admin'),
    tokenId: token?.id,
    expiresAt: token?.expiresAt,
    via: origin?.via,
    keyId: origin?.keyId,
  };
}
