import { AppError } from '../core/errors.js';
import { AGENT_ID_PATTERN } from '../core/ids.js';
import { auditService } from '../audit/audit.service.js';
import type { TokenBucketRateLimiter } from '../realtime/rate-limiter.js';
import type { AgentKeyRow } from '../store/schema.js';
import type { Storage } from '../store/store.js';
import { AgentKeys } from './agent-key.service.js';
import { DASHBOARD_SUBJECT } from './dashboard-token.js';
import { type Credentials, type Permission, type Principal, makePrincipal } from './principal.js';
import {
  findAgentRevocation,
  insertRevocation,
  listAgentRevocations,
  purgeExpiredRevocations,
  upsertAgentRevocation,
} from './revocation.repository.js';
import { type Secrets, secretEquals } from './secrets.js';
import { type TokenClaims, TokenCodec, type TokenOrigin } from './token.js';

export interface IssuedToken {
  token: string;
  agent_id: string;
  agent_type: string;
  permissions: Permission[];
  expires_at: string;
}

/** What a presented API key is: the admin key, the shared key, or one agent's own key. */
type KeyMatch = { via: 'admin' } | { via: 'shared' } | { via: 'agent'; key: AgentKeyRow };

export interface AuthOptions {
  readonly tokenTtlSeconds: number;
  /** REQUIRE_AGENT_KEYS: the shared key cannot act as an agent that has its own active key. */
  readonly requireAgentKeys: boolean;
  /** Per agent: authenticate_agent counts against the agent it mints a token for. */
  readonly agentLimiter: TokenBucketRateLimiter;
  /**
   * Per client address: every rejected key or token takes one; while the address's bucket is
   * empty, every credential it sends is refused before it is checked (no unthrottled guessing).
   */
  readonly failureLimiter: TokenBucketRateLimiter;
}

const ANY_ADDRESS = 'unknown';

const MAX_CACHED_TOKENS = 10_000;

const unauthorized = () =>
  new AppError(
    'UNAUTHORIZED',
    'Authentication required: send "Authorization: Bearer <token>" (get one from authenticate_agent), the auth_token argument, or the X-API-Key and X-Agent-Id headers.',
    { suggestions: ['authenticate_agent'] },
  );

const invalidKey = () => new AppError('UNAUTHORIZED', 'The API key is not valid for this server.');

/**
 * Turns credentials into a Principal, and issues, refreshes and revokes tokens. Verification of a
 * token's signature is cached per token string until it expires; revocation is checked every time.
 *
 * Three kinds of API key: the admin key (read, write, admin; may act as any agent), the shared key
 * (read, write; may act as any agent — except, with REQUIRE_AGENT_KEYS, one that has its own key)
 * and agent keys (read, write; only as the one agent id and type they were issued for).
 */
export class AuthService {
  /** The agent keys; revoking one ends its tokens, sockets and subscriptions. */
  readonly agentKeys: AgentKeys;
  private readonly codec: TokenCodec;
  private readonly verified = new Map<string, TokenClaims>();
  private readonly revoked = new Set<string>();
  /** Per agent: tokens issued before this time (ms) are revoked, whichever key minted them. */
  private readonly agentCutoffs = new Map<string, number>();
  private readonly failures: TokenBucketRateLimiter;

  constructor(
    private readonly store: Storage,
    private readonly secrets: Secrets,
    private readonly options: AuthOptions,
  ) {
    this.codec = new TokenCodec(secrets.jwtSecret, options.tokenTtlSeconds);
    this.failures = options.failureLimiter;
    this.agentKeys = new AgentKeys(store);
  }

  /** Loads the revocations that still matter (tokens not yet expired) and the agent keys. */
  async init(): Promise<void> {
    const rows = await this.store.db
      .selectFrom('revoked_tokens')
      .select('jti')
      .where('expires_at', '>', Date.now())
      .execute();
    for (const row of rows) this.revoked.add(row.jti);
    for (const row of await listAgentRevocations(this.store.db))
      this.agentCutoffs.set(row.agent_id, row.revoked_before);
    await this.agentKeys.load();
  }

