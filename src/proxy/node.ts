import type { BackendKind } from '../config/types.js';
import type { RouteKind } from '../pipeline/job.js';
import type { NodeTransport } from './transport.js';

/**
 * Where a node comes from: the config (stays), a URL registration (leaves when its TTL runs
 * out), or a live connection the node opened itself (leaves the moment it closes).
 */
export type NodeSource = 'config' | 'registered' | 'connected';

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
  source: NodeSource;
  expiresAt?: number;
  /** How jobs reach the node when it is not an HTTP server the gateway calls (health is the transport's). */
  transport?: NodeTransport;
  /** The inference routes the node can run; every route when absent. */
  routes?: readonly RouteKind[];
}

export class BackendNode {
  readonly id: string;
  readonly kind: BackendKind;
  url: string;
  provider?: string;
  maxConcurrent: number;
  apiKey?: string;
  readonly source: NodeSource;
  expiresAt?: number;
  readonly transport?: NodeTransport;
  readonly routes?: ReadonlySet<RouteKind>;
  /** Served model names, aliases included (Ollama "x:latest" is also "x"). */
  models = new Set<string>();
  readonly fixedModels: boolean;
  healthy = false;
  /** Health has been checked at least once. */
  checked = false;
  inFlight = 0;
  failovers = 0;
  lastError?: string;

  constructor(spec: BackendNodeSpec) {
    this.id = spec.id;
    this.kind = spec.kind;
    this.url = spec.url.replace(/\/+$/, '');
    this.provider = spec.provider;
    this.maxConcurrent = spec.maxConcurrent;
    this.apiKey = spec.apiKey;
    this.source = spec.source;
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

  get hasRoom(): boolean {
    return this.inFlight < this.maxConcurrent;
  }
}
