/** A wallet refusal the caller can act on; `code` is stable. */
export class WalletError extends Error {
  constructor(
    readonly code: 'insufficient_balance' | 'wrong_mint' | 'wrong_seed' | 'invalid_token' | 'invalid_amount' | 'quote_expired',
    message: string,
  ) {
    super(message);
    this.name = 'WalletError';
  }
}