  /**
   * Ends every token of an agent issued until now, whichever key minted it (the shared key, the
   * admin key, its agent key), on every node: the change this records reaches each process's feed
   * reader, which ends the agent's sockets and subscriptions and has auth re-read the cut-off.
   */
  async revokeAgent(agentId: string, by: string): Promise<{ agent_id: string; revoked_before: string }> {
    const now = Date.now();
    await this.store.write(async (trx) => {
      await upsertAgentRevocation(trx, agentId, now, by);
      await auditService.record(trx, { agentId: by, action: 'revoke_agent', details: { agent_id: agentId } });
    });
    this.agentCutoffs.set(agentId, Math.max(now, this.agentCutoffs.get(agentId) ?? 0));
    return { agent_id: agentId, revoked_before: new Date(now).toISOString() };
  }

  /** Another process revoked an agent (the change feed says so): read its cut-off. */
  async noteAgentRevoked(agentId: string): Promise<void> {
    const cutoff = await findAgentRevocation(this.store.db, agentId);
    if (cutoff !== undefined)
      this.agentCutoffs.set(agentId, Math.max(cutoff, this.agentCutoffs.get(agentId) ?? 0));
  }

  /**
   * A token was revoked, here or by another process on the database (the change feed says so):
   * it is refused from now on without a query.
   */
  noteRevoked(jti: string): void {
    this.revoked.add(jti);
  }

  /** Whether a token id was revoked (by any process on the database: the change feed says so). */
  isRevoked(jti: string): boolean {
    return this.revoked.has(jti);
  }

  /**
   * Ends a token that is not an agent token (the dashboard's cookie) by its id: the same revocation
   * list, so every process on the database refuses it from the moment the change is read.
   */
  revokeTokenId(jti: string, agentId: string, expiresAtSec: number, action: string): Promise<void> {
    return this.recordRevocation(jti, agentId, expiresAtSec, action);
  }

  /**
   * Records an authentication event that changes nothing else (a dashboard login, or a failed one)
   * in the audit trail, as `agentId`.
   */
  recordAuthEvent(agentId: string, action: string, details: Record<string, unknown>): Promise<void> {
    return this.store.write((trx) => auditService.record(trx, { agentId, action, details }));
  }

  private async identify(apiKey: string): Promise<KeyMatch | undefined> {
    if (secretEquals(apiKey, this.secrets.adminApiKey)) return { via: 'admin' };
    if (secretEquals(apiKey, this.secrets.apiKey)) return { via: 'shared' };
    const key = await this.agentKeys.findByKey(apiKey);
    return key === undefined ? undefined : { via: 'agent', key };
  }

  /** A rejected key or token costs its address one attempt. */
  private rejected(address: string, error: AppError): AppError {
    this.failures.charge(address);
    return error;
  }

  /**
   * The agent id and type an agent key acts as: its own. A different id (or a type other than its
   * own or the default) is refused rather than silently replaced.
   */
  private actAsKeyAgent(
    key: AgentKeyRow,
    agentId: string | undefined,
    agentType: string | undefined,
    naming: { id: string; type: string },
  ): { agentId: string; agentType: string } {
    if (key.revoked_at !== null) {
      throw new AppError(
        'UNAUTHORIZED',
        `This agent key of ${key.agent_id} was revoked; ask an admin for a new one (keys issue).`,
      );
    }
    if (agentId !== undefined && agentId !== key.agent_id) {
      throw new AppError(
        'PERMISSION_DENIED',
        `This agent key belongs to agent ${key.agent_id}, not ${agentId}: set ${naming.id} to ${key.agent_id} or leave it out.`,
      );
    }
    if (agentType !== undefined && agentType !== 'generic' && agentType !== key.agent_type) {
      throw new AppError(
        'PERMISSION_DENIED',
        `This agent key was issued for agent type ${key.agent_type}, not ${agentType}: set ${naming.type} to ${key.agent_type} or leave it out.`,
      );
    }
    return { agentId: key.agent_id, agentType: key.agent_type };
  }

