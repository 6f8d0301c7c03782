import { createHash } from 'node:crypto';

/** First 12 hex chars of sha256(value): the most of a token, secret or receipt a log may hold. */
export function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}
