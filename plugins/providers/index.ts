import type Router from '@koa/router';
import type { GatewayConfig } from '../../src/config/types.js';
import { readBody, parseJsonObject } from '../../src/http/body.js';
import { PROVIDER_KEY_DIRECTORY, type KeyDirectory } from '../../src/http/keys.js';
import { earnings, DAY_MS, type Earner } from '../../src/ledger/history.js';
import { GATEWAY_ACCOUNT, providerAccount } from '../../src/ledger/jobs.js';
import { RegistrationsRepo } from '../../src/ledger/registrations.js';
import { WithdrawalsRepo, type WithdrawalRow } from '../../src/ledger/withdrawals.js';
import { moneyServices } from '../../src/money/services.js';
import type { GatewayPlugin } from '../../src/pipeline/plugin.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import type { SqlExecutor } from '../../src/store/db.js';
import type { TokenFormat } from '../../src/cashu/types.js';
import { ApiAuth } from './auth.js';
import { ApiError, answerErrors } from './errors.js';
import { parseAnnouncement, Registrar } from './nodes.js';
import { Withdrawer, type WithdrawResult } from './withdraw.js';

export { PROVIDER_ERRORS } from './errors.js';

const BODY_LIMIT = 64 * 1024;
const RECONCILE_MS = 30_000;
/** A withdrawal whose mint answer is missing this long is settled by the reconciler (other replicas' included). */
const IN_DOUBT_AGE_MS = 60_000;
const MAX_HISTORY_DAYS = 3660;

/** Test seams, per gateway (its config object): an injectable clock for registrations. */
export interface ProvidersHooks {
  now?: () => number;
}

/** What tests can drive directly: the registration sweep and the withdrawal reconciler. */
export interface ProvidersControl {
  /** Expires silent nodes and syncs the pool with the stored registrations. */
  refresh(): Promise<void>;
  /** Settles withdrawals whose mint answer was lost (any age). */
  reconcile(): Promise<number>;
}

// Process-wide (Symbol.for), not module-level: under tsx a test may hold another copy of this
// module than the gateway loads; both must see the same maps.
function processWide<T>(name: string, make: () => T): T {
  const g = globalThis as unknown as Record<symbol, T | undefined>;
  return (g[Symbol.for(`owlrun.providers.${name}`)] ??= make());
}
const hooks = processWide('hooks', () => new WeakMap<GatewayConfig, ProvidersHooks>());
const instances = processWide('instances', () => new WeakMap<GatewayConfig, ProvidersControl>());

/** Sets the registration clock for the gateway started with this config. Tests only. */
export function setProvidersHooks(config: GatewayConfig, h: ProvidersHooks): void {
  hooks.set(config, h);
}

/** The running plugin's sweep and reconciler, for the gateway started with this config (tests). */
export function providersOf(config: GatewayConfig): ProvidersControl | undefined {
  return instances.get(config);
}

async function jsonBody(req: Parameters<typeof readBody>[0]): Promise<Record<string, unknown>> {
  const raw = await readBody(req, BODY_LIMIT);
  return raw.length === 0 || raw.toString('utf8').trim() === '' ? {} : parseJsonObject(raw);
}

function amountParam(v: unknown): number | undefined {
  if (v === undefined || v === null || v === 'all') return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v > 2 ** 40) {
    throw new ApiError('invalid_request', 'amount_sats: a positive whole number of sats (leave it out to withdraw the whole balance)');
  }
  return v;
}

function formatParam(v: unknown): TokenFormat {
  if (v === undefined || v === null || v === 'B' || v === 'cashuB') return 'B';
  if (v === 'A' || v === 'cashuA') return 'A';
  throw new ApiError('invalid_request', 'format: "cashuA" (V3) or "cashuB" (V4, the default)');
}

function invoiceParam(v: unknown): string {
  if (typeof v !== 'string' || v.length > 4000 || !/^(lightning:)?ln[a-z0-9]+$/i.test(v.trim())) {
    throw new ApiError('invalid_request', 'invoice: a BOLT-11 invoice ("lnbc…") with an amount');
  }
  return v.trim().replace(/^lightning:/i, '').toLowerCase();
}

function daysParam(v: unknown): number {
  if (v === undefined) return 30;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_HISTORY_DAYS) throw new ApiError('invalid_request', `days: 1 to ${MAX_HISTORY_DAYS}`);
  return n;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

