/**
 * DNS-rebinding checks of the Host and Origin headers, with the results and messages of the MCP
 * SDK's `validateHostHeader`, `validateOriginHeader` and `localhostAllowedHostnames`
 * (@modelcontextprotocol/server 2.x, src/server/middleware/{hostHeader,origin}Validation.ts).
 * They live here because every request runs them and importing them from the SDK loaded the whole
 * SDK at start, which an idle server without MCP clients does not need (docs/memory.md).
 */

export type HeaderCheck = { ok: true; hostname?: string } | { ok: false; message: string };

/** The hostnames a loopback server answers to. */
export const localhostAllowedHostnames = (): string[] => ['localhost', '127.0.0.1', '[::1]'];

/**
 * Whether a Host header (port ignored; IPv6 in brackets) names one of `allowedHostnames`
 * (hostnames only, IPv6 in brackets).
 */
export function validateHostHeader(hostHeader: string | undefined, allowedHostnames: string[]): HeaderCheck {
  if (!hostHeader) return { ok: false, message: 'Missing Host header' };
  let hostname: string;
  try {
    hostname = new URL(`http://${hostHeader}`).hostname;
  } catch {
    return { ok: false, message: `Invalid Host header: ${hostHeader}` };
  }
  if (!allowedHostnames.includes(hostname)) return { ok: false, message: `Invalid Host: ${hostname}` };
  return { ok: true, hostname };
}

/**
 * Whether an Origin header is allowed: absent or empty passes (only browsers send one); otherwise
 * its hostname must be listed, or, for a scheme other than http(s), `<scheme>://*` (browser
 * extensions). A value that is no origin URL, `null` included, is refused.
 */
export function validateOriginHeader(
  originHeader: string | undefined,
  allowedOriginHostnames: string[],
): HeaderCheck {
  if (originHeader === undefined || originHeader === '') return { ok: true };
  let url: URL;
  try {
    url = new URL(originHeader);
  } catch {
    return { ok: false, message: `Invalid Origin header: ${originHeader}` };
  }
  const { hostname, protocol } = url;
  if (hostname === '') return { ok: false, message: `Invalid Origin header: ${originHeader}` };
  const anyOfScheme =
    protocol !== 'http:' && protocol !== 'https:' && allowedOriginHostnames.includes(`${protocol}//*`);
  if (!anyOfScheme && !allowedOriginHostnames.includes(hostname)) {
    return { ok: false, message: `Invalid Origin: ${hostname}` };
  }
  return { ok: true, hostname };
}