  /** With REQUIRE_AGENT_KEYS, the shared key (or a token minted with it) cannot be an agent that has its own key. */
  private assertSharedMayActAs(agentId: string): void {
    // The dashboard's human operator: no agent on the shared key may post as it.
    if (agentId === DASHBOARD_SUBJECT) {
      throw new AppError(
        'PERMISSION_DENIED',
        `"${DASHBOARD_SUBJECT}" is the dashboard's human operator; agents cannot act as it with the shared key. Choose another agent_id.`,
      );
    }
    if (!this.options.requireAgentKeys || this.agentKeys.activeFor(agentId) === undefined) return;
    throw new AppError(
      'PERMISSION_DENIED',
      `Agent ${agentId} has its own agent key and this server requires agent keys (REQUIRE_AGENT_KEYS): authenticate as ${agentId} with that key, not with the shared API key.`,
      { suggestions: [`authenticate_agent with api_key set to the agent key of ${agentId}`] },
    );
  }

  /**
   * Exchanges an API key for a token. With an agent key, agent_id and agent_type may be left out
   * (they are the key's); with the shared or admin key, agent_id is required.
   */
  async authenticateAgent(input: {
    agentId?: string | undefined;
    agentType?: string | undefined;
    apiKey: string | undefined;
    requestedPermissions: Permission[];
    clientAddress?: string | undefined;
  }): Promise<IssuedToken> {
    const address = input.clientAddress ?? ANY_ADDRESS;
    this.failures.check(address);
    if (input.apiKey === undefined) {
      throw new AppError('UNAUTHORIZED', 'An API key is required: pass api_key or the X-API-Key header.', {
        suggestions: ['Set api_key to the API_KEY of this server (see `shared-context-server keys show`).'],
      });
    }
    const match = await this.identify(input.apiKey);
    if (match === undefined) throw this.rejected(address, invalidKey());
    let agentId: string;
    let agentType: string;
    if (match.via === 'agent') {
      ({ agentId, agentType } = this.actAsKeyAgent(match.key, input.agentId, input.agentType, {
        id: 'agent_id',
        type: 'agent_type',
      }));
    } else {
      if (input.agentId === undefined) {
        throw new AppError(
          'INVALID_INPUT',
          'agent_id is required with the shared or admin API key (only an agent key names its agent by itself).',
        );
      }
      agentId = input.agentId;
      agentType = input.agentType ?? 'generic';
      if (match.via === 'shared') this.assertSharedMayActAs(agentId);
    }
    if (input.requestedPermissions.includes('admin') && match.via !== 'admin') {
      throw new AppError(
        'PERMISSION_DENIED',
        `The admin permission requires the admin API key (ADMIN_API_KEY); the ${match.via === 'agent' ? 'agent key' : 'shared API key'} grants read and write only.`,
        { suggestions: ['Request ["read","write"], or authenticate with the admin key.'] },
      );
    }
    // Minting a token counts against the agent (and a new agent id against the address).
    this.options.agentLimiter.take(agentId, address);
    const permissions = [...new Set(input.requestedPermissions)];
    const keyId = match.via === 'agent' ? match.key.key_id : undefined;
    const { token, claims } = await this.codec.sign(agentId, agentType, permissions, {
      via: match.via,
      keyId,
    });
    await auditService.record(this.store.db, {
      agentId,
      action: 'authenticate_agent',
      details: { agent_type: agentType, permissions, via: match.via, ...(keyId ? { key_id: keyId } : {}) },
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
    const address = credentials.clientAddress ?? ANY_ADDRESS;
    // An address that has used up its failed attempts is held back before its credentials are
    // looked at, so a guesser cannot tell a right guess from a wrong one until retry_after.
    this.failures.check(address);
    const principal = await this.resolveUnbound(credentials, address);
    const boundTo = credentials.boundTo;
    if (boundTo !== undefined && principal.agentId !== boundTo) {
      throw new AppError(
        'PERMISSION_DENIED',
        `This MCP session belongs to agent ${boundTo}; you are ${principal.agentId}. Open your own session with initialize.`,
      );
    }
    return principal;
  }

  private async resolveUnbound(credentials: Credentials, address: string): Promise<Principal> {
    const token = credentials.bearer ?? credentials.argToken;
    if (token !== undefined && token.length > 0) {
      const claims = await this.verifyToken(token, address);
      return makePrincipal(
        claims.agentId,
        claims.agentType,
        claims.permissions,
        { id: claims.jti, expiresAt: claims.expiresAt },
        { via: originOf(claims), keyId: claims.keyId },
      );
    }
    if (credentials.apiKey !== undefined) {
      const match = await this.identify(credentials.apiKey);
      if (match === undefined) throw this.rejected(address, invalidKey());
      if (match.via === 'agent') {
        const own = this.actAsKeyAgent(match.key, credentials.agentId, credentials.agentType, {
          id: 'the X-Agent-Id header',
          type: 'the X-Agent-Type header',
        });
        return makePrincipal(own.agentId, own.agentType, ['read', 'write'], undefined, {
          via: 'agent',
          keyId: match.key.key_id,
        });
      }
      const agentId = credentials.agentId;
      if (agentId === undefined || !AGENT_ID_PATTERN.test(agentId)) {
        throw new AppError(
          'UNAUTHORIZED',
          'API-key authentication needs an X-Agent-Id header: 1–100 characters of letters, digits, ".", "_", ":" or "-".',
        );
      }
      if (match.via === 'shared') this.assertSharedMayActAs(agentId);
      const agentType = credentials.agentType ?? 'generic';
      const permissions: Permission[] =
        match.via === 'admin' ? ['read', 'write', 'admin'] : ['read', 'write'];
      return makePrincipal(agentId, agentType, permissions, undefined, { via: match.via });
    }
    throw unauthorized();
  }

  /**
   * A token's claims, or TOKEN_EXPIRED / TOKEN_REVOKED / UNAUTHORIZED (which costs `address` an
   * attempt). A token minted from an agent key ends with the key; one minted with the shared key
   * cannot act as an agent that has its own key under REQUIRE_AGENT_KEYS, however old it is.
   */
  private async verifyToken(token: string, address?: string): Promise<TokenClaims> {
    let claims = this.verified.get(token);
    if (claims === undefined || claims.expiresAt * 1000 <= Date.now()) {
      this.verified.delete(token);
      try {
        claims = await this.codec.verify(token);
      } catch (error) {
        if (address !== undefined && error instanceof AppError && error.code === 'UNAUTHORIZED') {
          this.failures.charge(address);
        }
        throw error;
      }
      if (this.verified.size >= MAX_CACHED_TOKENS) this.verified.clear();
      this.verified.set(token, claims);
    }
    const cutoff = this.agentCutoffs.get(claims.agentId);
    if (this.revoked.has(claims.jti) || (cutoff !== undefined && claims.issuedAtMs <= cutoff)) {
      throw new AppError(
        'TOKEN_REVOKED',
        'The token was revoked. Call authenticate_agent to get a new one.',
        {
          suggestions: ['authenticate_agent'],
        },
      );
    }
    const via = originOf(claims);
    if (via === 'agent') {
      const key = claims.keyId === undefined ? undefined : await this.agentKeys.findById(claims.keyId);
      if (key === undefined || key.revoked_at !== null || key.agent_id !== claims.agentId) {
        throw new AppError(
          'TOKEN_REVOKED',
          `The agent key this token was minted from was revoked. Ask an admin for a new key for ${claims.agentId}.`,
        );
      }
    } else if (via === 'shared') {
      this.assertSharedMayActAs(claims.agentId);
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
    const { token: fresh, claims } = await this.codec.sign(old.agentId, old.agentType, old.permissions, {
      via: originOf(old),
      keyId: old.keyId,
    });
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
    await this.store.write(async (trx) => {
      await insertRevocation(trx, {
        jti,
        agent_id: agentId,
        revoked_at: Date.now(),
        expires_at: expiresAtSec * 1000,
      });
      // Open connections (WebSockets, subscriptions) authenticated with this token end when each
      // process's feed reader reads the change this insert records.
      await auditService.record(trx, { agentId, action, details: { jti } });
    });
    this.revoked.add(jti);
  }

  /** Retention: deletes the revocations of tokens expired before `now` (ms); returns how many. */
  purgeExpiredRevocations(now: number): Promise<number> {
    return this.store.write((trx) => purgeExpiredRevocations(trx, now));
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
    issuedAtMs: 0,
    expiresAt: p.expiresAt,
    via: p.via,
    keyId: p.keyId,
  };
}

/** Tokens minted before agent keys carry no `via`: admin if they hold admin, else the shared key. */
function originOf(claims: TokenClaims): TokenOrigin {
  return claims.via ?? (claims.permissions.includes('admin') ? 'admin' : 'shared');
}
