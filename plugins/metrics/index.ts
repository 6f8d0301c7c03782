import type { Settlement } from '../../src/pipeline/job.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import { SettlementsKey, type ChangeState } from '../change/state.js';
import { BillsKey } from '../metering/state.js';
import { PaymentsKey } from '../payment/state.js';
import type { PluginHooks } from '../../src/pipeline/plugin.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { MoneyKey } from '../../src/money/services.js';
import { OracleKey, type OracleMetrics } from '../oracle/index.js';

/** How a job ended, for owlrun_jobs_total: `refunded` = claimed, then nothing charged. */
function outcomeOf(s: Settlement, paid: boolean, change: ChangeState | undefined): string {
  if (paid && (change?.costSats ?? 0) === 0 && s.outcome !== 'ok') return 'refunded';
  return s.outcome;
}

/**
 * Money and job metrics at settlement (after commit, so they count only what the books hold),
 * and the gauges read at scrape time: backends, wallet holdings, balances, the oracle's rate.
 * Always loaded: observability fails open and never changes a response.
 */
export async function create(deps: PluginDeps): Promise<PluginHooks> {
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
  // Jobs by outcome, counted in plain numbers at settlement and added to owlrun_jobs_total when
  // scraped: prom-client's inc hashes and validates its label object on every call (a cost on
  // every request's path).
  const jobsByOutcome = new Map<string, number>();
  m.onCollect(() => {
    for (const [outcome, n] of jobsByOutcome) m.jobs.inc({ outcome }, n);
    jobsByOutcome.clear();
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
    settlesWithoutStore: true,
    onSettle(job, s) {
      const bills = deps.services.find(BillsKey);
      const usage = bills?.usage(job);
      const bill = bills?.bill(job);
      const payment = deps.services.find(PaymentsKey)?.of(job);
      const change = deps.services.find(SettlementsKey)?.of(job);
      const outcome = outcomeOf(s, payment !== undefined, change);
      s.afterCommit(() => {
        jobsByOutcome.set(outcome, (jobsByOutcome.get(outcome) ?? 0) + 1);
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

/** Always runs: observability fails open. Reads what the money plugins and the oracle provide, when they run. */
export const manifest = definePlugin({
  name: 'metrics',
  priority: 100,
  implied: 'always',
  uses: [BillsKey, PaymentsKey, SettlementsKey, OracleKey, MoneyKey],
  create,
});
