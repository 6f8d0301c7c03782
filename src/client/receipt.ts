import { sha256 } from '@noble/hashes/sha2.js';

/**
 * The gateway's receipt for a job paid with proofs of these secrets, computed before the request
 * leaves so its change can be found even when no response ever arrives:
 *   receipt = base64url(sha256("owlrun-receipt-v1" ‖ 0x00 ‖ the secrets, sorted, 0x00-separated))
 * (the gateway's own derivation, plugins/payment/receipt.ts; tested to agree). Synchronous and
 * without WebCrypto, so it also works on pages served over plain http.
 */
export function receiptOf(secrets: readonly string[]): string {
  const hash = sha256(new TextEncoder().encode(['owlrun-receipt-v1', ...[...secrets].sort()].join('\0')));
  let bin = '';
  for (const b of hash) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
