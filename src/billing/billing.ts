import type { GatewayConfig } from '../config/types.js';
import { priceOf } from '../models.js';
import { estimatePromptTokens, loadTokenizer } from './estimate.js';
import { affordableCompletionTokens, costSats, exactPrice, rateCents, splitCost, type ExactPrice } from './price.js';
import type { RateSource } from './rate.js';

/** A job's price, fixed when it is accepted: the same numbers bill it, even after a restart. */
export interface Quote {
  readonly price: ExactPrice;
  readonly btcUsd: number;
  readonly minSats: number;
  readonly promptEstimate: number;
  /** The least this request can cost: the estimated prompt plus one completion token, ≥ minSats. */
  readonly leastSats: number;
}

export interface Bill {
  costSats: number;
  gatewaySats: number;
  providerSats: number;
}

/** Prices jobs with the contract's formula at the rate in force. */
export class Billing {
  constructor(
    private readonly config: GatewayConfig,
    private rate: RateSource,
  ) {
    // Quotes and bills count tokens: load the tokenizer now, not in a request.
    loadTokenizer();
  }

  setRateSource(rate: RateSource): void {
    this.rate = rate;
  }

  btcUsd(): number {
    return this.rate.btcUsd();
  }

  quote(model: string, body: Record<string, unknown>): Quote {
    const price = exactPrice(priceOf(this.config, model));
    const btcUsd = this.rate.btcUsd();
    const minSats = this.config.payment.minSatsPerJob;
    const promptEstimate = estimatePromptTokens(body);
    return { price, btcUsd, minSats, promptEstimate, leastSats: costSats(price, promptEstimate, 1, btcUsd, minSats) };
  }

  /** Completion tokens `sats` buys after the estimated prompt (≥ 0). */
  budget(q: Quote, sats: number): number {
    return Math.max(0, affordableCompletionTokens(q.price, q.promptEstimate, sats, q.btcUsd));
  }

  /** The bill for counted tokens, never more than `available` (the client never pays past its token). */
  bill(q: Quote, promptTokens: number, completionTokens: number, available: number): Bill {
    const cost = Math.min(available, costSats(q.price, promptTokens, completionTokens, q.btcUsd, q.minSats));
    const split = splitCost(cost, this.config.pricing.margins);
    return { costSats: cost, gatewaySats: split.gateway, providerSats: split.provider };
  }

  /** Rebuilds a quote from the numbers a job row kept. */
  static quoteFromRow(row: { price_in_pico: number; price_out_pico: number; rate_cents: number; min_sats: number; prompt_estimate: number }): Quote {
    const price = { inputPico: BigInt(row.price_in_pico), outputPico: BigInt(row.price_out_pico) };
    const btcUsd = row.rate_cents / 100;
    return { price, btcUsd, minSats: row.min_sats, promptEstimate: row.prompt_estimate, leastSats: costSats(price, row.prompt_estimate, 1, btcUsd, row.min_sats) };
  }

  static rateCentsOf(q: Quote): number {
    return Number(rateCents(q.btcUsd));
  }
}
