/**
 * The gateway's receipt for a job paid with proofs of these secrets, computed before the request
 * leaves so its change can be found even when no response ever arrives:
 *   receipt = base64url(sha256("owlrun-receipt-v1" ‖ 0x00 ‖ the secrets, sorted, 0x00-separated))
 * (the gateway's own derivation, plugins/payment/receipt.ts; tested to agree).
 */
export async function receiptOf(secrets: readonly string[]): Promise<string> {
  const data = new TextEncoder().encode(['owlrun-receipt-v1', ...[...secrets].sort()].join('\0'));
  const hash = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data));
  let bin = '';
  for (const b of hash) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
