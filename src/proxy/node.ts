import type { BackendKind } from '../config/types.js';
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
  /** 'config' nodes stay; 'registered' nodes leave when expiresAt passes. */
  source: 'config' | 'registered';
  expiresAt?: number;
}

export class BackendNode {
  readonly id: string;
  readonly kind: BackendKind;
  url: string;
  provider?: string;
  maxConcurrent: number;
  apiKey?: string;
  readonly source: 'config' | 'registered';
  /**
   * Whether the usage this node reports is billed as it stands. Only an operator's own backend
   * may be trusted: a provider's node is billed at most the gateway's own count (metering).
   */
  readonly trustUsage: boolean;
  expiresAt?: number;
  /** Served model names, aliases included (Ollama "x:latest" is also "x"). */
  models = new Set<string>();
  readonly fixedModels: boolean;
  healthy = false;
  /** Health has been checked at least once. */
  checked = false;
  /** Failed health checks in a row. */
  failedChecks = 0;
  /** The gateway's own jobs on the node now; never above maxConcurrent. */
  inFlight = 0;
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
    this.expiresAt = spec.expiresAt;
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

  serves(model: string): boolean {
    return this.models.has(model);
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
