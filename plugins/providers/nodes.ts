import type { Logger } from 'pino';
import { BACKEND_KINDS, DEFAULT_MAX_CONCURRENT } from '../../src/config/schema.js';
import type { BackendKind } from '../../src/config/types.js';
import type { Registration, RegistrationsRepo } from '../../src/ledger/registrations.js';
import { probeNode } from '../../src/proxy/health.js';
import { BackendNode } from '../../src/proxy/node.js';
import { releaseNode } from '../../src/proxy/node-http.js';
import type { BackendPool } from '../../src/proxy/pool.js';
import { GatewayError } from '../../src/errors.js';
import { TargetRefused, type Listener, type TargetGuard } from './targets.js';

export interface Announcement {
  url: string;
  kind: BackendKind;
  models: string[];
  maxConcurrent: number;
  /** the node's name within its provider; default its URL's host (and path) */
  name: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;
const MAX_MODELS = 256;

/** Validates a registration body: {url, kind, models?, maxConcurrent?, name?}; throws 400 naming the field. */
export function parseAnnouncement(body: Record<string, unknown>): Announcement {
  const bad = (field: string, what: string) => new GatewayError('invalid_request', `${field}: ${what}`);
  if (typeof body.url !== 'string' || body.url.length > 2048) throw bad('url', 'expected the node\'s base URL, e.g. "http://10.0.0.5:11434"');
  let u: URL;
  try {
    u = new URL(body.url);
  } catch {
    throw bad('url', 'not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('url', 'expected http(s)');
  if (u.username || u.password || u.search || u.hash) throw bad('url', 'no credentials, query or fragment');
  const url = `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
  const kind = body.kind ?? 'openai';
  if (typeof kind !== 'string' || !(BACKEND_KINDS as readonly string[]).includes(kind)) throw bad('kind', `one of ${BACKEND_KINDS.join(', ')}`);
  let models: string[] = [];
  if (body.models !== undefined && body.models !== null) {
    if (!Array.isArray(body.models) || body.models.length > MAX_MODELS || !body.models.every((m) => typeof m === 'string' && m.length > 0 && m.length <= 256)) {
      throw bad('models', `a list of up to ${MAX_MODELS} model names`);
    }
    models = [...new Set(body.models as string[])];
  }
  const mc = body.maxConcurrent ?? DEFAULT_MAX_CONCURRENT[kind as BackendKind];
  if (typeof mc !== 'number' || !Number.isSafeInteger(mc) || mc < 1 || mc > 10_000) throw bad('maxConcurrent', 'an integer from 1 to 10000');
  const defaultName = `${u.host}${u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '')}`;
  const name = body.name ?? defaultName;
  if (typeof name !== 'string' || !(NAME.test(name) || name === defaultName)) throw bad('name', 'letters, digits and . _ : @ - (at most 64)');
  return { url, kind: kind as BackendKind, models, maxConcurrent: mc, name };
}

/** The node a DELETE names: `{"name"}` alone, or `{"url"}` (its default name). */
export function parseLeave(body: Record<string, unknown>): string {
  if (body.url === undefined && typeof body.name === 'string' && NAME.test(body.name)) return body.name;
  if (body.url === undefined) throw new GatewayError('invalid_request', 'name: the node\'s name (or url: its URL)');
  return parseAnnouncement(body).name;
}

export interface NodeView {
  id: string;
  provider: string;
  url: string;
  kind: BackendKind;
  models: string[];
  maxConcurrent: number;
  healthy: boolean;
  registered_at: string;
  expires_at: string;
  ttl_seconds: number;
}

/**
 * Node self-registration: a provider's node announces itself and joins the pool once its URL
 * passes the TargetGuard and a health check; each announcement renews it for nodeTtlSeconds
 * (the heartbeat) and resolves its host again; silent nodes leave. The gateway connects only to
 * the addresses it checked (BackendNode.pin). Registrations live in the store: after a restart
 * (or on another replica) the pool is rebuilt from the live ones, and refresh() keeps it in step.
 * Every refusal that concerns the target answers the same `node_refused`: what was wrong (a
 * private address, a taken endpoint, a closed port, a failed health check) is only logged.
 */
export class Registrar {
  constructor(
    private readonly d: { pool: BackendPool; repo: RegistrationsRepo; guard: TargetGuard; ttlMs: number; timeoutMs: number; log: Logger; now: () => number },
  ) {}

  /** Node id in the pool: namespaced by the provider, so a provider can only touch its own nodes. */
  static nodeId(provider: string, name: string): string {
    return `${provider}/${name}`;
  }

  /**
   * An announcement (first or heartbeat). 201 when the node joined, 200 when renewed.
   * `listener`: the endpoint the request arrived on (the gateway's own, never a node's).
   */
  async register(provider: string, a: Announcement, listener?: Listener): Promise<{ created: boolean; view: NodeView }> {
    const { pool, repo, guard } = this.d;
    const id = Registrar.nodeId(provider, a.name);
    const existing = pool.get(id);
    const refuse = (reason: string): never => {
      this.d.log.info({ node: id, provider, reason }, 'node registration refused');
      throw new GatewayError('node_refused');
    };
    // One endpoint is one node: not a configured backend, another provider's node, this
    // provider's node under another name, nor the gateway itself.
    if (existing && existing.source !== 'registered') refuse(`${id} is a configured backend`);
    const same = pool.all().find((n) => n.url === a.url && n.id !== id);
    if (same) refuse(`the URL is node ${same.id}`);
    let pin: string[] = [];
    try {
      pin = await guard.addressesOf(a.url);
      await guard.assertFree(a.url, pin, id, listener);
    } catch (err) {
      if (!(err instanceof TargetRefused)) throw err;
      refuse(err.message);
    }
    // The health check, on the addresses just checked: a node joins only once the gateway can reach it.
    const probe = await probeNode(new BackendNode({ id, kind: a.kind, url: a.url, provider, models: a.models, maxConcurrent: a.maxConcurrent, source: 'registered', pin }), this.d.timeoutMs);
    if (!probe.ok) {
      if (existing?.source === 'registered') pool.applyHealth(existing, probe);
      refuse(`health check failed: ${probe.error}`);
    }
    const now = this.d.now();
    const res = await repo.upsert({ id, provider, url: a.url, kind: a.kind, models: a.models, maxConcurrent: a.maxConcurrent, seenAt: now, expiresAt: now + this.d.ttlMs });
    if ('conflict' in res) return refuse(`the URL is registered by ${res.conflict.provider}`);
    const { node, created } = pool.register({ ...this.spec(res.registration), pin }, probe);
    if (created || res.created) this.d.log.info({ node: id, provider, kind: a.kind, models: node.listedModels() }, 'node registered');
    return { created: res.created, view: this.view(res.registration) };
  }

  /** A provider's node leaves at once. */
  async leave(provider: string, name: string): Promise<void> {
    const id = Registrar.nodeId(provider, name);
    if (!(await this.d.repo.remove(id, provider))) throw new GatewayError('node_not_found');
    const node = this.d.pool.get(id);
    if (node?.source === 'registered') {
      this.d.pool.remove(id);
      releaseNode(node);
    }
    this.d.log.info({ node: id, provider }, 'node left the pool (deregistered)');
  }

  /**
   * Forgets registrations whose TTL ran out (store and pool), and brings the pool in step with
   * the store: registrations made on another replica (or before a restart) join — their host
   * resolved and checked again, then health-checked at once — and heartbeats seen elsewhere
   * renew them here.
   */
  async refresh(): Promise<void> {
    const { pool, repo } = this.d;
    const now = this.d.now();
    await repo.expire(now);
    for (const r of await repo.live(now)) {
      const old = pool.get(r.id);
      if (old && old.source !== 'registered') continue;
      let pin = old?.url === r.url ? old.pin : undefined;
      if (!pin) {
        try {
          pin = await this.d.guard.addressesOf(r.url);
        } catch (err) {
          if (!(err instanceof TargetRefused)) throw err;
          this.d.log.warn({ node: r.id, reason: err.message }, 'a stored registration is refused now; left out of the pool');
          continue;
        }
      }
      const { node, created } = pool.register({ ...this.spec(r), pin });
      if (created) void pool.check(node).catch(() => undefined);
    }
    pool.expire(now);
  }

  async ofProvider(provider: string): Promise<NodeView[]> {
    return (await this.d.repo.ofProvider(provider, this.d.now())).map((r) => this.view(r));
  }

  private spec(r: Registration) {
    return { id: r.id, kind: r.kind, url: r.url, provider: r.provider, models: r.models, maxConcurrent: r.maxConcurrent, source: 'registered' as const, expiresAt: r.expiresAt };
  }

  private view(r: Registration): NodeView {
    const node = this.d.pool.get(r.id);
    return {
      id: r.id, provider: r.provider, url: r.url, kind: r.kind, models: node ? node.listedModels() : r.models, maxConcurrent: r.maxConcurrent,
      healthy: node?.healthy ?? false, registered_at: new Date(r.registeredAt).toISOString(), expires_at: new Date(r.expiresAt).toISOString(),
      ttl_seconds: Math.round(this.d.ttlMs / 1000),
    };
  }
}
