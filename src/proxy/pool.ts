import type { Logger } from 'pino';
import { BackendNode, type BackendNodeSpec } from './node.js';
import { probeNode, type ProbeResult } from './health.js';
import type { RouteKind } from '../pipeline/job.js';
import { probeLoad } from './load.js';
import { rankOf } from './rank.js';

export interface Route {
  /** Some node (healthy or not) serves the model. */
  known: boolean;
  /** Healthy nodes serving the model with room, best first (src/proxy/rank.ts). */
  candidates: BackendNode[];
}

/** The nodes the gateway can send jobs to, kept fresh by periodic health checks. */
export class BackendPool {
  private readonly nodes = new Map<string, BackendNode>();
  private timer?: NodeJS.Timeout;
  private rotation = 0;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly opts: { intervalMs: number; timeoutMs: number; log: Logger; now?: () => number },
  ) {}

  /**
   * `fn` runs after anything that may change where jobs can run other than a job's own slot:
   * a node added, removed, renewed or turning healthy or unhealthy (the admission queue re-checks
   * its waiters).
   */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  add(spec: BackendNodeSpec): BackendNode {
    const node = new BackendNode(spec);
    const old = this.nodes.get(spec.id);
    if (old) node.sharesLoadOf(old);
    this.nodes.set(spec.id, node);
    this.changed();
    return node;
  }

  /**
   * A registered node announced itself (POST /v1/gateway/register), or was read back from the
   * store: added, or renewed in place — its health, in-flight count and discovered models are
   * kept while its url, kind and kind of model list stay the same. `health`: a check just made.
   * A configured node of the same id is never replaced (throws).
   */
  register(spec: BackendNodeSpec & { source: 'registered'; expiresAt: number }, health?: ProbeResult): { node: BackendNode; created: boolean } {
    const old = this.nodes.get(spec.id);
    if (old && old.source !== 'registered') throw new Error(`pool: node ${spec.id} is configured, not registered`);
    let node: BackendNode;
    if (old && old.url === spec.url.replace(/\/+$/, '') && old.kind === spec.kind && old.fixedModels === spec.models.length > 0) {
      node = old;
      node.expiresAt = Math.max(old.expiresAt ?? 0, spec.expiresAt);
      node.maxConcurrent = spec.maxConcurrent;
      node.provider = spec.provider;
      if (spec.pin) node.pin = spec.pin;
      if (node.fixedModels) node.setModels(spec.models);
    } else {
      node = this.add(spec);
    }
    if (health) this.applyHealth(node, health);
    this.changed();
    return { node, created: !old };
  }

  /** Registered nodes whose TTL ran out at `now` leave the pool; returns their ids. */
  expire(now: number = (this.opts.now ?? Date.now)()): string[] {
    const gone: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.source === 'registered' && node.expiresAt !== undefined && node.expiresAt <= now) {
        this.nodes.delete(node.id);
        gone.push(node.id);
      }
    }
    if (gone.length > 0) {
      this.opts.log.info({ nodes: gone }, 'registered nodes stopped heartbeating; removed');
      this.changed();
    }
    return gone;
  }

  /** Room appeared on a node other than by an admission slot's release (e.g. a job another replica ran there ended): waiters re-check. */
  poke(): void {
    this.changed();
  }

  remove(id: string): void {
    if (this.nodes.delete(id)) this.changed();
  }

  get(id: string): BackendNode | undefined {
    return this.nodes.get(id);
  }

  all(): BackendNode[] {
    return [...this.nodes.values()];
  }

  /** Some node (healthy or not) serves the model (on the route, when given). */
  knows(model: string, route?: RouteKind): boolean {
    for (const node of this.nodes.values()) if (node.serves(model, route)) return true;
    return false;
  }

  /** Where a request for `model` (on `route`, when given) can run. */
  route(model: string, route?: RouteKind): Route {
    let known = false;
    const candidates: BackendNode[] = [];
    for (const node of this.nodes.values()) {
      if (!node.serves(model, route)) continue;
      known = true;
      if (node.healthy && node.hasRoom) candidates.push(node);
    }
    if (candidates.length > 1) {
      // Equal ranks are rotated so idle nodes share the work.
      const now = (this.opts.now ?? Date.now)();
      const maxAge = 3 * this.opts.intervalMs + this.opts.timeoutMs;
      const r = this.rotation++;
      const n = candidates.length;
      const ranked = candidates.map((node, i) => ({ node, turn: (i + r) % n, ...rankOf(node, model, now, maxAge) }));
      ranked.sort((a, b) => a.tier - b.tier || a.busy - b.busy || a.turn - b.turn);
      return { known, candidates: ranked.map((x) => x.node) };
    }
    return { known, candidates };
  }

  /** A node whose connection failed leaves the pool until its next successful health check. */
  markFailed(node: BackendNode, reason: string): void {
    node.healthy = false;
    node.lastError = reason;
    this.opts.log.warn({ node: node.id, reason }, 'backend failed; out of the pool until it answers again');
    this.changed();
  }

  /**
   * One health check, then (healthy nodes) one read of the load the node publishes. A node on
   * its own transport is kept healthy (and its load published) by that transport instead.
   */
  async check(node: BackendNode): Promise<void> {
    if (node.transport) return;
    const health = await probeNode(node, this.opts.timeoutMs);
    this.applyHealth(node, health);
    if (!health.ok) return;
    const load = await probeLoad(node, this.opts.timeoutMs);
    if (load) node.publishLoad(load, (this.opts.now ?? Date.now)());
  }

  /**
   * Records a health check's result on the node (and the models it discovered). A healthy node
   * leaves the pool after two failed checks in a row: one check that times out while the node is
   * busy is not an outage (a connection that fails during a job takes it out at once: markFailed).
   */
  applyHealth(node: BackendNode, result: ProbeResult): void {
    const wasHealthy = node.healthy;
    node.checked = true;
    node.failedChecks = result.ok ? 0 : node.failedChecks + 1;
    node.healthy = result.ok || (wasHealthy && node.failedChecks < 2);
    node.lastError = result.ok ? undefined : result.error;
    if (result.ok && result.models && !node.fixedModels) node.setModels(result.models);
    if (wasHealthy !== node.healthy) {
      this.opts.log.info({ node: node.id, healthy: node.healthy, error: node.lastError }, 'backend health changed');
      this.changed();
    }
  }

  async checkAll(): Promise<void> {
    this.expire();
    await Promise.all([...this.nodes.values()].map((n) => this.check(n)));
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.checkAll()
        .catch((err: unknown) => this.opts.log.error({ err }, 'health check round failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.opts.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