/** Public shape of a withdrawal. `token` (ecash) and `preimage` (Lightning) only to their owner. */
export function withdrawalView(w: WithdrawalRow): Record<string, unknown> {
  return {
    id: w.id,
    kind: w.kind,
    status: w.state === 'done' ? 'paid' : w.state === 'failed' ? 'failed' : 'pending',
    amount_sats: Number(w.amount_sats),
    fee_sats: Number(w.fee_sats),
    debited_sats: Number(w.debited_sats),
    ...(w.token ? { token: w.token } : {}),
    ...(w.preimage ? { preimage: w.preimage } : {}),
    ...(w.error ? { error: w.error } : {}),
    created_at: iso(w.created_at),
    updated_at: iso(w.updated_at),
  };
}

/**
 * Providers and the operator's books:
 * - the ledger: every settled job credits the serving node's provider and the gateway (JobsRepo.settle,
 *   in the settle transaction); GET /v1/provider/balance, /v1/provider/history, /v1/provider/withdrawals;
 * - withdrawals of a balance as ecash or over Lightning, paid from the proofs the gateway holds
 *   (withdraw.ts), for providers (/v1/provider/withdraw-*) and the operator (/admin/withdraw-*);
 * - node self-registration: POST /v1/gateway/register (nodes.ts);
 * - GET /admin/ledger: held sats = gateway + providers + sats of jobs not settled yet.
 * Loaded automatically with the change plugin.
 */
