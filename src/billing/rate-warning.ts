import type { GatewayConfig } from '../config/types.js';

/** What runs, as the enabled plugins' manifests say (payments taken at the trusted mints; a plugin that moves the rate). */
export interface PricingPlugins {
  paid: boolean;
  rateMoves: boolean;
}

/**
 * The warning owed whenever real ecash (devMint off, payments taken) is priced from
 * `oracle.fixedRate` — a number from the config, not the market. Undefined when there is none.
 * `basis` is where the rate in force comes from ('fixed_rate' when no oracle plugin runs).
 */
export function fixedRateWarning(config: GatewayConfig, basis: 'samples' | 'fixed_rate', enabled: PricingPlugins): string | undefined {
  if (basis !== 'fixed_rate' || config.devMint.enabled || !enabled.paid) return undefined;
  const why = !enabled.rateMoves
    ? 'the oracle plugin is not enabled'
    : config.oracle.sources.length === 0
      ? 'no oracle.sources are configured'
      : 'no oracle source has answered yet';
  return `real ecash is priced from oracle.fixedRate (${config.oracle.fixedRate} USD/BTC), a number from the config, not the market: ${why}. Configure oracle.sources (see config/production.example.yaml).`;
}
