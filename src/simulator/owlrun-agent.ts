import { randomBytes, randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { checkAck, type AgentStats } from './owlrun-ack.js';
import { goJson, goString } from './owlrun-go.js';
import { agentReads, MOCK_MODEL, mockFlushes, type MockAnswer } from './owlrun-mock-ollama.js';
import { AgentWallet } from './owlrun-wallet.js';

// A faithful stand-in for the public Owlrun node agent (Go, v0.9.19) with `--mock`: it registers,
// dials the WebSocket with its key in the query, heartbeats at once and then every 30 s, answers
// job offers at once (no concurrency limit), fetches each job's request, streams its mock
// Ollama's bytes in 4096-byte proxy_chunk reads, sends proxy_done — or nothing more when its
// Ollama fails — answers ping, obeys drain (re-registers about 1 s later), backs off 1, 2, 4 … 30 s
// on refused registrations, and withdraws its balance by itself once the acked balance reaches
// 10 sats (10 000 msat), at most once a minute. Every zero field is left out of what it sends.

export type AgentBehaviour =
  /** the mock Ollama answers */
  | 'mock'
  /** rejects every job (model_not_loaded) */
  | 'reject'
  /** accepts, then never fetches nor sends anything */
  | 'silent'
  /** fetches the request, then its Ollama fails: no chunk, no proxy_done */
  | 'ollama-error'
  /** streams `dieAfterChunks` chunks, then the process dies (socket dropped, no close frame) */
  | 'die-mid-stream'
  /** streams everything but the agent's connection breaks before proxy_done (no proxy_done) */
  | 'no-done';

export interface OwlrunAgentOptions {
  gateway: string;
  /** Where the agent's job fetches land when not at `gateway` (another replica, as behind a non-sticky load balancer). */
  fetchGateway?: string;
  key?: string;
  nodeId?: string;
  models?: string[];
  behaviour?: AgentBehaviour;
  answer?: MockAnswer;
  heartbeatMs?: number;
  /** Scales the agent's delays (1 s drain reconnect, 1…30 s backoff, 60 s payout cooldown); tests use small values. */
  timeScale?: number;
  dieAfterChunks?: number;
  /** Withdraw by itself when the acked balance reaches 10 sats (the agent always does). */
  autoWithdraw?: boolean;
  lightningAddress?: string;
  /** Called with every heartbeat_ack (the agent's dashboard). */
  onAck?(stats: AgentStats): void;
  /** Called after each payout the agent could read, with its sats. */
  onClaim?(sats: number): void;
}

const HEARTBEAT_MS = 30_000;

export class OwlrunAgent {
  readonly key: string;
  readonly nodeId: string;
  readonly models: string[];
  /** Last heartbeat_ack (what the agent's dashboard shows). */
  stats?: AgentStats;
  /** Bodies fetched from proxy/request, by job id. */
  readonly fetched = new Map<string, Record<string, unknown>>();
  readonly completed: { job_id: string; model: string; tokens: number; earned_usd: number }[] = [];
  registrations = 0;
  registrationFailures = 0;
  dials = 0;
  drains = 0;
  /** job offers received. */
  offers = 0;
  /** The job ids offered, in order. */
  readonly offered: string[] = [];
  /** proxy_chunk messages sent, all jobs. */
  chunksSent = 0;
  readonly wallet: AgentWallet;
  private ws?: WebSocket;
  private running = true;
  private queueDepth = 0;
  private heartbeat?: NodeJS.Timeout;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly o: OwlrunAgentOptions) {
    this.key = o.key ?? `owlr_prov_${randomBytes(24).toString('hex')}`;
    this.nodeId = o.nodeId ?? randomUUID();
    this.models = o.models ?? [MOCK_MODEL];
    this.wallet = new AgentWallet(o.gateway, this.key, 60_000 * (o.timeScale ?? 1));
  }

  private get scale(): number {
    return this.o.timeScale ?? 1;
  }

  /** Starts the agent's loop; resolves at its first heartbeat_ack (or never, if refused). */
  start(): Promise<void> {
    void this.runLoop();
    return this.nextAck();
  }

  /** Resolves at the next heartbeat_ack. */
  nextAck(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The agent stops (Ctrl-C): closes its socket normally. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.heartbeat);
    this.ws?.close(1001, 'node disconnecting');
  }

  /** The agent's process dies: the socket drops without a close frame. */
  kill(): void {
    this.running = false;
    clearInterval(this.heartbeat);
    this.ws?.terminate();
  }

  private async runLoop(): Promise<void> {
    let delay = 1000;
    while (this.running) {
      const ok = await this.register();
      if (ok) {
        await this.session().catch(() => undefined);
        delay = 1000;
      } else this.registrationFailures++;
      if (!this.running) return;
      await sleep(delay * this.scale);
      if (!ok) delay = Math.min(delay * 2, 30_000);
    }
  }

  private async register(): Promise<boolean> {
    this.registrations++;
    const body: Record<string, unknown> = {
      node_id: this.nodeId, api_key: this.key, gpu: '', gpu_vendor: 'none', vram_total_mb: 0, vram_free_mb: 0, vram_exact: false,
      models: this.models, ollama_url: 'http://localhost:11434', region: 'auto',
      ...(this.o.lightningAddress ? { lightning_address: this.o.lightningAddress } : {}),
      version: '0.9.19',
    };
    try {
      const res = await fetch(`${this.o.gateway}/v1/gateway/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${this.key}` }, body: goJson(body) });
      await res.arrayBuffer();
      return res.status === 200 || res.status === 201;
    } catch {
      return false;
    }
  }

  private session(): Promise<void> {
    this.dials++;
    const url = `${this.o.gateway.replace(/^http/, 'ws')}/v1/gateway/ws?api_key=${this.key}`;
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 32768 });
      this.ws = ws;
      ws.on('open', () => {
        this.sendHeartbeat();
        this.heartbeat = setInterval(() => this.sendHeartbeat(), this.o.heartbeatMs ?? HEARTBEAT_MS);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const msg = checkAck(data.toString());
        if (!msg) return ws.close(1003, 'unreadable message'); // the Go decoder fails: the session ends
        this.handle(ws, msg);
      });
      ws.on('error', (err) => reject(err));
      ws.on('close', () => {
        clearInterval(this.heartbeat);
        resolve();
      });
    });
  }

  private send(ws: WebSocket, msg: Record<string, unknown>): void {
    if (ws.readyState !== ws.OPEN) return;
    // The agent's struct has omitempty on every field.
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(msg)) if (v !== 0 && v !== false && v !== '' && v !== undefined) out[k] = v;
    ws.send(goJson(out));
  }

  private sendHeartbeat(): void {
    if (this.ws) this.send(this.ws, { type: 'heartbeat', node_id: this.nodeId, gpu_util_pct: 0, vram_free_mb: 0, temp_c: 0, power_w: 0, queue_depth: this.queueDepth, earning_state: 'earning' });
  }

  private handle(ws: WebSocket, msg: Record<string, unknown>): void {
    switch (msg.type) {
      case 'ping':
        return this.send(ws, { type: 'pong' });
      case 'heartbeat_ack':
        this.stats = msg as unknown as AgentStats;
        for (const w of this.waiters.splice(0)) w();
        this.o.onAck?.(this.stats);
        if (this.o.autoWithdraw !== false && this.stats.balance_sats > 0) {
          void this.wallet.autoClaim(this.stats.balance_sats).then((claim) => {
            if (claim?.parsed) this.o.onClaim?.(claim.parsed.proofs.reduce((n, p) => n + p.amount, 0));
          });
        }
        return;
      case 'job':
        return void this.handleJob(ws, String(msg.job_id ?? ''), String(msg.model ?? ''));
      case 'job_complete':
        this.completed.push(msg as unknown as OwlrunAgent['completed'][number]);
        return;
      case 'drain':
        this.drains++;
        return ws.close(1000);
      default:
        return;
    }
  }

  private async handleJob(ws: WebSocket, jobId: string, model: string): Promise<void> {
    const b = this.o.behaviour ?? 'mock';
    this.offers++;
    this.offered.push(jobId);
    if (!this.models.includes(model) || b === 'reject') return this.send(ws, { type: 'reject', job_id: jobId, reason: 'model_not_loaded' });
    this.send(ws, { type: 'accept', job_id: jobId });
    if (b === 'silent') return;
    this.queueDepth++;
    try {
      const res = await fetch(`${this.o.fetchGateway ?? this.o.gateway}/v1/gateway/jobs/${jobId}/proxy/request`, { headers: { authorization: `Bearer ${this.key}` } });
      if (res.status !== 200) return void (await res.arrayBuffer());
      const body = JSON.parse(await res.text()) as Record<string, unknown>;
      if (!('stream' in body)) body.stream = true;
      if (!('stream_options' in body)) body.stream_options = { include_usage: true };
      this.fetched.set(jobId, body);
      if (b === 'ollama-error') return;
      let chunks = 0;
      for (const flush of mockFlushes(this.o.answer)) {
        for (const read of agentReads(flush.bytes)) {
          if (b === 'die-mid-stream' && chunks >= (this.o.dieAfterChunks ?? 3)) return this.kill();
          this.send(ws, { type: 'proxy_chunk', job_id: jobId, data: goString(read) });
          chunks++;
          this.chunksSent++;
        }
        if (flush.delayAfterMs > 0) await sleep(flush.delayAfterMs);
        if (ws.readyState !== ws.OPEN) return;
      }
      if (b !== 'no-done') this.send(ws, { type: 'proxy_done', job_id: jobId });
    } finally {
      this.queueDepth--;
    }
  }
}

/** Starts an agent and waits for its first heartbeat_ack. */
export async function startOwlrunAgent(o: OwlrunAgentOptions): Promise<OwlrunAgent> {
  const agent = new OwlrunAgent(o);
  await agent.start();
  return agent;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
