import Router from '@koa/router';
import { readBody, parseJsonObject } from '../../src/http/body.js';
import { earnings, DAY_MS, type Earner } from '../../src/ledger/history.js';
import { GATEWAY_ACCOUNT, providerAccount } from '../../src/ledger/jobs.js';
import { RegistrationsRepo } from '../../src/ledger/registrations.js';
import { WithdrawalsRepo, type WithdrawalRow } from '../../src/ledger/withdrawals.js';
import { moneyServices } from '../../src/money/services.js';
import type { PluginHooks } from '../../src/pipeline/plugin.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import type { InferFields } from '../../src/config/spec.js';
import { dropEmptyKeys, providersConfig } from './config.js';
import type { SqlExecutor } from '../../src/store/db.js';
import type { PayoutFormat } from '../../src/cashu/token-format.js';
import { GatewayError } from '../../src/errors.js';
import { noStore, type RouteScopes } from '../../src/http/scopes.js';
import { ProviderKeyDirectory } from '../../src/http/keys.js';
import { serviceKey } from '../../src/pipeline/services.js';
import { actsFor, providerAuth, type ProviderState } from './auth.js';
import { parseAnnouncement, parseLeave, Registrar } from './nodes.js';
import { TargetGuard } from './targets.js';
import { Withdrawer, type WithdrawResult } from './withdraw.js';

const BODY_LIMIT = 64 * 1024;
const RECONCILE_MS = 30_000;
/** A withdrawal whose mint answer is missing this long is settled by the reconciler (other replicas' included). */
const IN_DOUBT_AGE_MS = 60_000;
const MAX_HISTORY_DAYS = 3660;

/** What tests can drive directly: the registration sweep and the withdrawal reconciler. */
export interface ProvidersControl {
  /** Expires silent nodes and syncs the pool with the stored registrations. */
  refresh(): Promise<void>;
  /** Settles withdrawals whose mint answer was lost (any age). */
  reconcile(): Promise<number>;
}
export const ProvidersControlKey = serviceKey<ProvidersControl>('providers');

async function jsonBody(req: Parameters<typeof readBody>[0]): Promise<Record<string, unknown>> {
  const raw = await readBody(req, BODY_LIMIT);
  return raw.length === 0 || raw.toString('utf8').trim() === '' ? {} : parseJsonObject(raw);
}

function amountParam(v: unknown): number | undefined {
  if (v === undefined || v === null || v === 'all') return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0 || v > 2 ** 40) {
    throw new GatewayError('invalid_request', 'amount_sats: a positive whole number of sats (leave it out to withdraw the whole balance)');
  }
  return v;
}

/** `fallback`: the key's own default (node agents read only padded cashuA), else cashuB. */
function formatParam(v: unknown, fallback: PayoutFormat = 'B'): PayoutFormat {
  if (v === undefined || v === null) return fallback;
  if (v === 'B' || v === 'cashuB') return 'B';
  if (v === 'A' || v === 'cashuA') return 'A';
  if (v === 'cashuA-padded') return 'A-padded';
  throw new GatewayError('invalid_request', 'format: "cashuA" (V3), "cashuA-padded" (V3, base64 padded with =) or "cashuB" (V4, the default)');
}

function invoiceParam(v: unknown): string {
  if (typeof v !== 'string' || v.length > 4000 || !/^(lightning:)?ln[a-z0-9]+$/i.test(v.trim())) {
    throw new GatewayError('invalid_request', 'invoice: a BOLT-11 invoice ("lnbc…") with an amount');
  }
  return v.trim().replace(/^lightning:/i, '').toLowerCase();
}

