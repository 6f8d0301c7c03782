import { PaymentRequest } from '@cashu/cashu-ts';

/** NUT-18 payment request (creqA) for NUT-24's 402: amount, unit sat, the trusted mints. */
export function paymentRequest(amount: number, mints: readonly string[], description: string): string {
  // No transport: NUT-24 payments come back in-band, in the X-Cashu header of the retried request.
  return new PaymentRequest(undefined, undefined, amount, 'sat', [...mints], description, true).toEncodedCreqA();
}
