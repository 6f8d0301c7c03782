import { costSats, exactPrice } from '../../src/billing/price.js';
import { moneyServices } from '../../src/money/services.js';
import type { GatewayPlugin } from '../../src/pipeline/plugin.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';

export const FORMULA =
  'cost_usd = (prompt_tokens * per_m_input_usd + completion_tokens * per_m_output_usd) / 1e6; ' +
  'cost_sats = max(min_sats_per_job, ceil(cost_usd / btc_usd * 1e8)); ' +
  'gateway_sats = max(1, floor(cost_sats * (margins.inference + margins.fx))); provider_sats = cost_sats - gateway_sats; ' +
  'mint input fees (NUT-02) are the client\'s; integer arithmetic throughout';

/**
 * The rate in force and the pricing formula, for agents to verify a bill. Until price sources
 * are polled (oracle.sources), the rate is oracle.fixedRate and says so (status "fixed").
 */
export async function create(deps: PluginDeps): Promise<GatewayPlugin> {
  const money = await moneyServices(deps);
  const { config } = deps;
  return {
    name: 'oracle',
    priority: 600,
    routes(router) {
      router.get('/v1/oracle/rate', (ctx) => {
        const btcUsd = money.billing.btcUsd();
        const min = config.payment.minSatsPerJob;
        const models = { ...config.pricing.models, '*': config.pricing.default };
        ctx.body = {
          btc_usd: btcUsd,
          status: 'fixed',
          source: 'oracle.fixedRate',
          margins: config.pricing.margins,
          min_sats_per_job: min,
          provider_share_min: 0.9,
          formula: FORMULA,
          examples: Object.entries(models).map(([model, p]) => ({
            model,
            per_m_input_usd: p.per_m_input_usd,
            per_m_output_usd: p.per_m_output_usd,
            sats_per_m_input: costSats(exactPrice(p), 1_000_000, 0, btcUsd, 0),
            sats_per_m_output: costSats(exactPrice(p), 0, 1_000_000, btcUsd, 0),
          })),
        };
      });
    },
  };
}
