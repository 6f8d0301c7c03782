import type Router from '@koa/router';
import { ConfigError } from '../../src/config/spec.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { GatewayError } from '../../src/errors.js';
import { parseJsonObject, readBody } from '../../src/http/body.js';
import { bearer, KeyRing } from '../../src/http/keys.js';
import { setModelsRate } from '../../src/models.js';
import { moneyServices } from '../../src/money/services.js';
import type { GatewayPlugin } from '../../src/pipeline/plugin.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { Broadcasts, view } from './broadcasts.js';
import { Oracle, type OracleMetrics } from './oracle.js';
import { DAY_MS, OracleRepo } from './samples.js';
import type { Fetcher } from './sources.js';
import { rateBody } from './view.js';

export { FORMULA } from './view.js';
export type { OracleMetrics } from './oracle.js';

/** The key other plugins (metrics) read the oracle under: deps.shared.get(ORACLE_SHARED_KEY) as OracleMetrics. */
export const ORACLE_SHARED_KEY = 'oracle';

/** Test seams, per gateway (its config object): an injectable clock and fetch. */
export interface OracleHooks {
  now?: () => number;
  fetcher?: Fetcher;
}
// Process-wide (Symbol.for), not module-level: under tsx a test may hold a CommonJS copy of this
// module while the gateway loads the ESM one; both must see the same maps.
function processWide<T>(name: string, make: () => T): T {
  const g = globalThis as unknown as Record<symbol, T | undefined>;
  const key = Symbol.for(`owlrun.oracle.${name}`);
  return (g[key] ??= make());
}
const hooks = processWide('hooks', () => new WeakMap<GatewayConfig, OracleHooks>());
const instances = processWide('instances', () => new WeakMap<GatewayConfig, Oracle>());

/** Sets the oracle's clock (and fetch) for the gateway started with this config. Tests only. */
export function setOracleHooks(config: GatewayConfig, h: OracleHooks): void {
  hooks.set(config, h);
}

/** The running oracle of the gateway started with this config (tests). */
export function oracleOf(config: GatewayConfig): Oracle | undefined {
  return instances.get(config);
}

const ADMIN_BODY_LIMIT = 64 * 1024;

/**
 * Sends a GatewayError as its OpenAI-shaped body right here. The app's error handler recognises
 * GatewayError by class, which fails when it and this plugin hold different copies of errors.ts
 * (tsx in tests); answering here keeps the status and code right either way.
 */
async function answerErrors(ctx: { status: number; body: unknown; set(h: Record<string, string>): void }, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    ctx.status = err.status;
    ctx.set(err.headers);
    ctx.body = err.toBody();
  }
}

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
export async function create(deps: PluginDeps): Promise<GatewayPlugin> {
  const { config, db, log, pool } = deps;
  const h = hooks.get(config) ?? {};
  const now = h.now ?? Date.now;

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
    fetcher: h.fetcher,
  });
  await oracle.start();
  money.billing.setRateSource(oracle);
  setModelsRate(config, () => money.billing.btcUsd());
  deps.shared.set(ORACLE_SHARED_KEY, oracle satisfies OracleMetrics);
  instances.set(config, oracle);

  const adminKeys = config.admin.key || config.admin.sha256 ? new KeyRing([{ id: 'admin', key: config.admin.key, sha256: config.admin.sha256 }]) : undefined;
  const requireAdmin = (header: string | undefined): void => {
    if (!adminKeys) throw new GatewayError('route_not_found', 'admin endpoints are disabled: set admin.key (or admin.sha256) in the config');
    const key = bearer(header);
    if (!key) throw new GatewayError('auth_missing_key', 'the admin key is required: Authorization: Bearer KEY');
    if (!adminKeys.match(key)) throw new GatewayError('auth_invalid_key', 'the admin key is not valid');
  };

  return {
    name: 'oracle',
    priority: 600,

    routes(router: Router) {
      router.get('/v1/oracle/rate', (ctx) => {
        ctx.set('cache-control', 'no-store');
        ctx.body = rateBody(oracle, config, pool, config.oracle.intervalSeconds);
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

      router.post('/admin/broadcasts', (ctx) =>
        answerErrors(ctx, async () => {
          requireAdmin(ctx.get('authorization') || undefined);
          const body = parseJsonObject(await readBody(ctx.req, ADMIN_BODY_LIMIT));
          const { broadcast, created } = await broadcasts.put(body);
          log.info({ id: broadcast.id, level: broadcast.level, created }, 'broadcast saved by admin');
          ctx.status = created ? 201 : 200;
          ctx.body = view(broadcast);
        }),
      );

      router.delete('/admin/broadcasts/:id', (ctx) =>
        answerErrors(ctx, async () => {
          requireAdmin(ctx.get('authorization') || undefined);
          const id = ctx.params.id ?? '';
          if (!(await broadcasts.remove(id))) throw new GatewayError('route_not_found', `no broadcast "${id}" added by an admin`);
          log.info({ id }, 'broadcast removed by admin');
          ctx.status = 204;
        }),
      );
    },

    async close() {
      await oracle.close();
    },
  };
}
