import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { pipeline } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { errorBody } from '../../src/errors.js';
import { parseJsonObject, readBody } from '../../src/http/body.js';
import { bearer } from '../../src/http/keys.js';
import type { BackendNode } from '../../src/proxy/node.js';
import type { BackendPool } from '../../src/proxy/pool.js';
import { NodeRefusedError } from '../../src/proxy/transport.js';
import { keyDigest } from './accounts.js';
import { AgentDirectory, DIRECTORY_TTL_SYNCS, type HeldAgent } from './directory.js';
import type { MarketplaceMetrics } from './metrics.js';
import { CLUSTER_PATHS, KEY_DIGEST_HEADER, RemoteAgentTransport } from './remote-transport.js';
import type { AgentSession } from './session.js';
import { AGENT_KEY } from './registration.js';
import { AGENT_ROUTES, type AgentTransport } from './transport.js';

const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/;
const MODEL_TAG = /^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,199}$/;

/**
 * Replicas on one PostgreSQL store serve buyers with each other's agents. Each replica lists
 * the agents connected to it in the store's directory (on connect, renewed every sync
 * interval, removed on disconnect and at shutdown) and, on the same timer — never on a
 * request's path — puts the agents the other replicas list into its own pool, on a
 * RemoteAgentTransport. A job for such an agent goes to its holding replica, which runs it on
 * its own socket, counted in its node's in-flight (the node's cap holds across replicas); the
 * buyer's replica meters, bills and settles it, then tells the holder what it earned (the
 * agent's job_complete). An agent's proxy/request fetch that reaches a replica not holding the
 * job is forwarded to the replica holding an agent of that key, where the fetch-once rule holds.
 * Internal calls carry the cluster secret (shared through the store), compared in constant time.
 */
