import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '../core/errors.js';
import { PERMISSIONS, type Permission } from './principal.js';

export const TOKEN_ISSUER = 'shared-context-server';
export const TOKEN_AUDIENCE = 'shared-context-server/agents';

/** Which key a token was minted with: the shared API key, the admin key, or an agent key. */
export const TOKEN_ORIGINS = ['shared', 'admin', 'agent'] as const;
export type TokenOrigin = (typeof TOKEN_ORIGINS)[number];

export interface TokenClaims {
  jti: string;
  agentId: string;
  agentType: string;
  permissions: Permission[];
  issuedAt: number;
  /** When it was issued, in ms (iat is in seconds): a revocation of the agent ends tokens issued before it. */
  issuedAtMs: number;
  expiresAt: number;
  /** Absent in tokens minted before agent keys existed (treated as shared unless they carry admin). */
  via?: TokenOrigin | undefined;
  /** The agent key a token was minted from (via "agent"): revoking that key ends the token. */
  keyId?: string | undefined;
}

/**
 * Signs and verifies agent tokens: HS256 pinned, `exp` required, issuer and audience checked.
 * Pure: it knows nothing of revocation or storage, and throws AppErrors with auth codes.
 */
export class TokenCodec {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(
    agentId: string,
    agentType: string,
    permissions: Permission[],
    origin: { via: TokenOrigin; keyId?: string | undefined } = { via: 'shared' },
  ): Promise<{ token: string; claims: TokenClaims }> {
    const issuedAtMs = Date.now();
    const issuedAt = Math.floor(issuedAtMs / 1000);
    const claims: TokenClaims = {
      jti: randomUUID(),
      agentId,
      agentType,
      permissions,
      issuedAt,
      issuedAtMs,
      expiresAt: issuedAt + this.ttlSeconds,
      via: origin.via,
      keyId: origin.keyId,
    };
    const payload: Record<string, unknown> = {
      agent_id: agentId,
      agent_type: agentType,
      permissions,
      via: origin.via,
      iat_ms: issuedAtMs,
    };
    if (origin.keyId !== undefined) payload.key_id = origin.keyId;
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(agentId)
      .setJti(claims.jti)
      .setIssuedAt(issuedAt)
      .setExpirationTime(claims.expiresAt)
      .sign(this.key);
    return { token, claims };
  }

  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['exp', 'iat', 'jti'],
      });
      const permissions = Array.isArray(payload.permissions)
        ? payload.permissions.filter((p): p is Permission => (PERMISSIONS as readonly unknown[]).includes(p))
        : [];
      if (typeof payload.agent_id !== 'string' || typeof payload.agent_type !== 'string') {
        throw new AppError('UNAUTHORIZED', 'The token is not an agent token of this server.');
      }
      return {
        jti: payload.jti as string,
        agentId: payload.agent_id,
        agentType: payload.agent_type,
        permissions,
        issuedAt: payload.iat as number,
        // Tokens from before iat_ms count as issued at the start of their second.
        issuedAtMs: typeof payload.iat_ms === 'number' ? payload.iat_ms : (payload.iat as number) * 1000,
        expiresAt: payload.exp as number,
        via: (TOKEN_ORIGINS as readonly unknown[]).includes(payload.via)
          ? (payload.via as TokenOrigin)
          : undefined,
        keyId: typeof payload.key_id === 'string' ? payload.key_id : undefined,
      };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof joseErrors.JWTExpired) {
        throw new AppError(
          'TOKEN_EXPIRED',
          'The token has expired. Call authenticate_agent again to get a new one.',
          {
            suggestions: ['authenticate_agent'],
          },
        );
      }
      throw new AppError(
        'UNAUTHORIZED',
        'The token is not valid for this server (bad signature, format, issuer or audience). Call authenticate_agent to get a new one.',
        { suggestions: ['authenticate_agent'] },
      );
    }
  }
}
