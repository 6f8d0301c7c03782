import { errorBody } from '../../src/errors.js';
import { settleOrphans } from '../../src/money/recovery.js';
import { moneyServices } from '../../src/money/services.js';
import { settleMoney } from '../../src/money/settle.js';
import type { PluginHooks } from '../../src/pipeline/plugin.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { BillsKey } from '../metering/state.js';
import { PaymentsKey } from '../payment/state.js';
import { settlements, SettlementsKey } from './state.js';
import type { Job } from '../../src/pipeline/job.js';

const HEARTBEAT_MS = 10_000;
const RECONCILE_MS = 30_000;
/** A claim unanswered for this long is settled by the reconciler (the wallet restored it first). */
const IN_DOUBT_AGE_MS = 60_000;

export interface ChangeEvent {
  type: 'cashu_change';
  token: string;
  change_sats: number;
  cost_sats: number;
}

/** The change as the last event of a stream: an SSE data event, or an NDJSON line. */
export function changeEventBytes(format: Job['format'], ev: ChangeEvent): Buffer {
  const json = JSON.stringify(ev);
  return Buffer.from(format === 'sse' ? `data: ${json}\n\n` : `${json}\n`);
}

/**
 * Settles every paid job exactly once: change from the proofs the claim produced (no mint
 * call), the bill and both shares recorded in the same transaction. Delivers the change as the
 * stream's last event or in X-Cashu-Change, and by receipt at GET /v1/change/{receipt}.
 * At start-up, and then periodically, settles jobs a stopped process or a lost claim left open.
 */
export async function create(deps: PluginDeps): Promise<PluginHooks> {
  const money = await moneyServices(deps);
  const ttl = deps.config.payment.receiptTtl;
  deps.services.provide(SettlementsKey, settlements);
  const paymentOf = (job: Job) => deps.services.find(PaymentsKey)?.of(job);
  const bills = deps.services.get(BillsKey);
  const running = new Set<string>();

  // On the embedded store this process is alone: whatever a previous one left is resolved now.
  // Replicas on PostgreSQL only touch what a dead process left, or their own stuck jobs.
  const alone = deps.db.dialect === 'sqlite';
  const reconcile = async (startUp: boolean) => {
    await money.wallet.recoverPending({ minAgeMs: startUp && alone ? 0 : IN_DOUBT_AGE_MS });
    const orphans = await money.jobs.orphans(Date.now(), running, IN_DOUBT_AGE_MS);
    if (orphans.length > 0) await settleOrphans(orphans, money, deps.db, ttl, deps.log);
    await money.jobs.expireChange(Date.now());
  };
  await reconcile(true);
  let ticks = 0;
  const timer = setInterval(() => {
    money.jobs.heartbeat(Date.now()).catch((err: unknown) => deps.log.error({ err }, 'heartbeat failed'));
    if (++ticks % (RECONCILE_MS / HEARTBEAT_MS) === 0) reconcile(false).catch((err: unknown) => deps.log.error({ err }, 'reconcile failed'));
  }, HEARTBEAT_MS).unref();

  return {
    /** An unpaid job has nothing to settle in the store. */
    settlesWithoutStore: (job) => paymentOf(job) === undefined,

    async onRequest(job) {
      running.add(job.id);
      return { kind: 'continue' };
    },

    /** The change proofs' curve arithmetic before the settle transaction, so it only writes rows. */
    beforeSettle: (job) => (paymentOf(job) ? money.wallet.prepareTake(job.id) : undefined),

    async onSettle(job, s) {
      running.delete(job.id);
      const p = paymentOf(job);
      if (!p) return;
      const bill = bills.bill(job) ?? { costSats: 0, gatewaySats: 0, providerSats: 0 };
      const usage = bills.usage(job);
      const { changeSats, token } = await settleMoney(s.sql, money, {
        jobId: job.id,
        format: p.format,
        mint: p.mint,
        held: p.held,
        bill,
        outcome: s.outcome,
        nodeId: job.node?.id ?? null,
        provider: job.node?.provider ?? null,
        promptTokens: usage?.promptTokens ?? 0,
        completionTokens: usage?.completionTokens ?? 0,
        tokenSource: usage?.source ?? 'estimated',
        ttlSeconds: ttl,
        now: Date.now(),
      });
      const cost = Math.min(bill.costSats, p.held);
      job.state.change = { changeSats, costSats: cost };
      if (s.headersSent) {
        if (job.format === 'sse' || job.format === 'ndjson') {
          s.trailer.push(changeEventBytes(job.format, { type: 'cashu_change', token, change_sats: changeSats, cost_sats: cost }));
        }
      } else {
        if (token) job.responseHeaders['X-Cashu-Change'] = token;
        job.responseHeaders['X-Cashu-Cost-Sats'] = String(cost);
        job.responseHeaders['X-Cashu-Change-Sats'] = String(changeSats);
      }
    },

    routes(router) {
      router.get('/v1/change/:receipt', async (ctx) => {
        const row = await money.jobs.byReceipt(ctx.params.receipt ?? '');
        if (!row || (row.state === 'settled' && (row.expires_at ?? 0) < Date.now())) {
          ctx.status = 404;
          ctx.body = errorBody('receipt_not_found');
          return;
        }
        ctx.set('Cache-Control', 'no-store');
        ctx.body =
          row.state === 'settled'
            ? { status: 'settled', token: row.change_token ?? '', change_sats: row.change_sats ?? 0, cost_sats: row.cost_sats ?? 0 }
            : { status: 'pending', token: '', change_sats: 0, cost_sats: 0 };
      });
    },

    async close() {
      clearInterval(timer);
      await money.wallet.close();
    },
  };
}

/** Settles paid jobs with their change; the providers' ledger and withdrawals come with it. */
export const manifest = definePlugin({ name: 'change', priority: 700, needs: [BillsKey], uses: [PaymentsKey], provides: [SettlementsKey], create });
