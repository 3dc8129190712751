import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '../core/errors.js';
import { TOKEN_ISSUER } from './token.js';

/** The dashboard cookie's audience: an agent token is not a dashboard token, nor the reverse. */
export const DASHBOARD_AUDIENCE = 'scs-dashboard';
export const DASHBOARD_SUBJECT = 'dashboard';
/** How long a dashboard login lasts. */
export const DASHBOARD_TTL_SECONDS = 12 * 60 * 60;

export interface DashboardClaims {
  readonly jti: string;
  /** Sent back by the page in X-CSRF-Token on every POST: a cross-site form cannot read it. */
  readonly csrf: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/**
 * Signs and verifies the dashboard's cookie JWT: HS256 pinned, `exp`, `jti` and `csrf` required,
 * issuer and audience checked. Pure: revocation is the auth service's business.
 */
export class DashboardTokenCodec {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(): Promise<{ token: string; claims: DashboardClaims }> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const claims: DashboardClaims = {
      jti: randomUUID(),
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: issuedAt + DASHBOARD_TTL_SECONDS,
    };
    const token = await new SignJWT({ csrf: claims.csrf })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(DASHBOARD_AUDIENCE)
      .setSubject(DASHBOARD_SUBJECT)
      .setJti(claims.jti)
      .setIssuedAt(issuedAt)
      .setExpirationTime(claims.expiresAt)
      .sign(this.key);
    return { token, claims };
  }

  /** The claims, or UNAUTHORIZED (bad token) / TOKEN_EXPIRED. */
  async verify(token: string): Promise<DashboardClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: DASHBOARD_AUDIENCE,
        subject: DASHBOARD_SUBJECT,
        requiredClaims: ['exp', 'jti', 'csrf'],
      });
      if (typeof payload.csrf !== 'string' || typeof payload.jti !== 'string') throw new Error('claims');
      return { jti: payload.jti, csrf: payload.csrf, expiresAt: payload.exp as number };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        throw new AppError('TOKEN_EXPIRED', 'The dashboard login has expired: log in again.');
      }
      throw new AppError('UNAUTHORIZED', 'The dashboard cookie is not valid for this server: log in again.');
    }
  }
}
