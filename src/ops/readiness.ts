import { fixedRateWarning, type PricingPlugins } from '../billing/rate-warning.js';
import { serviceKey } from '../pipeline/services.js';
import type { MintMonitor, MintStatus } from '../cashu/mint-monitor.js';
import type { GatewayConfig } from '../config/types.js';
import type { BackendPool } from '../proxy/pool.js';
import type { Db } from '../store/db.js';

// GET /readyz: ready (200) only when the store answers, every trusted mint answered its last
// check, at least one node is healthy and the rate in force is not stale. Otherwise 503 with
// every reason, each naming what failed. Warnings (e.g. real ecash priced at oracle.fixedRate)
// never make it 503. /healthz stays the plain liveness check.

/** The oracle as readiness reads it (the oracle plugin's OracleMetrics satisfies it). */
export interface RateView {
  rate(): number;
  basis(): 'samples' | 'fixed_rate';
  stale(): boolean;
  rateAge(): number;
}

/** Provided by a plugin that moves the rate (the oracle): readiness and the fixed-rate warning read it. */
export const RateViewKey = serviceKey<RateView>('rateView');

export interface ReadinessDeps {
  config: GatewayConfig;
  /** What the enabled plugins do about payment and pricing. */
  enabled: PricingPlugins;
  db: Db;
  pool: BackendPool;
  /** Watches the trusted mints; absent when no payment plugin runs. */
  mints?: MintMonitor;
  /** The oracle in force, if the oracle plugin runs. */
  oracle(): RateView | undefined;
  storeTimeoutMs?: number;
}

export interface ReadinessBody {
  status: 'ready' | 'not_ready';
  reasons: string[];
  warnings: string[];
  store: 'ok' | 'failed';
  mints: MintStatus[];
  nodes: { healthy: number; total: number };
  rate: { btc_usd: number; basis: 'samples' | 'fixed_rate'; stale: boolean } | null;
}

async function storeAnswers(db: Db, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const answered = db.get('SELECT 1 AS ok').then(() => undefined);
    const late = new Promise<string>((r) => (timer = setTimeout(() => r(`no answer within ${timeoutMs} ms`), timeoutMs)));
    return await Promise.race([answered, late]);
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(deps: ReadinessDeps): Promise<ReadinessBody> {
  const { config } = deps;
  const reasons: string[] = [];
  const warnings: string[] = [];

  const storeError = await storeAnswers(deps.db, deps.storeTimeoutMs ?? 2000);
  if (storeError) reasons.push(`store: ${storeError}`);

  const mints = deps.mints?.status() ?? [];
  for (const m of mints) {
    if (m.up === null) reasons.push(`mint ${m.url}: not checked yet`);
    else if (!m.up) reasons.push(`mint ${m.url}: its last check failed (${m.error ?? 'no answer'})`);
  }

  const nodes = deps.pool.all();
  const healthy = nodes.filter((n) => n.healthy).length;
  if (healthy === 0) reasons.push(nodes.length === 0 ? 'nodes: none configured or registered' : `nodes: none of ${nodes.length} is healthy (${nodes.map((n) => n.id).join(', ')})`);

  let rate: ReadinessBody['rate'] = null;
  if (deps.enabled.paid) {
    const oracle = deps.oracle();
    const basis = oracle?.basis() ?? 'fixed_rate';
    const stale = oracle?.stale() ?? false;
    rate = { btc_usd: oracle?.rate() ?? config.oracle.fixedRate, basis, stale };
    if (stale) reasons.push(`rate: the BTC/USD rate in force is stale (${Math.floor(oracle!.rateAge() / 3600)} h old): no price source answered since its day; check oracle.sources`);
    const warning = fixedRateWarning(config, basis, deps.enabled);
    if (warning) warnings.push(warning);
  }

  return {
    status: reasons.length === 0 ? 'ready' : 'not_ready',
    reasons,
    warnings,
    store: storeError ? 'failed' : 'ok',
    mints,
    nodes: { healthy, total: nodes.length },
    rate,
  };
}
