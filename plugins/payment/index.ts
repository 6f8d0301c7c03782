import { Billing } from '../../src/billing/billing.js';
import { ClaimInDoubtError } from '../../src/cashu/mint-errors.js';
import { TrustedMintsKey } from '../../src/cashu/mint-monitor.js';
import type { ClaimPlan, InspectedToken } from '../../src/cashu/types.js';
import { ConfigError } from '../../src/config/spec.js';
import { errorBody, GatewayError, type ErrorCode } from '../../src/errors.js';
import { QuotedRateKey } from '../../src/models.js';
import { completeClaim, openClaim } from '../../src/money/claim.js';
import { moneyServices } from '../../src/money/services.js';
import type { Job } from '../../src/pipeline/job.js';
import { CONTINUE, type PluginHooks, type Verdict } from '../../src/pipeline/plugin.js';
import { definePlugin } from '../../src/pipeline/manifest.js';
import type { PluginDeps } from '../../src/pipeline/registry.js';
import { BillsKey } from '../metering/state.js';
import { SettlementsKey } from '../change/state.js';
import { payments, PaymentsKey } from './state.js';
import { paymentRequest } from './challenge.js';
import { receiptOf } from './receipt.js';

/** Refusals after which the client's token is still spendable: it is echoed back untouched. */
const ECHO_TOKEN = new Set<ErrorCode>(['cashu_mint_untrusted', 'cashu_unit_unsupported', 'cashu_amount_too_low', 'cashu_keyset_unknown', 'cashu_mint_unreachable', 'no_backend_for_model', 'backend_unavailable']);

/**
 * X-Cashu: check the token (nothing claimed), check the model can run, then claim it in ONE
 * mint swap before the job. Fails closed: no claim, no inference.
 */
