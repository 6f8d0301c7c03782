import type { Price } from '../config/types.js';

// The contract's pricing formula in exact integer arithmetic (never floating point on money):
//   cost_usd  = (prompt × per_m_input_usd + completion × per_m_output_usd) / 1e6
//   cost_sats = max(minSatsPerJob, ceil(cost_usd / btc_usd × 1e8))
//   gateway   = max(1, floor(cost_sats × (margins.inference + margins.fx))), provider = rest
// Units: prices in micro-dollars per million tokens (so a token costs that many pico-dollars),
// the rate in cents per BTC, margins in basis points.

/** A decimal from the config as an integer of 10^-decimals units. Config decimals have ≤ 6 places. */
export function scaled(value: number, decimals: number): bigint {
  return BigInt(Math.round(value * 10 ** decimals));
}

export interface ExactPrice {
  /** micro-USD per million prompt tokens = pico-USD per prompt token */
  inputPico: bigint;
  outputPico: bigint;
}

export function exactPrice(p: Price): ExactPrice {
  return { inputPico: scaled(p.per_m_input_usd, 6), outputPico: scaled(p.per_m_output_usd, 6) };
}

/** cents per BTC */
export function rateCents(btcUsd: number): bigint {
  const c = scaled(btcUsd, 2);
  if (c <= 0n) throw new Error('BTC/USD rate must be positive');
  return c;
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a <= 0n ? 0n : (a + b - 1n) / b);

/** pico-USD (1e-12 USD) of a job. */
export function costPico(price: ExactPrice, promptTokens: number, completionTokens: number): bigint {
  return BigInt(promptTokens) * price.inputPico + BigInt(completionTokens) * price.outputPico;
}

/** sats = ceil(pico × 1e-12 / (cents / 100) × 1e8) = ceil(pico / (100 × cents)), at least minSats. */
export function costSats(price: ExactPrice, promptTokens: number, completionTokens: number, btcUsd: number, minSats: number): number {
  const sats = ceilDiv(costPico(price, promptTokens, completionTokens), 100n * rateCents(btcUsd));
  return Number(sats > BigInt(minSats) ? sats : BigInt(minSats));
}

/** How many completion tokens `sats` pays for after the prompt (0 when not even the prompt). */
export function affordableCompletionTokens(price: ExactPrice, promptTokens: number, sats: number, btcUsd: number): number {
  const budgetPico = BigInt(sats) * 100n * rateCents(btcUsd) - BigInt(promptTokens) * price.inputPico;
  if (budgetPico < 0n) return -1;
  if (price.outputPico === 0n) return Number.MAX_SAFE_INTEGER;
  const n = budgetPico / price.outputPico;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

export interface Margins {
  inference: number;
  fx: number;
}

/** The gateway's and the provider's shares of a job's cost. */
export function splitCost(cost: number, margins: Margins): { gateway: number; provider: number } {
  if (cost <= 0) return { gateway: 0, provider: 0 };
  const bps = scaled(margins.inference, 4) + scaled(margins.fx, 4);
  const g = (BigInt(cost) * bps) / 10000n;
  const gateway = Math.min(cost, Number(g > 1n ? g : 1n));
  return { gateway, provider: cost - gateway };
}