export async function create(deps: PluginDeps): Promise<GatewayPlugin> {
  const { config, db, pool, metrics } = deps;
  const log = deps.log.child({ plugin: 'providers' });
  const now = (): number => (hooks.get(config)?.now ?? Date.now)();
  const money = await moneyServices(deps);
  const withdrawals = new WithdrawalsRepo(db);
  const registrations = new RegistrationsRepo(db);
  await withdrawals.init();
  await registrations.init();
  const auth = new ApiAuth(config, () => deps.shared.get(PROVIDER_KEY_DIRECTORY) as KeyDirectory | undefined);
  const withdrawer = new Withdrawer({ db, money, repo: withdrawals, log, metrics });
  const registrar = new Registrar({ pool, repo: registrations, ttlMs: config.nodeTtlSeconds * 1000, timeoutMs: config.health.timeoutMs, log, now });

  // Registered nodes survive a restart until their TTL runs out (health-checked as the gateway starts).
  await registrar.refresh();
  // On the embedded store this process is alone: a withdrawal left at the mint is settled now.
  const alone = db.dialect === 'sqlite';
  const reconcile = async (minAgeMs: number) => {
    const n = await withdrawer.reconcile(minAgeMs);
    await withdrawals.expireTokens(Date.now() - config.payment.receiptTtl * 1000);
    return n;
  };
  await reconcile(alone ? 0 : IN_DOUBT_AGE_MS).catch((err: unknown) => log.error({ err }, 'withdrawal reconcile failed'));
  const refreshMs = Math.min(10_000, Math.max(1_000, Math.floor((config.nodeTtlSeconds * 1000) / 3)));
  let last = Date.now();
  const timer = setInterval(() => {
    registrar.refresh().catch((err: unknown) => log.error({ err }, 'node registration refresh failed'));
    if (Date.now() - last >= RECONCILE_MS) {
      last = Date.now();
      reconcile(IN_DOUBT_AGE_MS).catch((err: unknown) => log.error({ err }, 'withdrawal reconcile failed'));
    }
  }, refreshMs).unref();
  instances.set(config, { refresh: () => registrar.refresh(), reconcile: () => reconcile(0) });

  const balanceOf = async (account: string, sql: SqlExecutor = db) => {
    const b = await money.jobs.balance(account);
    const available = await withdrawals.available(sql, account);
    const withdrawn = await sql.get<{ s: number | null }>(`SELECT CAST(SUM(debited_sats) AS BIGINT) AS s FROM withdrawals WHERE account = ? AND state IN ('done', 'failed')`, [account]);
    return { balance_sats: Number(b.balance_sats), earned_sats: Number(b.earned_sats), jobs: Number(b.jobs), available_sats: Math.max(0, available), withdrawn_sats: Number(withdrawn?.s ?? 0) };
  };

  const withdrawEcash = async (account: string, body: Record<string, unknown>) => {
    const out = await withdrawer.ecash(account, { amount: amountParam(body.amount_sats), format: formatParam(body.format) });
    return answerWithdrawal(out, account);
  };
  const withdrawLightning = async (account: string, body: Record<string, unknown>) => {
    const out = await withdrawer.lightning(account, invoiceParam(body.invoice));
    return answerWithdrawal(out, account);
  };
  const answerWithdrawal = async (out: WithdrawResult, account: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const w = out.withdrawal;
    if (out.status === 'pending') {
      return {
        status: 202,
        body: { status: 'pending', withdrawal_id: w.id, amount_sats: Number(w.amount_sats), message: 'the mint did not answer; the withdrawal is settled as soon as it can tell (see the withdrawals list)' },
      };
    }
    const balance = (await money.jobs.balance(account)).balance_sats;
    const common = { status: 'paid', withdrawal_id: w.id, amount_sats: Number(w.amount_sats), fee_sats: Number(w.fee_sats), debited_sats: Number(w.debited_sats), balance_sats: Number(balance) };
    return { status: 200, body: w.kind === 'ecash' ? { token: w.token, ...common } : { ...common, preimage: w.preimage } };
  };

  const history = async (who: Earner, days: number) => {
    const since = Math.floor(now() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
    const e = await earnings(db, who, since);
    return { since: new Date(since).toISOString().slice(0, 10), days: e.rows, totals: e.totals };
  };

  const ledger = () =>
    db.tx(async (sql) => {
      const n = async (q: string, params: (string | number)[] = []) => Number((await sql.get<{ s: number | null }>(q, params))?.s ?? 0);
      const heldProofs = await n(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM wallet_proofs WHERE state = 'held'`);
      const reserved = await n(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM wallet_proofs WHERE state = 'reserved'`);
      const signed = await n(`SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS s FROM wallet_outputs WHERE state = 'signed'`);
      const pending = await n(`SELECT CAST(COALESCE(SUM(held_sats), 0) AS BIGINT) AS s FROM jobs WHERE state = 'claimed'`);
      const charged = await n(`SELECT COUNT(*) AS s FROM jobs WHERE state = 'settled' AND cost_sats > 0`);
      const running = await n(`SELECT COUNT(*) AS s FROM jobs WHERE state <> 'settled'`);
      const rows = await sql.all<{ account: string; balance_sats: number; earned_sats: number; jobs: number }>(`SELECT account, balance_sats, earned_sats, jobs FROM balances ORDER BY account`);
      const wd = await sql.all<{ account: string; w: number | null; h: number | null }>(
        `SELECT account, CAST(SUM(CASE WHEN state IN ('done', 'failed') THEN debited_sats ELSE 0 END) AS BIGINT) AS w,
                CAST(SUM(CASE WHEN state IN ('swapping', 'melting') THEN hold_sats ELSE 0 END) AS BIGINT) AS h FROM withdrawals GROUP BY account`,
      );
      const byAccount = new Map(wd.map((r) => [r.account, { withdrawn: Number(r.w ?? 0), inFlight: Number(r.h ?? 0) }]));
      const gateway = Number(rows.find((r) => r.account === GATEWAY_ACCOUNT)?.balance_sats ?? 0);
      const providers = rows.filter((r) => r.account.startsWith('provider:'));
      const providerSum = providers.reduce((s, r) => s + Number(r.balance_sats), 0);
      const held = heldProofs + reserved + signed;
      return {
        held_sats: held,
        gateway_balance_sats: gateway,
        provider_balances_sats: providerSum,
        pending_change_sats: pending,
        jobs: charged,
        balanced: held === gateway + providerSum + pending,
        reserved_sats: reserved,
        jobs_running: running,
        withdrawn_sats: wd.reduce((s, r) => s + Number(r.w ?? 0), 0),
        withdrawals_in_flight_sats: wd.reduce((s, r) => s + Number(r.h ?? 0), 0),
        gateway: { balance_sats: gateway, earned_sats: Number(rows.find((r) => r.account === GATEWAY_ACCOUNT)?.earned_sats ?? 0), withdrawn_sats: byAccount.get(GATEWAY_ACCOUNT)?.withdrawn ?? 0 },
        providers: providers.map((r) => ({
          provider: r.account.slice('provider:'.length), balance_sats: Number(r.balance_sats), earned_sats: Number(r.earned_sats), jobs: Number(r.jobs),
          withdrawn_sats: byAccount.get(r.account)?.withdrawn ?? 0,
        })),
      };
    });

  return {
    name: 'providers',
    priority: 500,

    routes(router: Router) {
      const providerOf = (ctx: { get(h: string): string; query: Record<string, unknown> }, body?: Record<string, unknown>) =>
        auth.provider(ctx.get('authorization') || undefined, ctx.query.provider ?? body?.provider);
      const noStore = (ctx: { set(k: string, v: string): void }) => ctx.set('Cache-Control', 'no-store');

      router.get('/v1/provider/balance', (ctx) =>
        answerErrors(ctx, async () => {
          const provider = await providerOf(ctx);
          noStore(ctx);
          ctx.body = { provider, ...(await balanceOf(providerAccount(provider))) };
        }),
      );

      router.get('/v1/provider/history', (ctx) =>
        answerErrors(ctx, async () => {
          const provider = await providerOf(ctx);
          noStore(ctx);
          ctx.body = { provider, ...(await history({ provider }, daysParam(ctx.query.days))) };
        }),
      );

      router.get('/v1/provider/withdrawals', (ctx) =>
        answerErrors(ctx, async () => {
          const provider = await providerOf(ctx);
          noStore(ctx);
          ctx.body = { object: 'list', data: (await withdrawals.list(providerAccount(provider))).map(withdrawalView) };
        }),
      );

      router.get('/v1/provider/nodes', (ctx) =>
        answerErrors(ctx, async () => {
          const provider = await providerOf(ctx);
          noStore(ctx);
          ctx.body = { object: 'list', data: await registrar.ofProvider(provider) };
        }),
      );

      router.post('/v1/provider/withdraw-ecash', (ctx) =>
        answerErrors(ctx, async () => {
          const body = await jsonBody(ctx.req);
          const provider = await providerOf(ctx, body);
          const out = await withdrawEcash(providerAccount(provider), body);
          noStore(ctx);
          ctx.status = out.status;
          ctx.body = { provider, ...out.body };
        }),
      );

      router.post('/v1/provider/withdraw-lightning', (ctx) =>
        answerErrors(ctx, async () => {
          const body = await jsonBody(ctx.req);
          const provider = await providerOf(ctx, body);
          const out = await withdrawLightning(providerAccount(provider), body);
          noStore(ctx);
          ctx.status = out.status;
          ctx.body = { provider, ...out.body };
        }),
      );

      router.post('/v1/gateway/register', (ctx) =>
        answerErrors(ctx, async () => {
          const body = await jsonBody(ctx.req);
          const provider = await providerOf(ctx, body);
          const { created, view } = await registrar.register(provider, parseAnnouncement(body));
          ctx.status = created ? 201 : 200;
          ctx.body = { ...view, heartbeat_seconds: Math.max(1, Math.floor(config.nodeTtlSeconds / 3)) };
        }),
      );

      router.delete('/v1/gateway/register', (ctx) =>
        answerErrors(ctx, async () => {
          const body = await jsonBody(ctx.req);
          const provider = await providerOf(ctx, body);
          await registrar.leave(provider, parseAnnouncement(body).name);
          ctx.status = 204;
        }),
      );

      router.get('/admin/ledger', (ctx) =>
        answerErrors(ctx, async () => {
          auth.requireAdmin(ctx.get('authorization') || undefined);
          noStore(ctx);
          ctx.body = await ledger();
        }),
      );

      router.get('/admin/history', (ctx) =>
        answerErrors(ctx, async () => {
          auth.requireAdmin(ctx.get('authorization') || undefined);
          const provider = typeof ctx.query.provider === 'string' && ctx.query.provider ? ctx.query.provider : undefined;
          noStore(ctx);
          ctx.body = { account: provider ?? 'gateway', ...(await history(provider ? { provider } : { gateway: true }, daysParam(ctx.query.days))) };
        }),
      );

      router.get('/admin/withdrawals', (ctx) =>
        answerErrors(ctx, async () => {
          auth.requireAdmin(ctx.get('authorization') || undefined);
          noStore(ctx);
          ctx.body = { object: 'list', data: (await withdrawals.list(GATEWAY_ACCOUNT)).map(withdrawalView) };
        }),
      );

      router.post('/admin/withdraw-ecash', (ctx) =>
        answerErrors(ctx, async () => {
          auth.requireAdmin(ctx.get('authorization') || undefined);
          const out = await withdrawEcash(GATEWAY_ACCOUNT, await jsonBody(ctx.req));
          noStore(ctx);
          ctx.status = out.status;
          ctx.body = out.body;
        }),
      );

      router.post('/admin/withdraw-lightning', (ctx) =>
        answerErrors(ctx, async () => {
          auth.requireAdmin(ctx.get('authorization') || undefined);
          const out = await withdrawLightning(GATEWAY_ACCOUNT, await jsonBody(ctx.req));
          noStore(ctx);
          ctx.status = out.status;
          ctx.body = out.body;
        }),
      );
    },

    async close() {
      clearInterval(timer);
      instances.delete(config);
    },
  };
}
