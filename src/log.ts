import { pino, type Logger } from 'pino';

/**
 * The gateway's logger. Bearer money MUST never reach it: request headers are not logged, and
 * these paths are redacted as a second line of defence.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    redact: { paths: ['token', 'proofs', 'secret', 'receipt', '*.token', '*.proofs', '*.secret', '*.receipt', 'headers["x-cashu"]', 'headers.authorization'], censor: '[redacted]' },
  });
}