function daysParam(v: unknown): number {
  if (v === undefined) return 30;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_HISTORY_DAYS) throw new GatewayError('invalid_request', `days: 1 to ${MAX_HISTORY_DAYS}`);
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
export async function create(deps: PluginDeps<InferFields<typeof providersConfig>>): Promise<PluginHooks> {
  const { config, db, pool, metrics } = deps;
  const log = deps.log.child({ plugin: 'providers' });
  for (const b of config.backends) {
    if (b.provider && !config.providers.some((p) => p.id === b.provider)) {
      deps.log.warn({ backend: b.id, provider: b.provider }, 'this provider has no key in providers[]: it earns a balance it cannot withdraw until one is set');
    }
  }
  const now = deps.now;
  const money = await moneyServices(deps);
  const withdrawals = new WithdrawalsRepo(db);
  const registrations = new RegistrationsRepo(db);
  await withdrawals.init();
  await registrations.init();
  const withdrawer = new Withdrawer({ db, money, repo: withdrawals, log, metrics });
  const guard = new TargetGuard({ pool, config, timeoutMs: config.health.timeoutMs });
  const registrar = new Registrar({ pool, repo: registrations, guard, ttlMs: config.nodeTtlSeconds * 1000, timeoutMs: config.health.timeoutMs, log, now });

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
  deps.services.provide(ProvidersControlKey, { refresh: () => registrar.refresh(), reconcile: () => reconcile(0) });

  const balanceOf = async (account: string, sql: SqlExecutor = db) => {
    const b = await money.jobs.balance(account);
    const available = await withdrawals.available(sql, account);
    const withdrawn = await withdrawals.withdrawn(sql, account);
    return { balance_sats: Number(b.balance_sats), earned_sats: Number(b.earned_sats), jobs: Number(b.jobs), available_sats: Math.max(0, available), withdrawn_sats: withdrawn };
  };

  const withdrawEcash = async (account: string, body: Record<string, unknown>, defaultFormat?: PayoutFormat) => {
    const out = await withdrawer.ecash(account, { amount: amountParam(body.amount_sats), format: formatParam(body.format, defaultFormat) });
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

  /** The operator's books, one consistent read: each table's owner answers for its sums. */
  const ledger = () =>
    db.tx(async (sql) => {
      const wallet = await money.wallet.holdings.books(sql);
      const journal = await money.jobs.books(sql);
      const rows = await money.jobs.allBalances(sql);
      const wd = await withdrawals.totals(sql);
      const byAccount = new Map(wd.map((r) => [r.account, r]));
      const gatewayRow = rows.find((r) => r.account === GATEWAY_ACCOUNT);
      const gateway = Number(gatewayRow?.balance_sats ?? 0);
      const providers = rows.filter((r) => r.account.startsWith('provider:'));
      const providerSum = providers.reduce((s, r) => s + Number(r.balance_sats), 0);
      const held = wallet.held + wallet.reserved + wallet.signed;
      return {
        held_sats: held,
        gateway_balance_sats: gateway,
        provider_balances_sats: providerSum,
        pending_change_sats: journal.pending,
        jobs: journal.charged,
        balanced: held === gateway + providerSum + journal.pending,
        reserved_sats: wallet.reserved,
        jobs_running: journal.running,
        withdrawn_sats: wd.reduce((s, r) => s + r.withdrawn, 0),
        withdrawals_in_flight_sats: wd.reduce((s, r) => s + r.held, 0),
        gateway: { balance_sats: gateway, earned_sats: Number(gatewayRow?.earned_sats ?? 0), withdrawn_sats: byAccount.get(GATEWAY_ACCOUNT)?.withdrawn ?? 0 },
        providers: providers.map((r) => ({
          provider: r.account.slice('provider:'.length), balance_sats: Number(r.balance_sats), earned_sats: Number(r.earned_sats), jobs: Number(r.jobs),
          withdrawn_sats: byAccount.get(r.account)?.withdrawn ?? 0,
        })),
      };
    });

  return {

    routes(router: Router, { admin }: RouteScopes) {
      // Every /v1/provider route acts for the provider whose key it carries; nothing is cached.
      const provider = new Router<ProviderState>({ prefix: '/v1/provider' });
      const auth = providerAuth(config.providers, () => deps.services.find(ProviderKeyDirectory));
      provider.use(auth, noStore);
      type Ctx = { state: ProviderState; req: Parameters<typeof jsonBody>[0] };
      /** A POST body naming another provider is refused as a wrong key is. */
      const bodyOf = async (ctx: Ctx) => {
        const body = await jsonBody(ctx.req);
        actsFor(ctx.state.provider, body.provider);
        return body;
      };

      provider.get('/balance', async (ctx) => {
        ctx.body = { provider: ctx.state.provider, ...(await balanceOf(providerAccount(ctx.state.provider))) };
      });
      provider.get('/history', async (ctx) => {
        ctx.body = { provider: ctx.state.provider, ...(await history({ provider: ctx.state.provider }, daysParam(ctx.query.days))) };
      });
      provider.get('/withdrawals', async (ctx) => {
        ctx.body = { object: 'list', data: (await withdrawals.list(providerAccount(ctx.state.provider))).map(withdrawalView) };
      });
      provider.get('/nodes', async (ctx) => {
        // Registered by URL, and connected over their own transport (Owlrun agents) while connected.
        const connected = pool.all().filter((n) => n.source === 'connected' && n.provider === ctx.state.provider).map((n) => ({
          id: n.id, provider: n.provider, kind: n.kind, source: 'connected', models: n.listedModels(), maxConcurrent: n.maxConcurrent, healthy: n.healthy, in_flight: n.inFlight,
        }));
        ctx.body = { object: 'list', data: [...(await registrar.ofProvider(ctx.state.provider)), ...connected] };
      });
      provider.post('/withdraw-ecash', async (ctx) => {
        const out = await withdrawEcash(providerAccount(ctx.state.provider), await bodyOf(ctx), ctx.state.payoutFormat);
        ctx.status = out.status;
        ctx.body = { provider: ctx.state.provider, ...out.body };
      });
      provider.post('/withdraw-lightning', async (ctx) => {
        const out = await withdrawLightning(providerAccount(ctx.state.provider), await bodyOf(ctx));
        ctx.status = out.status;
        ctx.body = { provider: ctx.state.provider, ...out.body };
      });
      router.use(provider.routes());

      router.post('/v1/gateway/register', auth, async (ctx) => {
        const listener = { address: ctx.req.socket.localAddress, port: ctx.req.socket.localPort ?? config.server.port };
        const { created, view } = await registrar.register(ctx.state.provider, parseAnnouncement(await bodyOf(ctx)), listener);
        ctx.status = created ? 201 : 200;
        ctx.body = { ...view, heartbeat_seconds: Math.max(1, Math.floor(config.nodeTtlSeconds / 3)) };
      });
      router.delete('/v1/gateway/register', auth, async (ctx) => {
        await registrar.leave(ctx.state.provider, parseLeave(await bodyOf(ctx)));
        ctx.status = 204;
      });

      admin.get('/ledger', async (ctx) => {
        ctx.body = await ledger();
      });
      admin.get('/history', async (ctx) => {
        const provider = typeof ctx.query.provider === 'string' && ctx.query.provider ? ctx.query.provider : undefined;
        ctx.body = { account: provider ?? 'gateway', ...(await history(provider ? { provider } : { gateway: true }, daysParam(ctx.query.days))) };
      });
      admin.get('/withdrawals', async (ctx) => {
        ctx.body = { object: 'list', data: (await withdrawals.list(GATEWAY_ACCOUNT)).map(withdrawalView) };
      });
      admin.post('/withdraw-ecash', async (ctx) => {
        const out = await withdrawEcash(GATEWAY_ACCOUNT, await jsonBody(ctx.req));
        ctx.status = out.status;
        ctx.body = out.body;
      });
      admin.post('/withdraw-lightning', async (ctx) => {
        const out = await withdrawLightning(GATEWAY_ACCOUNT, await jsonBody(ctx.req));
        ctx.status = out.status;
        ctx.body = out.body;
      });
    },

    async close() {
      clearInterval(timer);
    },
  };
}

/** The providers' ledger, withdrawals and node registration: they come with the money (change). */
export const manifest = definePlugin({
  name: 'providers',
  priority: 500,
  implied: { by: ['change'] },
  config: providersConfig,
  provides: [ProvidersControlKey],
  check: dropEmptyKeys,
  create,
});
