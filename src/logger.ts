import pino, { type Logger } from 'pino';

export type { Logger };

/** Fields that hold a credential, wherever a logged object carries them (one or two levels deep). */
const SECRET_FIELDS = [
  'token',
  'auth_token',
  'api_key',
  'admin_api_key',
  'jwt_secret_key',
  'apiKey',
  'adminApiKey',
  'jwtSecret',
  'bearer',
  'argToken',
  'password',
  'secret',
  'authorization',
  'credentials',
];
const HEADER_PATHS = [
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'params.arguments.api_key',
  'params.arguments.auth_token',
];

/** JWTs (our tokens: a base64url JSON header, always `eyJ…`) and credentials in query strings. */
const JWT_PATTERN = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/g;
const SECRET_QUERY_PATTERN = /([?&](?:token|auth_token|api_key|access_token)=)[^&\s"#]+/gi;

/** Secret values this process knows (its API keys and signing secret), scrubbed from every line. */
const knownSecrets = new Set<string>();

/**
 * Registers secret values the logger must never write, whatever field or message they end up in
 * (a path-based redaction only covers fields it names). Values shorter than 8 characters are ignored.
 */
export function redactInLogs(values: Iterable<string | undefined>): void {
  for (const value of values) {
    if (value === undefined || value.length < 8) continue;
    knownSecrets.add(value);
    knownSecrets.add(JSON.stringify(value).slice(1, -1));
  }
}

/** The last line of defence: runs on each serialized line just before it is written. */
function scrub(line: string): string {
  let out = line.replace(JWT_PATTERN, '[redacted]').replace(SECRET_QUERY_PATTERN, '$1[redacted]');
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.replaceAll(secret, '[redacted]');
  return out;
}

/**
 * Structured JSON logs on stderr (stdout belongs to the stdio transport). Credentials are redacted
 * by field name wherever they might appear in a logged object, and by value (known keys, anything
 * shaped like a JWT, `token=` in URLs) in every line, messages and error stacks included.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'shared-context-server' },
      redact: {
        paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((field) => `*.${field}`), ...HEADER_PATHS],
        censor: '[redacted]',
      },
      hooks: { streamWrite: scrub },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
