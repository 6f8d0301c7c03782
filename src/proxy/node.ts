import type { BackendKind } from '../config/types.js';
import type { RouteKind } from '../pipeline/job.js';
import type { NodeTransport } from './transport.js';

/**
 * Where a node comes from: the config (stays), a URL registration (leaves when its TTL runs
 * out), or a live connection the node opened itself (leaves the moment it closes).
 */
export type NodeSource = 'config' | 'registered' | 'connected';
import type { PublishedLoad } from './load.js';

/** A node's own load figures, as last read, with what the gateway itself had running there then. */
export interface LoadReading extends PublishedLoad {
  /** The gateway's in-flight count on the node when the figures were read. */
  readonly inFlightAtRead: number;
  /** When they were read (ms, the pool's clock). */
  readonly at: number;
}

/** One inference server in the pool: configured in YAML or registered at run time. */
export interface BackendNodeSpec {
  id: string;
  kind: BackendKind;
  url: string;
  provider?: string;
  /** Fixed model list; when empty the models are discovered from the backend. */
  models: string[];
  maxConcurrent: number;
  apiKey?: string;
  /** Configured nodes only (default true); a node of any other source is never trusted. */
  trustUsage?: boolean;
  source: NodeSource;
  expiresAt?: number;
  /** How jobs reach the node when it is not an HTTP server the gateway calls (health is the transport's). */
  transport?: NodeTransport;
  /** The inference routes the node can run; every route when absent. */
  routes?: readonly RouteKind[];
  /** The addresses the gateway checked for this node's host: it connects to these only (no DNS at connect time). */
  pin?: readonly string[];
}

export class BackendNode {
  readonly id: string;
  readonly kind: BackendKind;
  url: string;
  provider?: string;
  maxConcurrent: number;
  apiKey?: string;
  readonly source: NodeSource;
  /**
   * Whether the usage this node reports is billed as it stands. Only an operator's own backend
   * may be trusted: a provider's node is billed at most the gateway's own count (metering).
   */
  readonly trustUsage: boolean;
  expiresAt?: number;
  readonly transport?: NodeTransport;
  readonly routes?: ReadonlySet<RouteKind>;
  /** Connect only to these addresses (a registered node: the ones its registration checked), Host header unchanged. */
  pin?: readonly string[];
  /** Served model names, aliases included (Ollama "x:latest" is also "x"). */
  models = new Set<string>();
  readonly fixedModels: boolean;
  healthy = false;
  /** Health has been checked at least once. */
  checked = false;
  /** Failed health checks in a row. */
  failedChecks = 0;
  /** The gateway's own jobs on the node: one counter shared with the node it replaced (see sharesLoadOf). */
  private jobs = { inFlight: 0 };
  failovers = 0;
  /** The node's last published load (health checks, or a transport's heartbeats), if any. */
  load?: LoadReading;
  lastError?: string;

  constructor(spec: BackendNodeSpec) {
    this.id = spec.id;
    this.kind = spec.kind;
    this.url = spec.url.replace(/\/+$/, '');
    this.provider = spec.provider;
    this.maxConcurrent = spec.maxConcurrent;
    this.apiKey = spec.apiKey;
    this.source = spec.source;
    this.trustUsage = spec.source === 'config' && spec.trustUsage !== false;
    this.pin = spec.pin;
    this.expiresAt = spec.expiresAt;
    this.transport = spec.transport;
    if (spec.routes) this.routes = new Set(spec.routes);
    this.fixedModels = spec.models.length > 0;
    this.setModels(spec.models);
  }

  setModels(names: readonly string[]): void {
    const set = new Set<string>();
    for (const n of names) {
      set.add(n);
      if (this.kind === 'ollama' && n.endsWith(':latest')) set.add(n.slice(0, -':latest'.length));
    }
    this.models = set;
  }

  /** The names to list in /v1/models (aliases left out). */
  listedModels(): string[] {
    return [...this.models].filter((m) => !(this.kind === 'ollama' && this.models.has(`${m}:latest`)));
  }

  /** The node serves the model (on the route, when given). */
  serves(model: string, route?: RouteKind): boolean {
    return this.models.has(model) && (route === undefined || this.routes === undefined || this.routes.has(route));
  }

  /** The gateway's own jobs on the node now; never above maxConcurrent. */
  get inFlight(): number {
    return this.jobs.inFlight;
  }

  set inFlight(n: number) {
    this.jobs.inFlight = n;
  }

  /**
   * This node replaces `old` (same id): both count on one counter, so a job that started on the
   * old object and finishes after the swap decrements what the pool routes by.
   */
  sharesLoadOf(old: BackendNode): void {
    this.jobs = old.jobs;
  }

  /**
   * Records what the node says about its load (any transport: polled /metrics, /slots, /api/ps,
   * or an agent's heartbeat `queue_depth` as `waiting`). Ranks the node; never raises its cap.
   */
  publishLoad(load: PublishedLoad, at: number): void {
    this.load = { ...load, inFlightAtRead: this.inFlight, at };
  }

  get hasRoom(): boolean {
    return this.inFlight < this.maxConcurrent;
  }
}
