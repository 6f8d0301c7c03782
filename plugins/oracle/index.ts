import type Router from '@koa/router';
import { ConfigError } from '../../src/config/spec.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { parseJsonObject, readBody } from '../../src/http/body.js';
import type { RouteScopes } from '../../src/http/scopes.js';
import { QuotedRateKey } from '../../src/models.js';
import { moneyServices } from '../../src/money/services.js';
import type { PluginHooks } from '../../src/pipeline/plugin.js';
import { serviceKey } from '../../src/pipeline/services.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import type { InferFields } from '../../src/config/spec.js';
import { oracleConfig } from './config.js';
import { RateViewKey } from '../../src/ops/readiness.js';
import { TrustedMintsKey } from '../../src/cashu/mint-monitor.js';
import { Broadcasts, BROADCASTS_MIGRATIONS, view } from './broadcasts.js';
import { Oracle } from './oracle.js';
import { DAY_MS, ORACLE_MIGRATIONS, OracleRepo } from './samples.js';
import { rateBody } from './view.js';

export { FORMULA } from './view.js';
export type { OracleMetrics } from './oracle.js';

/** The running oracle: its rate for the metrics plugin (OracleMetrics), and for tests. */
export const OracleKey = serviceKey<Oracle>('oracle');

const ADMIN_BODY_LIMIT = 64 * 1024;

/** Source names key the per-source status and metrics: unique; URLs: http(s). */
function checkSources(config: GatewayConfig): void {
  const seen = new Set<string>();
  config.oracle.sources.forEach((s, i) => {
    if (!/^https?:\/\/\S+$/.test(s.url)) throw new ConfigError(`oracle.sources[${i}].url`, `expected an http(s) URL, got ${JSON.stringify(s.url)}`);
    if (seen.has(s.name)) throw new ConfigError(`oracle.sources[${i}].name`, `duplicate source name "${s.name}"`);
    seen.add(s.name);
  });
}

/**
 * The BTC/USD oracle, and the announcements:
 * - polls oracle.sources every oracle.intervalSeconds, stores each round's median, publishes the
 *   previous 24 h's mean at 00:00 UTC; Billing quotes every job at that rate (fixed per job);
 * - GET /v1/oracle/rate (the rate, its provenance, margins, formula, worked examples),
 *   GET /v1/oracle/samples (the samples behind the rate in force);
 * - GET /v1/broadcasts, POST /admin/broadcasts, DELETE /admin/broadcasts/{id} (admin key).
 */
export async function create(deps: PluginDeps<InferFields<typeof oracleConfig>>): Promise<PluginHooks> {
  const { config, db, log, pool } = deps;
  const now = deps.now;

  checkSources(config);
  const broadcasts = new Broadcasts(db, config.broadcasts, now); // a wrong broadcast stops start-up, naming its key
  await broadcasts.init();
  const repo = new OracleRepo(db);
  await repo.init();
  const money = await moneyServices(deps);
  const oracle = new Oracle({
    sources: config.oracle.sources,
    fixedRate: config.oracle.fixedRate,
    intervalMs: config.oracle.intervalSeconds * 1000,
    timeoutMs: config.oracle.timeoutMs,
    repo,
    log: log.child({ plugin: 'oracle' }),
    now,
    fetcher: deps.fetch,
  });
  await oracle.start();
  money.billing.setRateSource(oracle);
  deps.services.provide(QuotedRateKey, money.billing);
  deps.services.provide(OracleKey, oracle);
  deps.services.provide(RateViewKey, oracle);

  return {

    routes(router: Router, { admin }: RouteScopes) {
      router.get('/v1/oracle/rate', (ctx) => {
        ctx.set('cache-control', 'no-store');
        ctx.body = rateBody(oracle, config, pool, config.oracle.intervalSeconds, deps.services.has(TrustedMintsKey));
      });

      router.get('/v1/oracle/samples', async (ctx) => {
        const cur = oracle.current();
        const [from, to] = cur.basis === 'fixed_rate' ? [0, 0] : cur.status === 'published' ? [cur.windowStart, cur.windowEnd] : [cur.windowStart, cur.windowEnd + 1];
        const samples = to > from ? await repo.samples(from, to, 2 * (DAY_MS / 1000)) : [];
        ctx.set('cache-control', 'no-store');
        ctx.body = {
          btc_usd: cur.rateCents / 100,
          status: cur.status,
          window_start: to > from ? new Date(cur.windowStart).toISOString() : null,
          window_end: to > from ? new Date(cur.windowEnd).toISOString() : null,
          samples: samples.map((s) => ({ taken_at: new Date(s.takenAt).toISOString(), btc_usd: s.rateCents / 100, sources: s.sources })),
        };
      });

      router.get('/v1/broadcasts', async (ctx) => {
        ctx.set('cache-control', 'no-store');
        ctx.body = { object: 'list', data: (await broadcasts.current()).map(view) };
      });

      admin.post('/broadcasts', async (ctx) => {
        const body = parseJsonObject(await readBody(ctx.req, ADMIN_BODY_LIMIT));
        const { broadcast, created } = await broadcasts.put(body);
        log.info({ id: broadcast.id, level: broadcast.level, created }, 'broadcast saved by admin');
        ctx.status = created ? 201 : 200;
        ctx.body = view(broadcast);
      });

      admin.delete('/broadcasts/:id', async (ctx) => {
        const id = ctx.params.id ?? '';
        if (!(await broadcasts.remove(id))) throw new GatewayError('route_not_found', `no broadcast "${id}" added by an admin`);
        log.info({ id }, 'broadcast removed by admin');
        ctx.status = 204;
      });
    },

    async close() {
      await oracle.close();
    },
  };
}

/** The BTC/USD rate new jobs are quoted at (for payment, when it runs) and the announcements. */
export const manifest = definePlugin({
  name: 'oracle',
  priority: 600,
  config: oracleConfig,
  migrations: [ORACLE_MIGRATIONS, BROADCASTS_MIGRATIONS],
  provides: [OracleKey, QuotedRateKey, RateViewKey],
  create,
});
