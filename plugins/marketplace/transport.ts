import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { BackendNode } from '../../src/proxy/node.js';
import type { BackendPool } from '../../src/proxy/pool.js';
import { NodeRefusedError, type NodeTransport, type TransportRequest, type Upstream } from '../../src/proxy/transport.js';
import { keyDigest } from './accounts.js';
import { RelayJob, type RelayEvent, type RelayTimeouts } from './relay-job.js';
import type { AgentSession } from './session.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The agent runs /v1/chat/completions on its Ollama, and nothing else. */
export const AGENT_ROUTES = ['openai_chat'] as const;

/** The registered tag a model name means on a node ("x" is Ollama's "x:latest"). */
export function tagFor(models: readonly string[], model: string): string {
  if (models.includes(model)) return model;
  return models.includes(`${model}:latest`) ? `${model}:latest` : model;
}

/**
 * The request a node fetches: the job's body (caps applied) with the model set to the node's
 * tag (the agent forwards it untouched) and always streaming with usage (the agent adds these
 * only when absent, and its mock streams whatever it is asked). Nothing of the buyer's
 * headers, nothing the gateway added for itself.
 */
export function nodeRequestBody(body: Readonly<Obj>, tag: string): Buffer {
  const so = isObj(body.stream_options) ? body.stream_options : {};
  return Buffer.from(JSON.stringify({ ...body, model: tag, stream: true, stream_options: { ...so, include_usage: true } }));
}

/**
 * Jobs to Owlrun agents connected to this gateway: one pool node per connected agent, a job
 * offered over its socket and its bytes reassembled into one upstream stream.
 */
export class AgentTransport implements NodeTransport {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly jobs = new Map<string, { job: RelayJob; session: AgentSession }>();

  constructor(
    private readonly d: {
      pool: BackendPool;
      log: Logger;
      timeouts: RelayTimeouts;
      maxConcurrent: number;
      onEvent(e: RelayEvent): void;
      /** A pool node this transport may replace (another replica's entry for the same agent). */
      yields?(node: BackendNode): boolean;
    },
  ) {}

  static nodeId(provider: string, agentNodeId: string): string {
    return `${provider}/${agentNodeId}`;
  }

  /** A session whose first heartbeat named its node joins the pool (replacing an older socket of the same node). */
  attach(session: AgentSession): BackendNode | undefined {
    const reg = session.registration!;
    const id = AgentTransport.nodeId(session.provider, reg.nodeId);
    const existing = this.d.pool.get(id);
    if (existing && existing.transport !== this && !this.d.yields?.(existing)) {
      this.d.log.warn({ node: id }, 'an agent node id clashes with another node: disconnected');
      session.close();
      return undefined;
    }
    const old = this.sessions.get(id);
    this.sessions.set(id, session);
    if (old && old !== session) old.close();
    const node = this.d.pool.add({
      id, kind: 'ollama', url: `owlrun-agent:${reg.nodeId}`, provider: session.provider, models: reg.models,
      maxConcurrent: this.d.maxConcurrent, source: 'connected', transport: this, routes: AGENT_ROUTES,
    });
    node.healthy = true;
    node.checked = true;
    this.d.log.info({ node: id, provider: session.provider, models: reg.models }, 'Owlrun agent connected');
    return node;
  }

  /** What the agent says it runs (all gateways' jobs) ranks its node among the others. */
  publishLoad(session: AgentSession): void {
    if (!session.registration) return;
    const node = this.d.pool.get(AgentTransport.nodeId(session.provider, session.registration.nodeId));
    if (node?.transport === this && this.sessions.get(node.id) === session) node.publishLoad({ running: session.queueDepth }, Date.now());
  }

  /** A closed session's node leaves the pool at once (unless a newer socket of it took over); returns its id when it left. */
  detach(session: AgentSession): string | undefined {
    if (!session.registration) return undefined;
    const id = AgentTransport.nodeId(session.provider, session.registration.nodeId);
    if (this.sessions.get(id) !== session) return undefined;
    this.sessions.delete(id);
    if (this.d.pool.get(id)?.transport === this) this.d.pool.remove(id);
    this.d.log.info({ node: id }, 'Owlrun agent disconnected; left the pool');
    return id;
  }

  open(node: BackendNode, req: TransportRequest): Promise<Upstream> {
    const session = this.sessions.get(node.id);
    if (!session?.isOpen || !session.registration) return Promise.reject(new NodeRefusedError('the node disconnected'));
    const tag = tagFor(session.registration.models, String(req.body.model));
    const job = new RelayJob(req.jobId, nodeRequestBody(req.body, tag), this.d.timeouts, {
      event: (e) => this.d.onEvent(e),
      ended: () => {
        this.jobs.delete(req.jobId);
        session.forget(req.jobId);
      },
    });
    this.jobs.set(req.jobId, { job, session });
    session.offer(job, tag);
    if (req.signal.aborted) job.abort();
    else req.signal.addEventListener('abort', () => job.abort(), { once: true });
    return job.opened;
  }

  /**
   * GET /v1/gateway/jobs/{id}/proxy/request: the body, for the assigned node's key only, once.
   * Anything else gets nothing (the caller answers 404 whatever the reason).
   */
  takeRequest(jobId: string, key: string): Buffer | undefined {
    return this.takeRequestOf(jobId, keyDigest(key));
  }

  /** As takeRequest, for the sha256 of the key (hex): the fetch reached another replica, which forwarded it here. */
  takeRequestOf(jobId: string, digest: string): Buffer | undefined {
    const entry = this.jobs.get(jobId);
    if (!entry || !/^[0-9a-f]{64}$/.test(digest)) return undefined;
    const a = Buffer.from(digest, 'hex');
    const b = Buffer.from(entry.session.keyDigest, 'hex');
    if (!timingSafeEqual(a, b)) return undefined;
    return entry.job.takeRequest();
  }

  /** The connected session of a pool node of this transport. */
  sessionOf(nodeId: string): AgentSession | undefined {
    return this.sessions.get(nodeId);
  }

  /** The pool ids of the agents connected here. */
  nodeIds(): string[] {
    return [...this.sessions.keys()];
  }

  /** Tells the node what a settled job earned it (its dashboard's only source). */
  complete(nodeId: string, jobId: string, model: string, r: { tokens: number; earnedUsd: number }): void {
    const session = this.sessions.get(nodeId);
    if (!session?.registration) return;
    session.send({ type: 'job_complete', job_id: jobId, model: tagFor(session.registration.models, model), tokens: r.tokens, earned_usd: Math.round(r.earnedUsd * 1e8) / 1e8 });
  }

  get connected(): number {
    return this.sessions.size;
  }

  /** Every connected agent, told to leave (gateway shutdown); resolves when they closed, or after graceMs. */
  async drainAll(graceMs = 2000): Promise<void> {
    const sessions = [...this.sessions.values()];
    for (const s of sessions) s.drain();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(sessions.map((s) => s.whenClosed)), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  /** Jobs being relayed now (the agents' heartbeats are told the gateway's queue depth). */
  get running(): number {
    return this.jobs.size;
  }
}
