import { fixedRateWarning } from '../../src/billing/rate-warning.js';
import { costSats, exactPrice, scaled, splitCost } from '../../src/billing/price.js';
import type { GatewayConfig, Price } from '../../src/config/types.js';
import { listModels, priceOf, satsPerMillion } from '../../src/models.js';
import type { BackendPool } from '../../src/proxy/pool.js';
import type { Oracle } from './oracle.js';
import { nextUtcMidnight } from './publisher.js';
import type { PublishedRate } from './samples.js';

// GET /v1/oracle/rate: everything an agent needs to verify a bill — the rate in force and where
// it comes from, the margins, the formula in words, and worked examples at today's rate. Every
// sats figure comes from price.ts (exact integers), the very code that bills jobs.

export const FORMULA =
  'cost_usd = (prompt_tokens * per_m_input_usd + completion_tokens * per_m_output_usd) / 1e6; ' +
  'cost_sats = max(min_sats_per_job, ceil(cost_usd / btc_usd * 1e8)); ' +
  'gateway_sats = max(1, floor(cost_sats * (margins.inference + margins.fx))); provider_sats = cost_sats - gateway_sats; ' +
  "mint input fees (NUT-02) are the client's. Exact integer arithmetic throughout: prices in micro-USD per million tokens, " +
  'the rate in whole cents per BTC (rate_cents), margins in basis points. A job is billed at the rate in force when it was accepted.';

export const RATE_RULE =
  'btc_usd is the mean of the samples of the previous 24 hours (00:00 to 00:00 UTC), published daily at 00:00 UTC and used for ' +
  'all pricing until the next midnight. A sample is the median of the price sources that answered one poll; a source answering a ' +
  'non-positive, non-numeric or absurd (more than 10x from the median) price is ignored. Before the first day rate exists the rate ' +
  'is provisional: the mean of the first samples, else oracle.fixedRate. When a day has no sample, the last rate stays in force (stale).';

const iso = (t: number): string => new Date(t).toISOString();

function rateFields(r: PublishedRate) {
  const fixed = r.basis === 'fixed_rate';
  return {
    btc_usd: r.rateCents / 100,
    rate_cents: r.rateCents,
    status: r.status,
    basis: r.basis,
    published_at: iso(r.publishedAt),
    window_start: fixed ? null : iso(r.windowStart),
    window_end: fixed ? null : iso(r.windowEnd),
    samples: r.samples,
  };
}

export interface ExampleRow {
  model: string;
  per_m_input_usd: number;
  per_m_output_usd: number;
  per_m_input_sats: number;
  per_m_output_sats: number;
  /** One job of 1M prompt and 1M completion tokens, billed and split as the formula says. */
  job_1m_in_1m_out: { prompt_tokens: number; completion_tokens: number; cost_sats: number; gateway_sats: number; provider_sats: number };
}

/** Worked examples at `btcUsd` for every priced or served model, and '*' for the default price. */
export function examples(config: GatewayConfig, pool: BackendPool, btcUsd: number): ExampleRow[] {
  const names = new Set<string>([...Object.keys(config.pricing.models), ...listModels(pool, config, undefined).map((m) => m.id)]);
  const rows: [string, Price][] = [...[...names].sort().map((m): [string, Price] => [m, priceOf(config, m)]), ['*', config.pricing.default]];
  return rows.map(([model, p]) => {
    const per = satsPerMillion(p, btcUsd);
    const cost = costSats(exactPrice(p), 1_000_000, 1_000_000, btcUsd, config.payment.minSatsPerJob);
    const split = splitCost(cost, config.pricing.margins);
    return {
      model,
      per_m_input_usd: p.per_m_input_usd,
      per_m_output_usd: p.per_m_output_usd,
      per_m_input_sats: per.input,
      per_m_output_sats: per.output,
      job_1m_in_1m_out: { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, cost_sats: cost, gateway_sats: split.gateway, provider_sats: split.provider },
    };
  });
}

/** The provider's least share of a job of 10 sats or more, exactly: 1 − (inference + fx) in basis points. */
export function providerShareMin(config: GatewayConfig): number {
  const bps = scaled(config.pricing.margins.inference, 4) + scaled(config.pricing.margins.fx, 4);
  return Number(10000n - bps) / 10000;
}

export function rateBody(oracle: Oracle, config: GatewayConfig, pool: BackendPool, intervalSeconds: number, paid: boolean) {
  const now = oracle.now();
  const cur = oracle.current();
  const prev = oracle.previous();
  const last = oracle.latestSample();
  const warning = fixedRateWarning(config, cur.basis, { paid, rateMoves: true });
  return {
    ...rateFields(cur),
    warnings: warning ? [warning] : [],
    age_seconds: Math.floor(oracle.rateAge()),
    stale: oracle.stale(),
    next_publication_at: iso(nextUtcMidnight(now)),
    rule: RATE_RULE,
    last_sample: last ? { taken_at: iso(last.takenAt), btc_usd: last.rateCents / 100 } : null,
    poll_interval_seconds: intervalSeconds,
    sources: oracle.sourceStatuses(),
    previous: prev ? rateFields(prev) : null,
    margins: { inference: config.pricing.margins.inference, fx: config.pricing.margins.fx },
    min_sats_per_job: config.payment.minSatsPerJob,
    provider_share_min: providerShareMin(config),
    formula: FORMULA,
    examples: examples(config, pool, cur.rateCents / 100),
  };
}
