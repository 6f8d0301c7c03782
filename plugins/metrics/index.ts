import type { Job, Settlement } from '../../src/pipeline/job.js';
import type { GatewayPlugin } from '../../src/pipeline/plugin.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { MoneyKey } from '../../src/money/services.js';
import { OracleKey, type OracleMetrics } from '../oracle/index.js';

/** How a job ended, for owlrun_jobs_total: `refunded` = claimed, then nothing charged. */
function outcomeOf(job: Job, s: Settlement): string {
  const paid = job.state.payment !== undefined;
  if (paid && (job.state.change?.costSats ?? 0) === 0 && s.outcome !== 'ok') return 'refunded';
  return s.outcome;
}

/**
 * Money and job metrics at settlement (after commit, so they count only what the books hold),
 * and the gauges read at scrape time: backends, wallet holdings, balances, the oracle's rate.
 * Always loaded: observability fails open and never changes a response.
 */
export async function create(deps: PluginDeps): Promise<GatewayPlugin> {
  const m = deps.metrics;
  m.onCollect(() => {
    m.backendUp.reset();
    m.backendInFlight.reset();
    for (const node of deps.pool.all()) {
      m.backendUp.set({ node: node.id, kind: node.kind }, node.healthy ? 1 : 0);
      m.backendInFlight.set({ node: node.id }, node.inFlight);
    }
  });
  m.onCollect(async () => {
    const money = await deps.services.find(MoneyKey);
    if (!money) return;
    m.walletHeld.set(await money.wallet.heldBalance());
    m.balances.reset();
    for (const b of await money.jobs.balances()) m.balances.set({ account: b.account }, Number(b.balance_sats));
    m.balances.set({ account: 'pending' }, await money.jobs.pendingSats());
  });
  const seenErrors = new Map<string, number>();
  m.onCollect(() => {
    const oracle: OracleMetrics | undefined = deps.services.find(OracleKey);
    if (!oracle) {
      m.oracleRate.set(deps.config.oracle.fixedRate);
      return;
    }
    m.oracleRate.set(oracle.rate());
    m.oracleRateAge.set(oracle.rateAge());
    for (const [source, n] of oracle.sourceErrors) {
      const delta = n - (seenErrors.get(source) ?? 0);
      if (delta > 0) m.oracleSourceErrors.inc({ source }, delta);
      seenErrors.set(source, n);
    }
  });

  return {
    name: 'metrics',
    priority: 100,
    settlesWithoutStore: true,
    async onSettle(job, s) {
      const outcome = outcomeOf(job, s);
      const usage = job.state.metering?.usage;
      const payment = job.state.payment;
      const change = job.state.change;
      const bill = job.state.metering?.bill;
      s.afterCommit(() => {
        m.jobs.inc({ outcome });
        if (usage && (usage.promptTokens > 0 || usage.completionTokens > 0) && s.delivered) {
          m.tokens.inc({ model: job.model, kind: 'prompt', source: usage.source }, usage.promptTokens);
          m.tokens.inc({ model: job.model, kind: 'completion', source: usage.source }, usage.completionTokens);
        }
        if (!payment || !change) return;
        m.sats.inc({ kind: 'paid' }, payment.tokenSats);
        if (payment.fee > 0) m.sats.inc({ kind: 'fee' }, payment.fee);
        if (change.costSats > 0) {
          m.sats.inc({ kind: 'charged' }, change.costSats);
          m.sats.inc({ kind: 'change' }, change.changeSats);
          m.sats.inc({ kind: 'provider' }, bill?.providerSats ?? 0);
          m.sats.inc({ kind: 'gateway' }, bill?.gatewaySats ?? 0);
        } else {
          m.sats.inc({ kind: 'refunded' }, change.changeSats);
        }
      });
    },
  };
}
