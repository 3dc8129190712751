import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr (stdout belongs to the stdio transport). Credentials are redacted
 * wherever they might appear in a logged object.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'shared-context-server' },
      redact: {
        paths: [
          'token',
          'api_key',
          'auth_token',
          '*.token',
          '*.api_key',
          '*.auth_token',
          'headers.authorization',
          'headers["x-api-key"]',
          'req.headers.authorization',
          'req.headers["x-api-key"]',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
