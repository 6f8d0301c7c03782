import type { Job } from '../pipeline/job.js';
import type { ClientWatch } from './client-watch.js';

/** A job as runJob makes it: the Job plugins see, plus the watch its signal comes from. */
export interface RequestJob extends Job {
  readonly client: ClientWatch;
}

/**
 * The prototype of every job runJob makes: what is computed on access lives here, not on the job.
 *
 * MUST hold, for the job literal in src/job/run.ts: one object literal with plain data properties
 * and `__proto__: JOB_PROTOTYPE` (no own accessors, no class). Measured under load (wrk, 32
 * connections; streams with metering on, and non-streaming): an object literal with its own
 * `get signal()`, a class instance with the same fields, or a literal whose fields are declared
 * `undefined` up front and changed later all made V8 carry every job's objects (request, response,
 * event data) through young-generation GCs until a full GC — 1.1–1.9 MB promoted per scavenge
 * instead of 0.15–0.3 MB — and the heap grew to 2–4 times its live size (issue 13: gateway peak
 * RSS 255 MB). Re-measure with `npm run bench -- --only streams,rps --before DIR` after changing it.
 */
export const JOB_PROTOTYPE = {
  get signal(): AbortSignal {
    return (this as unknown as RequestJob).client.signal;
  },
};
