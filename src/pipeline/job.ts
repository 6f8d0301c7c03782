import type { IncomingHttpHeaders } from 'node:http';
import type { BackendNode } from '../proxy/node.js';
import type { StreamFormat } from '../stream/event.js';
import type { SqlExecutor } from '../store/db.js';

export type RouteKind = 'openai_chat' | 'openai_completions' | 'ollama_chat' | 'ollama_generate';

/** Per-plugin state, one optional key per plugin; plugins add their key by declaration merging. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface PluginStates {}

/** Everything known about one inference job while it runs. */
export interface Job {
  readonly id: string;
  readonly route: RouteKind;
  readonly path: string;
  readonly model: string;
  /** The client asked for a stream (with each API's own default when `stream` is absent). */
  readonly stream: boolean;
  /** The address the request came from (the TCP peer; no proxy header is trusted). */
  readonly clientAddress: string;
  /** The client's request headers as received (X-Cashu and Authorization included). */
  readonly headers: IncomingHttpHeaders;
  /** The request body as received. Forwarded as is unless `bodyChanged`. */
  readonly rawBody: Buffer;
  /** The parsed body; transformRequest may change it and MUST then set bodyChanged. */
  body: Record<string, unknown>;
  bodyChanged: boolean;
  /** Some configured or registered backend serves this model (healthy or not). */
  readonly modelKnown: boolean;
  /** The admitted node once admit succeeded (empty before). */
  candidates: BackendNode[];
  /** The node that took the job, once one did (set by admit). */
  node?: BackendNode;
  /**
   * Reserves the job's place on a node, waiting in the admission queue while every node for the
   * model is full. Idempotent (one reservation per job), never throws. A plugin that takes the
   * buyer's money MUST await it first and take nothing when it fails: a waiting or refused
   * request holds none of the buyer's money. The core admits every job its plugins did not.
   */
  admit(): Promise<JobAdmission>;
  /** Headers plugins add to the client's response (sent with the response headers). */
  readonly responseHeaders: Record<string, string>;
  readonly state: PluginStates;
  readonly startedAt: number;
  /** Set when the first response byte reached the client. */
  firstByteAt?: number;
  /** Response framing once known. */
  format?: StreamFormat;
  /**
   * The client's AbortSignal: aborted when the client goes away (at once if it already has).
   * Made at the first call: most jobs never need one.
   */
  clientSignal(): AbortSignal;
}

export type JobAdmission =
  | { ok: true }
  | { ok: false; code: 'no_backend_for_model' | 'backend_unavailable' | 'client_gone'; message: string };

export type JobOutcome =
  /** the backend finished normally */
  | 'ok'
  /** the gateway ended the stream: the payment was used up */
  | 'cut'
  /** a plugin replied before inference (refusal), nothing forwarded */
  | 'refused'
  /** no output was produced: every node refused, failed or answered an error */
  | 'failed'
  /** the backend broke after some output was delivered */
  | 'backend_failed'
  /** the client went away before the end */
  | 'client_gone'
  /** settled at start-up from the journal of a process that died */
  | 'recovered';

export interface Settlement {
  readonly outcome: JobOutcome;
  /** Response headers already sent: plugins can no longer add headers, only a trailer (streams). */
  readonly headersSent: boolean;
  /** Some response body bytes reached the client. */
  readonly delivered: boolean;
  /** Database executor of the one settle transaction shared by all plugins. */
  readonly sql: SqlExecutor;
  /** Bytes to append at the end of a stream (e.g. the change event). */
  readonly trailer: Buffer[];
  /** Work that must run only once the settle transaction committed (metrics, logs). */
  afterCommit(fn: () => void): void;
}
