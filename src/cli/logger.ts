import pino, { type Logger } from 'pino';
import type { Config } from '../config.ts';

/**
 * The process logger. Tokens never reach the logs: authorization headers and token fields are
 * redacted wherever they appear.
 */
export function createLogger(config: Pick<Config, 'AM_LOG_LEVEL'>, name: string): Logger {
  return pino({
    name,
    level: config.AM_LOG_LEVEL,
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        'authorization',
        'token',
        'auth_token',
        '*.token',
        '*.auth_token',
        'config.AM_ADMIN_TOKEN',
        'config.AM_TOKEN',
        'config.OPENAI_API_KEY',
        'config.NATS_PASSWORD',
        'config.AM_SESSION_SECRET',
        'req.headers.cookie',
        'headers.cookie',
      ],
      censor: '[redacted]',
    },
  });
}
