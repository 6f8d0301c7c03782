import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Job, JobAdmission, PluginStates, RouteKind } from '../pipeline/job.js';
import type { BackendNode } from '../proxy/node.js';
import type { StreamFormat } from '../stream/event.js';
import type { ClientWatch } from './client-watch.js';

const notStarted = (): Promise<JobAdmission> => Promise.reject(new Error('job not started'));

/**
 * The Job of one inference request: what plugins see of it.
 *
 * MUST hold: no own accessor properties (accessors live on the prototype). V8 builds an object
 * literal with a `get`/`set` through its slow path, and everything such a per-request object
 * references (request, response, body, the getter's closure) then survives every young-generation
 * GC until the next full one: under load every request's objects were promoted, and the heap grew
 * to four times its live size before a full GC (issue 13: gateway RSS 260 MB instead of 160 MB).
 */
export class RequestJob implements Job {
  readonly id = randomUUID();
  bodyChanged = false;
  candidates: BackendNode[] = [];
  node?: BackendNode = undefined;
  readonly responseHeaders: Record<string, string> = {};
  readonly state: PluginStates = {};
  readonly startedAt = performance.now();
  firstByteAt?: number = undefined;
  format?: StreamFormat = undefined;
  /** What admit() does once the job runs (the run sets it). */
  admitter: () => Promise<JobAdmission> = notStarted;
  readonly #client: ClientWatch;

  constructor(
    readonly route: RouteKind,
    readonly path: string,
    readonly model: string,
    readonly stream: boolean,
    readonly clientAddress: string,
    readonly headers: IncomingHttpHeaders,
    readonly rawBody: Buffer,
    public body: Record<string, unknown>,
    readonly modelKnown: boolean,
    client: ClientWatch,
  ) {
    this.#client = client;
  }

  get signal(): AbortSignal {
    return this.#client.signal;
  }

  admit(): Promise<JobAdmission> {
    return this.admitter();
  }
}
