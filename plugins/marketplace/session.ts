import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { NodeRegistration } from './accounts.js';
import { encodeGatewayMessage, parseNodeMessage, type GatewayMessage, type HeartbeatAck } from './protocol.js';
import type { RelayJob } from './relay-job.js';

export interface SessionHooks {
  /** The first heartbeat named the node: it may join the pool now. */
  bound(session: AgentSession): void;
  /** The socket closed (either side): the node leaves the pool at once. */
  closed(session: AgentSession): void;
  ack(session: AgentSession): Promise<HeartbeatAck>;
  /** A heartbeat's load figures arrived (queue_depth: the jobs the agent is streaming, for every gateway). */
  load(session: AgentSession): void;
}

/** Jobs ended recently, whose late messages are dropped without a warning. */
const RECENT_LIMIT = 1024;

/**
 * One connected Owlrun agent: its WebSocket, the jobs it runs, its liveness. The agent never
 * pings and has no read timeout, so the gateway drives liveness: a `ping` every interval, and a
 * socket silent (no heartbeat, pong or job message) for 3 intervals is closed.
 */
export class AgentSession {
  /** The node, once its first heartbeat named one of the key's registrations. */
  registration?: NodeRegistration;
  /** Jobs the agent says it is streaming (heartbeat queue_depth). */
  queueDepth = 0;
  private readonly jobs = new Map<string, RelayJob>();
  private readonly recent = new Set<string>();
  private lastHeard = Date.now();
  private pinger?: NodeJS.Timeout;
  private closed = false;
  private markClosed!: () => void;
  /** Resolves once the socket closed. */
  readonly whenClosed = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(
    private readonly ws: WebSocket,
    /** sha256 of the agent's key: the proof a job fetch comes from this agent. */
    readonly keyDigest: string,
    readonly provider: string,
    /** The key's recent registrations; the first heartbeat picks the node's. */
    private readonly registrations: NodeRegistration[],
    private readonly hooks: SessionHooks,
    private readonly log: Logger,
    pingIntervalMs: number,
  ) {
    ws.on('message', (data, isBinary) => {
      this.lastHeard = Date.now();
      if (!isBinary) this.handle(data.toString());
    });
    ws.on('close', () => this.onClose());
    ws.on('error', (err) => this.log.debug({ err: err.message }, 'agent socket error'));
    this.pinger = setInterval(() => {
      if (Date.now() - this.lastHeard > 3 * pingIntervalMs) {
        this.log.info({ node: this.registration?.nodeId }, 'agent silent for 3 ping intervals: disconnected');
        return this.ws.terminate();
      }
      this.send({ type: 'ping' });
    }, pingIntervalMs).unref();
  }

  get nodeId(): string | undefined {
    return this.registration?.nodeId;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  send(msg: GatewayMessage): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeGatewayMessage(msg));
  }

  /** Offers a job: the agent answers accept or reject; its stream arrives as proxy_chunk messages. */
  offer(job: RelayJob, model: string): void {
    this.jobs.set(job.id, job);
    this.send({ type: 'job', job_id: job.id, model, vram_required_mb: 0 });
  }

  /** Forgets an ended job (its late messages are dropped quietly). */
  forget(jobId: string): void {
    if (!this.jobs.delete(jobId)) return;
    this.recent.add(jobId);
    if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.values().next().value!);
  }

  /** Asks the agent to leave (it closes, then registers and dials again about 1 s later). */
  drain(): void {
    this.send({ type: 'drain' });
  }

  close(): void {
    this.ws.close(1001, 'gateway going away');
  }

  private handle(text: string): void {
    const msg = parseNodeMessage(text);
    if (!msg) return;
    switch (msg.type) {
      case 'heartbeat': {
        this.queueDepth = msg.queueDepth;
        if (!this.registration) this.bind(text);
        if (this.closed) return;
        this.hooks.load(this);
        this.hooks.ack(this).then(
          (ack) => this.send({ type: 'heartbeat_ack', ...ack }),
          (err: unknown) => this.log.error({ err }, 'heartbeat_ack failed'),
        );
        return;
      }
      case 'accept':
        return this.jobOf(msg.jobId)?.accept();
      case 'reject':
        return this.jobOf(msg.jobId)?.reject(msg.reason);
      case 'proxy_chunk':
        return this.jobOf(msg.jobId)?.chunk(msg.data);
      case 'proxy_done':
        return this.jobOf(msg.jobId)?.done();
      default:
        return;
    }
  }

  private jobOf(id: string): RelayJob | undefined {
    const job = this.jobs.get(id);
    if (!job && !this.recent.has(id)) this.log.debug({ node: this.nodeId }, 'message for a job this node does not run: dropped');
    return job;
  }

  private bind(text: string): void {
    const nodeId = (JSON.parse(text) as { node_id?: unknown }).node_id;
    this.registration = this.registrations.find((r) => r.nodeId === nodeId) ?? (nodeId === undefined ? this.registrations[0] : undefined);
    if (!this.registration) {
      this.log.warn({ provider: this.provider }, 'agent heartbeat names a node it did not register: disconnected');
      return this.ws.close(1008, 'register this node first');
    }
    this.hooks.bound(this);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.markClosed();
    clearInterval(this.pinger);
    for (const job of [...this.jobs.values()]) job.lost();
    this.jobs.clear();
    this.hooks.closed(this);
  }
}
