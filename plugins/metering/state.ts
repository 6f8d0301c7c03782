import type { Bill } from '../../src/billing/billing.js';
import type { Job } from '../../src/pipeline/job.js';
import { serviceKey } from '../../src/pipeline/services.js';
import type { DisputeKind } from './trust.js';
import type { Usage, UsageCounter } from './usage.js';

export interface MeteringState {
  counter: UsageCounter;
  /** Completion tokens the payment buys (undefined: unpaid job, no budget). */
  maxTokens?: number;
  /** The gateway asked for stream usage the client did not: the usage chunk is taken out again. */
  injectedUsage: boolean;
  cut: boolean;
  usage?: Usage;
  /** Reported counts an untrusted node was not paid for (billed at the gateway's own count instead). */
  disputes?: DisputeKind[];
  bill?: Bill;
}

declare module '../../src/pipeline/job.js' {
  interface PluginStates {
    metering?: MeteringState;
  }
}

/** What other plugins read of a settled job's count and bill (set in metering's onSettle). */
export interface Bills {
  usage(job: Job): Usage | undefined;
  /** undefined: an unpaid job. */
  bill(job: Job): Bill | undefined;
}
export const BillsKey = serviceKey<Bills>('bills');
export const bills: Bills = { usage: (job) => job.state.metering?.usage, bill: (job) => job.state.metering?.bill };
