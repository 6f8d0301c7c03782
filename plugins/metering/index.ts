import { estimatePromptTokens } from '../../src/billing/estimate.js';
import type { Progress } from '../../src/ledger/jobs.js';
import { moneyServices } from '../../src/money/services.js';
import type { Job } from '../../src/pipeline/job.js';
import { CONTINUE, type PluginHooks } from '../../src/pipeline/plugin.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { PaymentsKey } from '../payment/state.js';
import { bills, BillsKey, type MeteringState } from './state.js';
import { DROP, PASS, type StreamAction, type StreamEvent } from '../../src/stream/event.js';
import { capOutput, outputCap, requestUsage } from './caps.js';
import { clampUsage } from './trust.js';
import { UsageCounter } from './usage.js';

export type { MeteringState } from './state.js';

const FLUSH_MS = 500;
const BILLED_OUTCOMES = new Set(['ok', 'cut', 'backend_failed', 'client_gone']);

/** Completion tokens delivered so far; an untrusted node's own reports do not count. */
function soFar(st: MeteringState, job: Job): number {
  return job.node && !job.node.trustUsage ? st.counter.outputSoFar : st.counter.completionSoFar;
}

/**
 * Counts tokens on every event, caps the request to what the payment covers, cuts a stream
 * that runs past its budget, and bills the job at settlement from the backend's usage (or an
 * estimate, never zero for delivered output). Delivered-token progress of paid jobs is
 * journaled every FLUSH_MS in one batch, so a killed gateway can bill what was delivered.
 */
export async function create(deps: PluginDeps): Promise<PluginHooks> {
  const money = await moneyServices(deps);
  deps.services.provide(BillsKey, bills);
  // Unpaid jobs (no payment plugin, or no token) are counted but have no budget and no bill.
  const paymentOf = (job: Job) => deps.services.find(PaymentsKey)?.of(job);
  const quoteOf = (job: Job) => deps.services.find(PaymentsKey)?.quote(job);
  const running = new Map<string, { st: MeteringState; job: Job }>();
  const flushed = new Map<string, number>();
  const timer = setInterval(() => {
    const progress = new Map<string, Progress>();
    for (const [id, { st, job }] of running) {
      const n = st.maxTokens === undefined ? soFar(st, job) : Math.min(soFar(st, job), st.maxTokens);
      if (n > (flushed.get(id) ?? 0)) progress.set(id, { tokens: n, nodeId: job.node?.id ?? null, provider: job.node?.provider ?? null });
    }
    if (progress.size === 0) return;
    for (const [id, p] of progress) flushed.set(id, p.tokens);
    money.jobs.recordProgress(progress).catch((err: unknown) => deps.log.error({ err }, 'journal flush failed'));
  }, FLUSH_MS).unref();

  const doneMarker = (job: Job): Buffer | undefined =>
    job.format === 'ndjson' ? Buffer.from(JSON.stringify({ model: job.model, created_at: new Date().toISOString(), done: true, done_reason: 'length' }) + '\n') : undefined;

  return {
    settlesWithoutStore: true,

    async onRequest(job) {
      job.state.metering = { counter: new UsageCounter(), injectedUsage: false, cut: false };
      return CONTINUE;
    },

    transformRequest(job) {
      const st = job.state.metering!;
      const kind = job.node?.kind ?? job.candidates[0]?.kind ?? 'openai';
      const payment = paymentOf(job);
      const quote = quoteOf(job);
      if (payment && quote) {
        st.maxTokens = money.billing.budget(quote, payment.held);
        if (capOutput(job.body, job.route, kind, st.maxTokens)) job.bodyChanged = true;
        running.set(job.id, { st, job });
      }
      st.injectedUsage = requestUsage(job.body, job.route, kind);
      if (st.injectedUsage) job.bodyChanged = true;
    },

    onStreamEvent(ev: StreamEvent, job): StreamAction {
      const st = job.state.metering;
      if (!st || ev.data === undefined) return PASS;
      const json = st.counter.observeEvent(ev);
      if (json !== undefined && st.injectedUsage && ev.format === 'sse' && UsageCounter.isUsageChunk(json)) return DROP;
      if (st.maxTokens !== undefined && !st.cut && soFar(st, job) > st.maxTokens && ev.format !== 'json') {
        // Past the paid budget (the backend ignored the cap): stop here, without this event.
        st.cut = true;
        return { kind: 'cut', bytes: doneMarker(job) ?? Buffer.alloc(0) };
      }
      return PASS;
    },

    async onSettle(job, s) {
      const st = job.state.metering;
      running.delete(job.id);
      flushed.delete(job.id);
      if (!st) return;
      const q = quoteOf(job);
      let usage = st.counter.result(q?.promptEstimate ?? 0);
      if (st.maxTokens !== undefined && usage.completionTokens > st.maxTokens) usage.completionTokens = st.maxTokens;
      const node = job.node;
      if (node && !node.trustUsage) {
        const cap = outputCap(job.body, job.route, node.kind);
        const own = {
          prompt: q?.promptEstimate ?? estimatePromptTokens(job.body),
          completion: st.counter.ownCompletionTokens(),
          completionCap: st.maxTokens === undefined ? cap : Math.min(st.maxTokens, cap ?? st.maxTokens),
        };
        const reported = st.counter.reported;
        const clamped = clampUsage(usage, own, reported);
        usage = clamped.usage;
        if (clamped.disputes.length > 0) {
          st.disputes = clamped.disputes;
          const label = deps.metrics.nodeLabel(node.id);
          s.afterCommit(() => {
            for (const kind of clamped.disputes) deps.metrics.usageDisputes.inc({ node: label, kind });
          });
          deps.log.warn({ job: job.id, node: node.id, reported, own, billed: { prompt: usage.promptTokens, completion: usage.completionTokens } }, 'node reported more tokens than the gateway counted; billed the gateway\'s count');
        }
      }
      st.usage = usage;
      const payment = paymentOf(job);
      if (!payment || !q) return;
      // A stream that ended normally but only carried the backend's error (vLLM sends its error
      // event, then [DONE]) produced nothing: never charged (docs/public-interface.md: failed before output).
      const billable = BILLED_OUTCOMES.has(s.outcome) && (usage.completionTokens > 0 || (s.outcome === 'ok' && !st.counter.sawError));
      st.bill = billable ? money.billing.bill(q, usage.promptTokens, usage.completionTokens, payment.held) : { costSats: 0, gatewaySats: 0, providerSats: 0 };
    },

    async close() {
      clearInterval(timer);
    },
  };
}

/** Counts every job; bills paid ones (for the payment plugin, when it runs). */
export const manifest = definePlugin({ name: 'metering', priority: 800, uses: [PaymentsKey], provides: [BillsKey], create });
