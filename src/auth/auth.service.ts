import { AppError } from '../core/errors.js';
import { AGENT_ID_PATTERN } from '../core/ids.js';
import { auditService } from '../audit/audit.service.js';
import type { EventBus } from '../events/event-bus.js';
import type { Db } from '../store/store.js';
import { type Credentials, type Permission, type Principal, makePrincipal } from './principal.js';
import { insertRevocation } from './revocation.repository.js';
import { type Secrets, secretEquals } from './secrets.js';
import { type TokenClaims, TokenCodec } from './token.js';

export interface IssuedToken {
  token: string;
  agent_id: string;
  agent_type: string;
  permissions: Permission[];
  expires_at: string;
}

type KeyGrade = 'admin' | 'agent';

const MAX_CACHED_TOKENS = 10_000;

const unauthorized = () =>
  new AppError(
    'UNAUTHORIZED',
    'Authentication required: send "Authorization: Bearer <token>" (get one from authenticate_agent), the auth_token argument, or the X-API-Key and X-Agent-Id headers.',
    { suggestions: ['authenticate_agent'] },
  );

/**
 * Turns credentials into a Principal, and issues, refreshes and revokes tokens. Verification of a
 * token's signature is cached per token string until it expires; revocation is checked every time.
 */
export class AuthService {
  private readonly codec: TokenCodec;
  private readonly verified = new Map<string, TokenClaims>();
  private readonly revoked = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly secrets: Secrets,
    tokenTtlSeconds: number,
  ) {
    this.codec = new TokenCodec(secrets.jwtSecret, tokenTtlSeconds);
  }

  /** Loads the revocations that still matter (tokens not yet expired). */
  async init(): Promise<void> {
    const rows = await this.db
      .selectFrom('revoked_tokens')
      .select('jti')
      .where('expires_at', '>', Date.now())
      .execute();
    for (const row of rows) this.revoked.add(row.jti);
  }

  private grade(apiKey: string): KeyGrade | undefined {
    if (secretEquals(apiKey, this.secrets.adminApiKey)) return 'admin';
    if (secretEquals(apiKey, this.secrets.apiKey)) return 'agent';
    return undefined;
  }

  async authenticateAgent(input: {
    agentId: string;
    agentType: string;
    apiKey: string | undefined;
    requestedPermissions: Permission[];
  }): Promise<IssuedToken> {
    if (input.apiKey === undefined) {
      throw new AppError('UNAUTHORIZED', 'An API key is required: pass api_key or the X-API-Key header.', {
        suggestions: ['Set api_key to the API_KEY of this server (see `shared-context-server keys show`).'],
      });
    }
    const grade = this.grade(input.apiKey);
    if (grade === undefined) throw new AppError('UNAUTHORIZED', 'The API key is not valid for this server.');
    if (input.requestedPermissions.includes('admin') && grade !== 'admin') {
      throw new AppError(
        'PERMISSION_DENIED',
        'The admin permission requires the admin API key (ADMIN_API_KEY); the agent key grants read and write only.',
        { suggestions: ['Request ["read","write"], or authenticate with the admin key.'] },
      );
    }
    const permissions = [...new Set(input.requestedPermissions)];
    const { token, claims } = await this.codec.sign(input.agentId, input.agentType, permissions);
    await auditService.record(this.db, {
      agentId: input.agentId,
      action: 'authenticate_agent',
      details: { agent_type: input.agentType, permissions },
    });
    return {
      token,
      agent_id: claims.agentId,
      agent_type: claims.agentType,
      permissions,
      expires_at: new Date(claims.expiresAt * 1000).toISOString(),
    };
  }

  /**
   * Resolves credentials to a Principal, or throws UNAUTHORIZED / TOKEN_EXPIRED / TOKEN_REVOKED, or
   * PERMISSION_DENIED when they name another agent than the MCP session they arrive on is bound to.
   */
  async resolve(credentials: Credentials): Promise<Principal> {
    const principal = await this.resolveUnbound(credentials);
    const boundTo = credentials.boundTo;
    if (boundTo !== undefined && principal.agentId !== boundTo) {
      throw new AppError(
        'PERMISSION_DENIED',
        `This MCP session belongs to agent ${boundTo}; you are ${principal.agentId}. Open your own session with initialize.`,
      );
    }
    return principal;
  }

  private async resolveUnbound(credentials: Credentials): Promise<Principal> {
    const token = credentials.bearer ?? credentials.argToken;
    if (token !== undefined && token.length > 0) {
      const claims = await this.verifyToken(token);
      return makePrincipal(claims.agentId, claims.agentType, claims.permissions, {
        id: claims.jti,
        expiresAt: claims.expiresAt,
      });
    }
    if (credentials.apiKey !== undefined) {
      const grade = this.grade(credentials.apiKey);
      if (grade === undefined)
        throw new AppError('UNAUTHORIZED', 'The API key is not valid for this server.');
      const agentId = credentials.agentId;
      if (agentId === undefined || !AGENT_ID_PATTERN.test(agentId)) {
        throw new AppError(
          'UNAUTHORIZED',
          'API-key authentication needs an X-Agent-Id header: 1–100 characters of letters, digits, ".", "_", ":" or "-".',
        );
      }
      const agentType = credentials.agentType ?? 'generic';
      const permissions: Permission[] = grade === 'admin' ? ['read', 'write', 'admin'] : ['read', 'write'];
      return makePrincipal(agentId, agentType, permissions);
    }
    throw unauthorized();
  }

  private async verifyToken(token: string): Promise<TokenClaims> {
    let claims = this.verified.get(token);
    if (claims === undefined || claims.expiresAt * 1000 <= Date.now()) {
      this.verified.delete(token);
      claims = await this.codec.verify(token);
      if (this.verified.size >= MAX_CACHED_TOKENS) this.verified.clear();
      this.verified.set(token, claims);
    }
    if (this.revoked.has(claims.jti)) {
      throw new AppError(
        'TOKEN_REVOKED',
        'The token was revoked. Call authenticate_agent to get a new one.',
        {
          suggestions: ['authenticate_agent'],
        },
      );
    }
    return claims;
  }

  /** A fresh token for the same agent and permissions: the given one, or the caller's own. The old one is revoked. */
  async refresh(caller: Principal, token: string | undefined): Promise<IssuedToken> {
    const old = token !== undefined ? await this.verifyToken(token) : claimsOf(caller);
    if (old === undefined) {
      throw new AppError(
        'INVALID_INPUT',
        'There is no token to refresh: you authenticated with an API key. Call authenticate_agent for a token.',
      );
    }
    if (old.agentId !== caller.agentId && !caller.isAdmin) {
      throw new AppError('PERMISSION_DENIED', 'You can only refresh your own token.');
    }
    const { token: fresh, claims } = await this.codec.sign(old.agentId, old.agentType, old.permissions);
    await this.recordRevocation(old.jti, old.agentId, old.expiresAt, 'refresh_token');
    return {
      token: fresh,
      agent_id: claims.agentId,
      agent_type: claims.agentType,
      permissions: claims.permissions,
      expires_at: new Date(claims.expiresAt * 1000).toISOString(),
    };
  }

  /** Ends a token before its time: the given one, or the caller's own. */
  async revoke(caller: Principal, token: string | undefined): Promise<{ revoked: string; agent_id: string }> {
    if (token !== undefined) {
      const claims = await this.codec.verify(token);
      if (claims.agentId !== caller.agentId && !caller.isAdmin) {
        throw new AppError('PERMISSION_DENIED', "Only an admin can revoke another agent's token.");
      }
      await this.recordRevocation(claims.jti, claims.agentId, claims.expiresAt, 'revoke_token');
      return { revoked: claims.jti, agent_id: claims.agentId };
    }
    if (caller.tokenId === undefined || caller.expiresAt === undefined) {
      throw new AppError(
        'INVALID_INPUT',
        'You authenticated with an API key, not a token: pass the token to revoke.',
      );
    }
    await this.recordRevocation(caller.tokenId, caller.agentId, caller.expiresAt, 'revoke_token');
    return { revoked: caller.tokenId, agent_id: caller.agentId };
  }

  private async recordRevocation(
    jti: string,
    agentId: string,
    expiresAtSec: number,
    action: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await insertRevocation(trx, {
        jti,
        agent_id: agentId,
        revoked_at: Date.now(),
        expires_at: expiresAtSec * 1000,
      });
      await auditService.record(trx, { agentId, action, details: { jti } });
    });
    this.revoked.add(jti);
    // Open connections (WebSockets, subscriptions) authenticated with this token end now.
    this.bus.publish({ type: 'token.revoked', jti, agentId });
  }
}

function claimsOf(p: Principal): TokenClaims | undefined {
  if (p.tokenId === undefined || p.expiresAt === undefined) return undefined;
  return {
    jti: p.tokenId,
    agentId: p.agentId,
    agentType: p.agentType,
    permissions: [...p.permissions],
    issuedAt: 0,
    expiresAt: p.expiresAt,
  };
}
