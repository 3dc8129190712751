import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '../core/errors.js';
import { PERMISSIONS, type Permission } from './principal.js';

export const TOKEN_ISSUER = 'shared-context-server';
export const TOKEN_AUDIENCE = 'shared-context-server/agents';

export interface TokenClaims {
  jti: string;
  agentId: string;
  agentType: string;
  permissions: Permission[];
  issuedAt: number;
  expiresAt: number;
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
  ): Promise<{ token: string; claims: TokenClaims }> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      jti: randomUUID(),
      agentId,
      agentType,
      permissions,
      issuedAt,
      expiresAt: issuedAt + this.ttlSeconds,
    };
    const token = await new SignJWT({ agent_id: agentId, agent_type: agentType, permissions })
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
        expiresAt: payload.exp as number,
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
