/**
 * Domain failures. Every one carries a stable UPPER_SNAKE `code`; transports map the code to an
 * HTTP status or an MCP `isError` result in exactly one place (`httpStatusFor`, `toToolFailure`).
 */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'UNAUTHORIZED',
  'TOKEN_EXPIRED',
  'TOKEN_REVOKED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'SESSION_NOT_FOUND',
  'MESSAGE_NOT_FOUND',
  'MEMORY_NOT_FOUND',
  'CONFLICT',
  'LIMIT_EXCEEDED',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const STATUS: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_REVOKED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  MEMORY_NOT_FOUND: 404,
  CONFLICT: 409,
  LIMIT_EXCEEDED: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

export interface AppErrorOptions {
  suggestions?: string[];
  retryAfter?: number;
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly suggestions: string[] | undefined;
  readonly retryAfter: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.suggestions = options.suggestions;
    this.retryAfter = options.retryAfter;
    this.details = options.details;
  }
}

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code];
}

/** The JSON body every surface answers a failure with. */
export interface ToolFailure {
  success: false;
  error: string;
  code: ErrorCode;
  suggestions?: string[];
  retry_after?: number;
  details?: Record<string, unknown>;
}

export function toToolFailure(error: AppError): ToolFailure {
  const failure: ToolFailure = { success: false, error: error.message, code: error.code };
  if (error.suggestions) failure.suggestions = error.suggestions;
  if (error.retryAfter !== undefined) failure.retry_after = error.retryAfter;
  if (error.details) failure.details = error.details;
  return failure;
}

export const internalFailure = (): ToolFailure => ({
  success: false,
  error:
    'The server hit an unexpected error; the request was not completed. Retry, and report it if it persists.',
  code: 'INTERNAL_ERROR',
});