export class ReplicaCluster {
  readonly directory: AgentDirectory;
  private timer?: NodeJS.Timeout;
  private syncing?: Promise<void>;
  private again = false;
  private advertised?: string;
  private draining = false;
  private stopped = false;
  /** The others' agents as last read (the key digests route forwarded fetches). */
  private known: HeldAgent[] = [];
  /** Jobs this replica runs for buyers of other replicas now. */
  private servingForOthers = 0;
  private readonly idle: (() => void)[] = [];
  private readonly secretDigest: Buffer;
  /** Directory writes of connects and disconnects, in order (a quick reconnect must not leave the older write last). */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly d: {
      db: ConstructorParameters<typeof AgentDirectory>[0];
      pool: BackendPool;
      local: AgentTransport;
      remote: RemoteAgentTransport;
      log: Logger;
      metrics: MarketplaceMetrics;
      secret: string;
      syncMs: number;
      /** marketplace.replicaUrl, when the operator set it. */
      replicaUrl?: string;
      /** server.host: the address the listener is bound to. */
      listenHost: string;
      /** Largest job body a buyer may send (server.bodyLimit). */
      bodyLimit: number;
      /** How long shutdown waits for jobs run here for other replicas' buyers. */
      graceMs: number;
    },
  ) {
    this.directory = new AgentDirectory(d.db, randomBytes(8).toString('hex'));
    this.advertised = d.replicaUrl?.replace(/\/+$/, '');
    this.secretDigest = sha256(d.secret);
  }

  private get ttlMs(): number {
    return DIRECTORY_TTL_SYNCS * this.d.syncMs;
  }

  /** The agents of other replicas in this replica's pool now. */
  get remoteNodes(): number {
    return this.d.remote.targets.size;
  }

  start(): void {
    this.syncSoon();
    this.timer = setInterval(() => this.syncSoon(), this.d.syncMs).unref();
  }

  /**
   * An agent dialled this listener: with no marketplace.replicaUrl, other replicas reach this one
   * at the listener's address as the agent reached it (server.host when bound to one address).
   */
  noteListener(socket: { localAddress?: string; localPort?: number }): void {
    if (this.advertised || !socket.localPort) return;
    const host = this.d.listenHost;
    const unspecified = host === '' || host === '0.0.0.0' || host === '::';
    const addr = (unspecified ? (socket.localAddress ?? '127.0.0.1') : host).replace(/^::ffff:/, '');
    this.advertised = `http://${addr.includes(':') ? `[${addr}]` : addr}:${socket.localPort}`;
    if (unspecified && /^(127\.|::1$)/.test(addr)) {
      this.d.log.warn({ replicaUrl: this.advertised }, 'marketplace: other replicas will reach this one at a loopback address; on several hosts set marketplace.replicaUrl');
    }
  }

  /** An agent connected here: the directory lists it under this replica at once. */
  attached(node: BackendNode, session: AgentSession): void {
    if (!this.advertised || !session.registration) return;
    const entry = {
      nodeId: node.id, replicaUrl: this.advertised, provider: session.provider, models: session.registration.models,
      maxConcurrent: node.maxConcurrent, running: node.inFlight, keyDigest: session.keyDigest,
    };
    this.write(() => this.directory.publish(entry, Date.now()), node.id, 'marketplace: could not list an agent in the replicas\' directory');
  }

  /** An agent left this replica: its entry goes; another replica may hold it now. */
  detached(nodeId: string): void {
    this.write(() => this.directory.withdraw(nodeId), nodeId, 'marketplace: could not remove an agent from the replicas\' directory');
    void this.writes.then(() => this.syncSoon());
  }

  private write(fn: () => Promise<void>, node: string, failure: string): void {
    this.writes = this.writes.then(fn).catch((err: unknown) => this.d.log.error({ err, node }, failure));
  }

  /** Runs one sync now (or right after the running one). */
  syncSoon(): void {
    if (this.stopped) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = this.sync()
      .catch((err: unknown) => this.d.log.error({ err }, 'marketplace: replicas\' directory sync failed'))
      .finally(() => {
        this.syncing = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.syncSoon();
        }
      });
  }

  private async sync(): Promise<void> {
    const now = Date.now();
    if (!this.draining) {
      const running = new Map<string, number>();
      for (const id of this.d.local.nodeIds()) {
        const node = this.d.pool.get(id);
        if (node?.transport === this.d.local) running.set(id, Math.max(node.inFlight, this.d.local.sessionOf(id)?.queueDepth ?? 0));
      }
      await this.directory.renew(running, now);
    }
    const others = await this.directory.others(now - this.ttlMs);
    if (!this.stopped) this.apply(others, Date.now());
  }

  /** The pool holds exactly the others' live agents that are not connected here. */
  private apply(agents: HeldAgent[], now: number): void {
    const { pool, remote } = this.d;
    this.known = agents;
    const latest = new Map<string, HeldAgent>();
    for (const a of agents) if ((latest.get(a.nodeId)?.updatedAt ?? -1) < a.updatedAt) latest.set(a.nodeId, a);
    const kept = new Set<string>();
    let changed = false;
    for (const [id, a] of latest) {
      const existing = pool.get(id);
      if (existing && existing.transport !== remote) continue; // connected here, or not an agent at all
      const target = remote.targets.get(id);
      let node = existing;
      const modelsKey = JSON.stringify(a.models);
      if (!node || !target || target.replicaUrl !== a.replicaUrl || target.modelsKey !== modelsKey) {
        node = pool.add({
          id, kind: 'ollama', url: `owlrun-agent:${id.slice(id.indexOf('/') + 1)}`, provider: a.provider, models: a.models,
          maxConcurrent: a.maxConcurrent, source: 'connected', transport: remote, routes: AGENT_ROUTES,
        });
        remote.targets.set(id, { replicaUrl: a.replicaUrl, modelsKey });
      }
      kept.add(id);
      const t = remote.targets.get(id)!;
      const healthy = t.failedAt === undefined || a.updatedAt > t.failedAt;
      if (healthy) t.failedAt = undefined;
      if (node.healthy !== healthy || node.maxConcurrent !== a.maxConcurrent) changed = true;
      node.healthy = healthy;
      node.checked = true;
      node.maxConcurrent = a.maxConcurrent;
      node.provider = a.provider;
      node.publishLoad({ running: a.running }, now);
    }
    for (const id of [...remote.targets.keys()]) {
      if (kept.has(id)) continue;
      remote.targets.delete(id);
      if (pool.get(id)?.transport === remote) pool.remove(id);
    }
    if (changed) pool.poke();
  }

  /** The cluster secret in `Authorization: Bearer …`, in constant time. */
  private authorized(ctx: Context): boolean {
    const presented = bearer(ctx.get('authorization') || undefined);
    return presented !== undefined && timingSafeEqual(sha256(presented), this.secretDigest);
  }

  private refuse(ctx: Context, status: number, body: unknown): void {
    ctx.status = status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  }

  /**
   * An agent's proxy/request fetch for a job this replica does not hold: the body from the
   * replica holding an agent of this key, or undefined.
   */
  async fetchElsewhere(jobId: string, key: string): Promise<Buffer | undefined> {
    // Only a well-formed agent key may cost a store lookup.
    if (!JOB_ID.test(jobId) || !AGENT_KEY.test(key)) return undefined;
    const digest = keyDigest(key);
    const urls = new Set(this.known.filter((a) => a.keyDigest === digest).map((a) => a.replicaUrl));
    // An agent that connected since the last sync: the store knows it already.
    if (urls.size === 0) for (const u of await this.directory.replicasOfKey(digest, Date.now() - this.ttlMs)) urls.add(u);
    for (const url of urls) {
      if (url === this.advertised) continue;
      const body = await this.d.remote.fetchRequest(url, jobId, digest, this.forwardLimit);
      if (body) return body;
    }
    return undefined;
  }

  private get forwardLimit(): number {
    return 2 * this.d.bodyLimit + 64 * 1024;
  }

  /** The internal endpoints other replicas call (cluster secret required). */
  routes(router: Router): void {
    router.post(CLUSTER_PATHS.jobs, async (ctx) => {
      if (!this.authorized(ctx)) return this.refuse(ctx, 401, errorBody('auth_invalid_key', 'not a replica of this gateway'));
      if (this.draining) return this.refuse(ctx, 503, errorBody('shutting_down'));
      const msg = parseJsonObject(await readBody(ctx.req, this.forwardLimit));
      const { job_id: jobId, node_id: nodeId, body } = msg;
      if (typeof jobId !== 'string' || !JOB_ID.test(jobId) || typeof nodeId !== 'string' || typeof body !== 'object' || body === null || Array.isArray(body)) {
        return this.refuse(ctx, 400, errorBody('invalid_request', 'job_id, node_id and body are required'));
      }
      await this.serve(ctx, jobId, nodeId, body as Record<string, unknown>);
    });

    router.get('/v1/gateway/cluster/jobs/:id/request', (ctx) => {
      if (!this.authorized(ctx)) return this.refuse(ctx, 401, errorBody('auth_invalid_key', 'not a replica of this gateway'));
      const body = this.d.local.takeRequestOf(ctx.params.id ?? '', ctx.get(KEY_DIGEST_HEADER));
      if (!body) return this.refuse(ctx, 404, errorBody('job_not_found'));
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/json';
      ctx.body = body;
    });

    router.post('/v1/gateway/cluster/jobs/:id/complete', async (ctx) => {
      if (!this.authorized(ctx)) return this.refuse(ctx, 401, errorBody('auth_invalid_key', 'not a replica of this gateway'));
      const msg = parseJsonObject(await readBody(ctx.req, 4096));
      const { node_id: nodeId, model, tokens, earned_usd: earnedUsd } = msg;
      const count = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
      if (typeof nodeId !== 'string' || typeof model !== 'string' || !MODEL_TAG.test(model) || !count(tokens) || !count(earnedUsd)) {
        return this.refuse(ctx, 400, errorBody('invalid_request', 'node_id, model, tokens and earned_usd are required'));
      }
      this.d.local.complete(nodeId, ctx.params.id ?? '', model, { tokens, earnedUsd });
      ctx.status = 204;
    });
  }

  /**
   * Runs a job forwarded by another replica on an agent connected here: 200 and the agent's
   * raw bytes, or 503 before any byte (not connected here, at its cap, refused, timed out).
   * The caller leaving aborts the relay; a relay that breaks mid-stream cuts the response.
   */
  private async serve(ctx: Context, jobId: string, nodeId: string, body: Record<string, unknown>): Promise<void> {
    const { pool, local } = this.d;
    const node = pool.get(nodeId);
    if (!node || node.transport !== local || !node.healthy) return this.refuse(ctx, 503, errorBody('backend_unavailable', 'the agent is not connected to this replica'));
    if (!node.hasRoom) return this.refuse(ctx, 503, errorBody('backend_unavailable', 'the agent runs as many jobs as it may'));
    node.inFlight++;
    this.servingForOthers++;
    this.d.metrics.servedForReplicas.inc();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      node.inFlight--;
      this.servingForOthers--;
      if (this.servingForOthers === 0) for (const fn of this.idle.splice(0)) fn();
      pool.poke();
    };
    const gone = new AbortController();
    ctx.res.once('close', () => gone.abort());
    let upstream;
    try {
      upstream = await local.open(node, { jobId, body, signal: gone.signal });
    } catch (err) {
      release();
      if (!(err instanceof NodeRefusedError)) throw err;
      return this.refuse(ctx, 503, errorBody('backend_unavailable', `the agent did not take the job (${err.message})`));
    }
    ctx.respond = false;
    const res = ctx.res;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    pipeline(upstream.response, res, (err) => {
      release();
      if (err) {
        upstream.abort();
        res.destroy();
      }
    });
  }

  /**
   * Shutdown, before the agents are told to drain: no new job from other replicas, this
   * replica's entries leave the directory, and the jobs run here for other replicas' buyers
   * may finish (up to graceMs).
   */
  async drain(): Promise<void> {
    this.draining = true;
    await this.writes;
    await this.directory.withdrawAll().catch((err: unknown) => this.d.log.error({ err }, 'marketplace: could not leave the replicas\' directory'));
    if (this.servingForOthers === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((r) => this.idle.push(r)), new Promise<void>((r) => (timer = setTimeout(r, this.d.graceMs)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    this.draining = true;
    await this.syncing;
    await this.writes;
    await this.directory.withdrawAll().catch(() => undefined);
    this.d.remote.close();
  }
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
