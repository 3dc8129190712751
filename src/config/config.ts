import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Every variable documented in the README is read here, once, at start. */
const EnvSchema = z.object({
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: int(0, 65535).default(23456),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_POOL_SIZE: int(1, 1_000).default(10),
  API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  JWT_SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_TOKEN_EXPIRY: int(60, 31_536_000).default(86_400),
  ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  CORS_ORIGINS: csv.default([]),
  ALLOWED_HOSTS: csv.optional(),
  TRUST_PROXY: int(0, 10).default(0),
  RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).max(1_000_000).default(10),
  RATE_LIMIT_BURST: int(1, 1_000_000).default(50),
  RATE_LIMIT_ANONYMOUS_PER_SECOND: z.coerce.number().min(0).max(1_000_000).default(5),
  RATE_LIMIT_ANONYMOUS_BURST: int(1, 1_000_000).default(100),
  REQUIRE_AGENT_KEYS: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  MAX_MCP_SESSIONS: int(1, 1_000_000).default(1_000),
  MCP_SESSION_IDLE_SECONDS: int(10, 31_536_000).default(1_800),
  MCP_ANONYMOUS_SESSION_IDLE_SECONDS: int(1, 31_536_000).default(60),
  MAX_REPLY_BYTES: int(64 * 1024, 1_073_741_824).default(1_048_576),
  MAX_CLIENT_BUFFER_BYTES: int(64 * 1024, 1_073_741_824).default(4_194_304),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  MAX_CONTENT_LENGTH: int(1, 10_000_000).default(100_000),
  MAX_MEMORY_VALUE_BYTES: int(1, 10_000_000).default(1_000_000),
  RETENTION_INTERVAL_SECONDS: int(0, 31_536_000).default(3_600),
  RETENTION_MESSAGE_DAYS: int(0, 36_500).default(0),
  RETENTION_ARCHIVED_SESSION_DAYS: int(0, 36_500).default(0),
  RETENTION_AUDIT_DAYS: int(0, 36_500).default(90),
  RETENTION_CHANGES_DAYS: int(0, 36_500).default(7),
});

export type DatabaseTarget =
  | { kind: 'sqlite'; file: string }
  /** `poolSize`: connections this process keeps open (DATABASE_POOL_SIZE), plus one for LISTEN. */
  | { kind: 'postgres'; url: string; poolSize: number };

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly database: DatabaseTarget;
  readonly apiKey: string | undefined;
  readonly adminApiKey: string | undefined;
  readonly jwtSecret: string | undefined;
  readonly tokenExpirySeconds: number;
  readonly adminPassword: string | undefined;
  readonly corsOrigins: readonly string[];
  /** Host names allowed in `Host`/`Origin`; undefined means "derive from the bind address". */
  readonly allowedHosts: readonly string[] | undefined;
  /** Proxies in front of the server whose X-Forwarded-For is believed (0: none, the socket's address). */
  readonly trustProxy: number;
  /** Per agent, on every surface. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
  /** Per client address, for traffic without a valid identity: failed auth, anonymous initialize, new agent ids. */
  readonly anonymousRateLimit: { readonly perSecond: number; readonly burst: number };
  /** When true, the shared API key cannot act as (or get a token for) an agent that has its own key. */
  readonly requireAgentKeys: boolean;
  readonly limits: {
    /** Open 2025-era MCP sessions per process; initialize beyond this is refused (503). */
    readonly maxMcpSessions: number;
    /** An MCP session unused this long (and with no open stream) is closed. */
    readonly mcpSessionIdleSeconds: number;
    /** The same for a session no authenticated request has used yet. */
    readonly mcpAnonymousSessionIdleSeconds: number;
    /** A page of results stops early (has_more, next_cursor) once its items pass this many bytes. */
    readonly maxReplyBytes: number;
    /** Bytes written to one client but not yet read by it; beyond this that client alone is cut off. */
    readonly maxClientBufferBytes: number;
  };
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly maxContentLength: number;
  readonly maxMemoryValueBytes: number;
  readonly retention: {
    readonly intervalSeconds: number;
    readonly messageDays: number;
    readonly archivedSessionDays: number;
    readonly auditDays: number;
    /** The change feed's rows; a client resuming from further back is told everything it watches changed. */
    readonly changeDays: number;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function databaseTarget(url: string | undefined, dataDir: string, poolSize: number): DatabaseTarget {
  if (url === undefined) return { kind: 'sqlite', file: path.join(dataDir, 'shared-context.db') };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://'))
    return { kind: 'postgres', url, poolSize };
  if (url.startsWith('sqlite:')) {
    const file = url.replace(/^sqlite:(\/\/)?/, '');
    if (file.length === 0)
      throw new ConfigError('DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/x.db');
    return { kind: 'sqlite', file };
  }
  throw new ConfigError(`DATABASE_URL: expected sqlite:<file> or postgres://…, got "${url.split(':')[0]}:…"`);
}

/** Reads and checks the environment once; the result is frozen. Throws ConfigError with one clear line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join('.') ?? 'environment';
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid value'}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.DATA_DIR);
  return Object.freeze({
    host: e.HTTP_HOST,
    port: e.HTTP_PORT,
    dataDir,
    database: databaseTarget(e.DATABASE_URL, dataDir, e.DATABASE_POOL_SIZE),
    apiKey: e.API_KEY,
    adminApiKey: e.ADMIN_API_KEY,
    jwtSecret: e.JWT_SECRET_KEY,
    tokenExpirySeconds: e.JWT_TOKEN_EXPIRY,
    adminPassword: e.ADMIN_PASSWORD,
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    // An empty ALLOWED_HOSTS= means unset (the default list), not "refuse every host".
    allowedHosts: e.ALLOWED_HOSTS && e.ALLOWED_HOSTS.length > 0 ? Object.freeze(e.ALLOWED_HOSTS) : undefined,
    trustProxy: e.TRUST_PROXY,
    rateLimit: Object.freeze({ perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST }),
    anonymousRateLimit: Object.freeze({
      perSecond: e.RATE_LIMIT_ANONYMOUS_PER_SECOND,
      burst: e.RATE_LIMIT_ANONYMOUS_BURST,
    }),
    requireAgentKeys: e.REQUIRE_AGENT_KEYS,
    limits: Object.freeze({
      maxMcpSessions: e.MAX_MCP_SESSIONS,
      mcpSessionIdleSeconds: e.MCP_SESSION_IDLE_SECONDS,
      mcpAnonymousSessionIdleSeconds: e.MCP_ANONYMOUS_SESSION_IDLE_SECONDS,
      maxReplyBytes: e.MAX_REPLY_BYTES,
      maxClientBufferBytes: e.MAX_CLIENT_BUFFER_BYTES,
    }),
    logLevel: e.LOG_LEVEL,
    maxContentLength: e.MAX_CONTENT_LENGTH,
    maxMemoryValueBytes: e.MAX_MEMORY_VALUE_BYTES,
    retention: Object.freeze({
      intervalSeconds: e.RETENTION_INTERVAL_SECONDS,
      messageDays: e.RETENTION_MESSAGE_DAYS,
      archivedSessionDays: e.RETENTION_ARCHIVED_SESSION_DAYS,
      auditDays: e.RETENTION_AUDIT_DAYS,
      changeDays: e.RETENTION_CHANGES_DAYS,
    }),
  });
}

/** Loads `./.env` into process.env when present (variables already set win). */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file);
}
