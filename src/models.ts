import type { GatewayConfig, Price } from './config/types.js';
import type { BackendPool } from './proxy/pool.js';

export interface ModelEntry {
  id: string;
  object: 'model';
  owned_by: 'owlrun';
  pricing: Price;
  nodes: number;
}

export function priceOf(config: GatewayConfig, model: string): Price {
  return config.pricing.models[model] ?? config.pricing.default;
}

/** Models served by healthy backends now, with their USD prices and how many nodes serve each. */
export function listModels(pool: BackendPool, config: GatewayConfig): ModelEntry[] {
  const nodes = new Map<string, number>();
  for (const node of pool.all()) {
    if (!node.healthy) continue;
    for (const m of node.listedModels()) nodes.set(m, (nodes.get(m) ?? 0) + 1);
  }
  return [...nodes.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, count]) => {
      const p = priceOf(config, id);
      return { id, object: 'model', owned_by: 'owlrun', pricing: { per_m_input_usd: p.per_m_input_usd, per_m_output_usd: p.per_m_output_usd }, nodes: count };
    });
}
