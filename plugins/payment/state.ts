import type { Quote } from '../../src/billing/billing.js';
import type { TokenFormat } from '../../src/cashu/types.js';
import type { Job } from '../../src/pipeline/job.js';
import { serviceKey } from '../../src/pipeline/services.js';

/** A claimed payment (set once the mint swapped the client's token). */
export interface PaymentState {
  /** The job's change receipt (bearer: never logged). */
  receipt: string;
  /** What the client's token was worth. */
  tokenSats: number;
  /** NUT-02 input fee the mint kept at the claim (the client's). */
  fee: number;
  /** Sats the gateway holds for this job: tokenSats − fee. */
  held: number;
  format: TokenFormat;
  mint: string;
}

declare module '../../src/pipeline/job.js' {
  interface PluginStates {
    payment?: PaymentState;
    /** The job's price, fixed by the payment plugin when the job is accepted. */
    quote?: Quote;
  }
}

/** What other plugins read of a job's payment (metering budgets it, change settles it). */
export interface Payments {
  /** The claimed payment; undefined: an unpaid job. */
  of(job: Job): PaymentState | undefined;
  /** The job's price, fixed when the payment plugin accepted it. */
  quote(job: Job): Quote | undefined;
}
export const PaymentsKey = serviceKey<Payments>('payments');
export const payments: Payments = { of: (job) => job.state.payment, quote: (job) => job.state.quote };
