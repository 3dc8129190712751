import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { headerValue } from '../http/request.js';

/** The dashboard's login cookie: a JWT only the server reads (HttpOnly), sent only to /ui. */
export const UI_COOKIE = 'scs_ui';

/** Whether the browser reached us over TLS: directly, or through a proxy that says so. */
export function isSecureRequest(req: IncomingMessage): boolean {
  if ((req.socket as Partial<TLSSocket>).encrypted === true) return true;
  const forwarded = headerValue(req, 'x-forwarded-proto');
  return forwarded?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/** The value of one cookie of the request, if it was sent. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = headerValue(req, 'cookie');
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at < 0 || part.slice(0, at).trim() !== name) continue;
    return part.slice(at + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a login; `Secure` whenever the request came over TLS (a plain-HTTP browser would drop it). */
export function loginCookie(req: IncomingMessage, token: string, maxAgeSeconds: number): string {
  return cookie(req, token, Math.max(0, Math.floor(maxAgeSeconds)));
}

/** Set-Cookie that makes the browser forget the login. */
export function clearedCookie(req: IncomingMessage): string {
  return cookie(req, '', 0);
}

function cookie(req: IncomingMessage, value: string, maxAge: number): string {
  const secure = isSecureRequest(req) ? '; Secure' : '';
  return `${UI_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=${maxAge}${secure}`;
}
