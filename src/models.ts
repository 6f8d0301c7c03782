import { costSats, exactPrice } from './billing/price.js';
import type { GatewayConfig, Price } from './config/types.js';
import { serviceKey } from './pipeline/services.js';
import type { BackendPool } from './proxy/pool.js';

/** USD per million tokens (the config), plus sats per million at the rate new jobs are quoted at. */
export interface ModelPricing extends Price {
  per_m_input_sats?: number;
  per_m_output_sats?: number;
  btc_usd?: number;
}

export interface ModelEntry {
  id: string;
  object: 'model';
  owned_by: 'owlrun';
  pricing: ModelPricing;
  nodes: number;
}

/**
 * The BTC/USD rate new jobs are quoted at, provided by the plugins that price jobs (payment, and
 * the oracle that moves the rate): /v1/models then shows sats prices. A plain proxy has none.
 */
export interface QuotedRate {
  btcUsd(): number;
}
export const QuotedRateKey = serviceKey<QuotedRate>('quotedRate');

/** What a million prompt and a million completion tokens cost in sats at `btcUsd` (price.ts, exact, rounded up). */
export function satsPerMillion(p: Price, btcUsd: number): { input: number; output: number } {
  const price = exactPrice(p);
  return { input: costSats(price, 1_000_000, 0, btcUsd, 0), output: costSats(price, 0, 1_000_000, btcUsd, 0) };
}

export function priceOf(config: GatewayConfig, model: string): Price {
  return config.pricing.models[model] ?? config.pricing.default;
}

/** Models served by healthy backends now, with their USD prices and how many nodes serve each. */
export function listModels(pool: BackendPool, config: GatewayConfig, rate: QuotedRate | undefined): ModelEntry[] {
  const nodes = new Map<string, number>();
  for (const node of pool.all()) {
    if (!node.healthy) continue;
    for (const m of node.listedModels()) nodes.set(m, (nodes.get(m) ?? 0) + 1);
  }
  const btcUsd = rate?.btcUsd();
  return [...nodes.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, count]) => {
      const p = priceOf(config, id);
      const pricing: ModelPricing = { per_m_input_usd: p.per_m_input_usd, per_m_output_usd: p.per_m_output_usd };
      if (btcUsd !== undefined) {
        const sats = satsPerMillion(p, btcUsd);
        Object.assign(pricing, { per_m_input_sats: sats.input, per_m_output_sats: sats.output, btc_usd: btcUsd });
      }
      return { id, object: 'model', owned_by: 'owlrun', pricing, nodes: count };
    });
}
