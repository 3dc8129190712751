/**
 * The /ui/api client. Same-origin cookie auth; every POST carries the CSRF token the server gave at
 * login (or GET me). A 401 anywhere means the cookie is gone or expired: the app shows the login form.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds to wait before trying again (429's Retry-After), when the server said. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** A GET answered 429 is retried after Retry-After when that is at most this long (seconds)… */
const MAX_RETRY_WAIT_S = 10;
/** …this many times. */
const MAX_RETRIES = 2;

let csrf: string | null = null;
let onUnauthorized: () => void = () => {};

/** Called once by the app: what to do when the server answers 401. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export function setCsrf(token: string | null): void {
  csrf = token;
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown, retries = 0): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    if (csrf !== null) headers['x-csrf-token'] = csrf;
  }
  const res = await fetch(`/ui/api/${path}`, {
    method,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = (json ?? {}) as { code?: string; error?: string; message?: string };
    // A failed login is a 401 too, but it is answered on the form, not by resetting the app.
    if (res.status === 401 && path !== 'login') onUnauthorized();
    const header = Number(res.headers.get('retry-after'));
    const retryAfter = Number.isFinite(header) && header > 0 ? header : undefined;
    // The dashboard's calls are rate-limited: a read waits its turn once or twice (a write, which
    // a person sent, is reported instead).
    if (res.status === 429 && method === 'GET' && retryAfter !== undefined) {
      if (retryAfter <= MAX_RETRY_WAIT_S && retries < MAX_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
        return request<T>(method, path, body, retries + 1);
      }
    }
    throw new ApiError(
      res.status,
      err.code ?? String(res.status),
      err.message ?? err.error ?? res.statusText,
      retryAfter,
    );
  }
  return json as T;
}

const query = (params: Record<string, string | number | undefined | null>): string => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};

export const api = {
  get: <T>(path: string, params: Record<string, string | number | undefined | null> = {}) =>
    request<T>('GET', `${path}${query(params)}`),
  post: <T>(path: string, body: unknown = {}) => request<T>('POST', path, body),
};

/** Who is logged in; also refreshes the CSRF token. Throws ApiError(401) when nobody is. */
export async function loadMe(): Promise<{ user: string; csrf: string }> {
  const me = await api.get<{ user: string; csrf: string }>('me');
  setCsrf(me.csrf);
  return me;
}

export async function login(password: string): Promise<void> {
  const res = await api.post<{ ok: boolean; csrf: string }>('login', { password });
  setCsrf(res.csrf);
}

export async function logout(): Promise<void> {
  await api.post('logout');
  setCsrf(null);
}
