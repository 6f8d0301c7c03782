/** Where the BTC/USD rate in force comes from (the oracle plugin, or the configured fixed rate). */
export interface RateSource {
  /** BTC/USD used for pricing now. MUST be positive and finite. */
  btcUsd(): number;
}

export class FixedRate implements RateSource {
  constructor(private readonly rate: number) {}
  btcUsd(): number {
    return this.rate;
  }
}
