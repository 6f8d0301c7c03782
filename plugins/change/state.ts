import type { Job } from '../../src/pipeline/job.js';
import { serviceKey } from '../../src/pipeline/services.js';

/** What a settled paid job cost and gave back. */
export interface ChangeState {
  changeSats: number;
  costSats: number;
}

declare module '../../src/pipeline/job.js' {
  interface PluginStates {
    change?: ChangeState;
  }
}

/** What other plugins read of a paid job's settlement (metrics). */
export interface Settlements {
  of(job: Job): ChangeState | undefined;
}
export const SettlementsKey = serviceKey<Settlements>('settlement');
export const settlements: Settlements = { of: (job) => job.state.change };