export async function create(deps: PluginDeps): Promise<PluginHooks> {
  const money = await moneyServices(deps);
  const mints = deps.config.payment.mints;
  // Build the tokenizer now, not on the first paid request (~100 ms).
  money.billing.quote('warm-up', { prompt: 'warm up' });
  if (mints.length === 0) throw new Error('payment: payment.mints lists no trusted mint');
  deps.services.provide(QuotedRateKey, money.billing);
  deps.services.provide(PaymentsKey, payments);
  deps.services.provide(TrustedMintsKey, mints);

  const refuse = (job: Job, code: ErrorCode, opts: { echo?: string; amount?: number; message?: string } = {}): Verdict => {
    const err = new GatewayError(code, opts.message);
    deps.metrics.paymentErrors.inc({ reason: code });
    const headers: Record<string, string> = { ...job.responseHeaders };
    if (err.status === 402) headers['X-Cashu'] = paymentRequest(opts.amount ?? job.state.quote?.leastSats ?? deps.config.payment.minSatsPerJob, mints, `owlrun: ${job.model}`);
    if (opts.echo && ECHO_TOKEN.has(code)) headers['X-Cashu-Change'] = opts.echo;
    return { kind: 'reply', status: err.status, body: errorBody(code, err.message), headers };
  };

  return {

    async onRequest(job): Promise<Verdict> {
      const quote = money.billing.quote(job.model, job.body);
      job.state.quote = quote;
      const header = job.headers['x-cashu'];
      if (header === undefined || header === '') return refuse(job, 'cashu_payment_required');
      const raw = (Array.isArray(header) ? header[0]! : header).trim();
      let token: InspectedToken;
      try {
        token = await money.wallet.inspect(raw);
      } catch (err) {
        if (err instanceof GatewayError) return refuse(job, err.code, { echo: raw, message: err.message });
        throw err;
      }
      const usable = token.amount - token.inputFee;
      if (usable < quote.leastSats) {
        const message = `this request costs at least ${quote.leastSats} sats${token.inputFee ? ` plus ${token.inputFee} sats of mint fees` : ''}; the token holds ${token.amount}`;
        return refuse(job, 'cashu_amount_too_low', { echo: raw, amount: quote.leastSats + token.inputFee, message });
      }
      // A place on a node is reserved (waiting in the queue if every node is busy) before
      // anything is claimed: a waiting or refused request holds none of the buyer's money.
      if (!job.modelKnown) return refuse(job, 'no_backend_for_model', { echo: raw, message: `no backend serves model "${job.model}"` });
      const admitted = await job.admit();
      if (!admitted.ok) return refuse(job, admitted.code === 'client_gone' ? 'backend_unavailable' : admitted.code, { echo: raw, message: admitted.message });

      const receipt = receiptOf(token);
      let plan: ClaimPlan;
      try {
        plan = await money.wallet.planClaim(job.id, token);
      } catch (err) {
        // Nothing stored, nothing sent: the token is untouched.
        const gerr = err instanceof GatewayError ? err : new GatewayError('cashu_mint_unreachable');
        if (!(err instanceof GatewayError)) deps.log.error({ err, job: job.id }, 'claim failed');
        return refuse(job, gerr.code, { echo: raw, message: gerr.message });
      }
      // Store transaction 1 of 2 (src/money/claim.ts): the journal row and the pending outputs.
      const opened = await openClaim(
        deps.db,
        money,
        {
          id: job.id,
          model: job.model,
          route: job.route,
          mint: token.mint,
          format: token.format,
          token_sats: token.amount,
          fee_sats: token.inputFee,
          price_in_pico: Number(quote.price.inputPico),
          price_out_pico: Number(quote.price.outputPico),
          rate_cents: Billing.rateCentsOf(quote),
          min_sats: quote.minSats,
          prompt_estimate: quote.promptEstimate,
        },
        receipt,
        plan,
        Date.now(),
      );
      if (!opened.created) {
        // This token already paid for a job: its change (or refund) is at that job's receipt.
        job.responseHeaders['X-Cashu-Receipt'] = receipt;
        const where = opened.existing.state === 'settled' ? 'its change is' : 'its outcome will be';
        return refuse(job, 'cashu_token_spent', { message: `this token already paid for a job; ${where} at GET /v1/change/{X-Cashu-Receipt}` });
      }
      try {
        // The one swap, then store transaction 2 of 2: the proofs held and the job 'claimed'.
        const claim = await completeClaim(money, opened.prepared);
        job.state.payment = { receipt, tokenSats: token.amount, fee: claim.fee, held: claim.amount, format: token.format, mint: token.mint };
        job.responseHeaders['X-Cashu-Receipt'] = receipt;
        return CONTINUE;
      } catch (err) {
        // A refused claim that nonetheless left proofs held for the job (the mint swapped but some
        // signatures were unusable) is not "nothing claimed": recovery refunds what is held.
        if (err instanceof ClaimInDoubtError || (await money.wallet.heldByJob(job.id)) > 0) {
          // The mint may have swapped: the job stays open; recovery settles it and the receipt tells.
          job.responseHeaders['X-Cashu-Receipt'] = receipt;
          const message = err instanceof ClaimInDoubtError
            ? 'the mint did not answer the claim; fetch the outcome with the receipt shortly'
            : "the mint's answer to the claim was partly unusable; what it holds for you is refunded at the receipt";
          return refuse(job, 'cashu_mint_unreachable', { message });
        }
        const gerr = err instanceof GatewayError ? err : new GatewayError('cashu_mint_unreachable');
        await money.jobs.markNotClaimed(job.id, 'refused', Date.now());
        if (!(err instanceof GatewayError)) deps.log.error({ err, job: job.id }, 'claim failed');
        return refuse(job, gerr.code, { echo: raw, message: gerr.message });
      }
    },
  };
}

/** A claimed payment must be billed (metering) and settled with its change (change). */
export const manifest = definePlugin({
  name: 'payment',
  priority: 900,
  needs: [BillsKey, SettlementsKey],
  provides: [PaymentsKey, QuotedRateKey, TrustedMintsKey],
  check(config) {
    if (config.payment.mints.length === 0) throw new ConfigError('payment.mints', 'the payment plugin needs at least one trusted mint');
  },
  create,
});
