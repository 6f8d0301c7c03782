import { createHash } from 'node:crypto';
import type { InspectedToken } from '../../src/cashu/types.js';

/**
 * A job's receipt, derived from the secrets of the token that paid for it: unguessable (256
 * bits from bearer secrets) and known to whoever holds the token, so a client that lost the
 * response before its headers can still compute it and fetch its change or refund:
 *   receipt = base64url(sha256("owlrun-receipt-v1" ‖ 0x00 ‖ the proofs' secrets, sorted, 0x00-separated))
 * The same token always maps to the same job: paying twice with it finds the first job.
 */
export function receiptOf(token: Pick<InspectedToken, 'proofs'>): string {
  const secrets = token.proofs.map((p) => p.secret).sort();
  return createHash('sha256').update(['owlrun-receipt-v1', ...secrets].join('\0')).digest('base64url');
}
