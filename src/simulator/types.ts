// Public types of the backend simulators, and the per-request exchange the kind modules share.
import type http from 'node:http';
import type { Wire } from './wire.js';

export type SimKind = 'ollama' | 'vllm' | 'llamacpp' | 'openai';

export interface SimOptions {
  kind: SimKind;
  /** Served models; default one per kind: 'sim-ollama', 'sim-vllm', 'sim-llamacpp', 'sim-openai'. */
  models?: string[];
  /** Completion tokens to generate when uncapped (default 5). */
  tokens?: number;
  /** Prompt token count to report (default: countPromptTokens(request body), ≥1). */
  promptTokens?: number;
  /** Pause between tokens (default 0: tokens are written in a synchronous loop). */
  tokenDelayMs?: number;
  /** Pause before the first token (default 0). */
  firstTokenDelayMs?: number;
  /**
   * A lying node: report these counts (usage, timings, eval counts; every report of a stream)
   * instead of the real ones. The delivered text is unchanged.
   */
  reportUsageAs?: { prompt?: number; completion?: number };
  /** Default true. false: omit every usage / timings / prompt_eval_count / eval_count field. */
  reportUsage?: boolean;
  /** Reply this HTTP status with the kind's real error body before any token (e.g. 500, 503). */
  failStatus?: number;
  /**
   * Requests of other clients the server reports on top of those it is serving now: vLLM
   * `/metrics` (num_requests_running / num_requests_waiting), llama.cpp `/metrics`
   * (requests_processing / requests_deferred) and `/slots` (busy slots).
   */
  otherLoad?: { running?: number; waiting?: number };
  /** vLLM `/metrics` kv_cache_usage_perc (default: 0.01 per running request, at most 1). */
  kvCacheUsage?: number;
  /** llama.cpp parallel slots (`-np`, default 4), one `/slots` entry each. */
  slots?: number;
  /** llama.cpp started with `--metrics` (default false: `/metrics` answers 501). */
  metrics?: boolean;
  /** Ollama: the models resident in memory, listed by `/api/ps` (default: every served model). */
  loadedModels?: string[];
  /**
   * The next N inference requests have their connection reset as soon as they arrive, before any
   * response byte (a server overwhelmed by a burst, or a socket it had just closed). Counts down.
   */
  resetConnections?: number;
  /** After N content tokens, destroy the socket abruptly (no terminal marker). */
  dieAfterTokens?: number;
  /**
   * After N content tokens, emit the kind's real in-stream error and end the body cleanly:
   * Ollama native `{"error":…}` line; Ollama /v1 an empty chunk with `"model":""` and no [DONE];
   * vLLM an error event followed by [DONE]; llama.cpp an error event without [DONE].
   * With N=0 on a server that sends headers with the first token (Ollama, llama.cpp) this is a
   * plain HTTP 500 with the kind's error body, as the real servers do.
   */
  errorAfterTokens?: number;
  /** Generate `tokens` even if the request caps fewer. */
  ignoreMaxTokens?: boolean;
  /** Ollama /v1 streaming shape: 'new' (>=0.32.6, default) or 'old' (before). */
  ollamaShape?: 'new' | 'old';
  /** Default true; false = health/tags/models endpoints answer 503 (llamacpp: every endpoint, 'Loading model'). */
  healthy?: boolean;
  /**
   * Context window (default 32768). vLLM/openai answer 400 when the prompt alone reaches it,
   * llama.cpp 400 exceed_context_size_error when the prompt exceeds it; Ollama truncates silently.
   * Reported as vLLM max_model_len, llama.cpp meta.n_ctx, Ollama /api/ps context_length.
   */
  contextLength?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON, or the raw string when the body is not JSON ('' when empty). */
  body: unknown;
  /** The client closed before the response finished. */
  aborted: boolean;
  /** Content tokens written to the client. */
  tokensSent: number;
  /** Whether the request asked for a stream (per the kind's default). */
  stream: boolean;
  /** The simulator killed the connection itself (dieAfterTokens). */
  died: boolean;
  /** The response has finished or the connection closed. */
  done: boolean;
  /** HTTP status sent (0 when the connection died before any header). */
  status: number;
}

export interface Simulator {
  readonly url: string;
  readonly kind: SimKind;
  /** Inference requests only (not health/model probes), in arrival order. */
  readonly requests: RecordedRequest[];
  /** Mutable at run time; each request takes a snapshot when it arrives. */
  options: SimOptions;
  /** Resolves when the first n inference requests have all finished or been aborted. */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  /** Closes the server and every open socket. */
  close(): Promise<void>;
}

export type Finish = 'stop' | 'length';

/** What one inference request will generate. */
export interface Plan {
  readonly count: number;
  readonly finish: Finish;
  readonly promptTokens: number;
  /** Counts to report instead of the real ones (SimOptions.reportUsageAs). */
  readonly lie?: { readonly prompt?: number; readonly completion?: number };
}

/** A complete non-streaming reply. */
export interface Reply {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

/** One request as the kind modules see it. */
export interface Exchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  /** Snapshot of the simulator's options when the request arrived. */
  readonly opts: Readonly<SimOptions>;
  readonly models: readonly string[];
  readonly rec: RecordedRequest;
  readonly wire: Wire;
  /** Server start time in unix seconds (model `created` fields). */
  readonly startedAt: number;
  /** Inference requests in progress on this server now (this one included, if inference). */
  readonly running: () => number;
  /** hrtime when the request arrived, and when the first token was written. */
  readonly t0: bigint;
  tFirst: bigint | undefined;
}

export type Handler = (ex: Exchange) => Promise<void> | void;

export interface Route {
  /** Inference routes are recorded in Simulator.requests. */
  readonly inference: boolean;
  readonly handle: Handler;
}

/** A kind's HTTP surface: find a route, or answer the kind's own 404. */
export interface KindServer {
  route(method: string, path: string): Route | undefined;
  notFound(ex: Exchange): Reply;
}
