import { AppError } from '../core/errors.js';
import type { TokenBucketRateLimiter } from '../realtime/rate-limiter.js';
import type { AuthService } from './auth.service.js';
import { type Principal, makePrincipal } from './principal.js';
import { secretEquals } from './secrets.js';
import { type DashboardClaims, DASHBOARD_SUBJECT, DashboardTokenCodec } from './dashboard-token.js';

export type { DashboardClaims };

/** Whom the dashboard acts as: one human operator who may see and do what an admin may. */
export const DASHBOARD_PRINCIPAL: Principal = makePrincipal(DASHBOARD_SUBJECT, 'human', [
  'read',
  'write',
  'admin',
]);

const ANY_ADDRESS = 'unknown';

const loginRequired = () =>
  new AppError('UNAUTHORIZED', 'Log in to the dashboard first (POST /ui/api/login).');

/**
 * The dashboard's login: ADMIN_PASSWORD, or the admin API key when no password is set. A login is
 * a JWT (see DashboardTokenCodec) kept in a cookie; logout revokes its id in the revocation list
 * every token uses. Failed logins and bad cookies cost the address a failed-authentication token,
 * like a bad API key does; while its bucket is empty the address is refused unchecked.
 */
export class DashboardAuth {
  private readonly codec: DashboardTokenCodec;

  constructor(
    jwtSecret: string,
    /** What a login must present. */
    private readonly password: string,
    private readonly auth: AuthService,
    private readonly failures: TokenBucketRateLimiter,
  ) {
    this.codec = new DashboardTokenCodec(jwtSecret);
  }

  /**
   * A signed login for the right password; UNAUTHORIZED (charged to the address) or RATE_LIMITED
   * otherwise. Both a login and a wrong password are audited with the address (`dashboard_login`,
   * `dashboard_login_failed`); an attempt refused unchecked (429) is not, so guessing cannot flood
   * the audit trail past the failed-authentication burst.
   */
  async login(
    password: string,
    clientAddress: string | undefined,
  ): Promise<{ token: string; claims: DashboardClaims }> {
    const address = clientAddress ?? ANY_ADDRESS;
    this.failures.check(address);
    if (!secretEquals(password, this.password)) {
      this.failures.charge(address);
      await this.auth.recordAuthEvent(DASHBOARD_SUBJECT, 'dashboard_login_failed', {
        address,
        reason: 'wrong password',
      });
      throw new AppError('UNAUTHORIZED', 'Wrong password.');
    }
    const login = await this.codec.sign();
    await this.auth.recordAuthEvent(DASHBOARD_SUBJECT, 'dashboard_login', { address, jti: login.claims.jti });
    return login;
  }

  /** The login a cookie carries, or UNAUTHORIZED / TOKEN_EXPIRED / TOKEN_REVOKED / RATE_LIMITED. */
  async verify(token: string | undefined, clientAddress: string | undefined): Promise<DashboardClaims> {
    const address = clientAddress ?? ANY_ADDRESS;
    this.failures.check(address);
    if (token === undefined || token.length === 0) throw loginRequired();
    let claims: DashboardClaims;
    try {
      claims = await this.codec.verify(token);
    } catch (error) {
      if (error instanceof AppError && error.code === 'UNAUTHORIZED') this.failures.charge(address);
      throw error;
    }
    if (this.auth.isRevoked(claims.jti)) {
      throw new AppError('TOKEN_REVOKED', 'This dashboard login was ended (logout): log in again.');
    }
    return claims;
  }

  /** Ends a login on every process that shares the database. */
  logout(claims: DashboardClaims): Promise<void> {
    return this.auth.revokeTokenId(claims.jti, DASHBOARD_SUBJECT, claims.expiresAt, 'dashboard_logout');
  }

  /** Constant-time check of the X-CSRF-Token header against the login's CSRF claim. */
  checkCsrf(claims: DashboardClaims, header: string | undefined): void {
    if (header === undefined || !secretEquals(header, claims.csrf)) {
      throw new AppError(
        'PERMISSION_DENIED',
        'Missing or wrong X-CSRF-Token header: send the csrf value from login or GET /ui/api/me.',
      );
    }
  }
}
