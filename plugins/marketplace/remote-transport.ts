import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { BackendNode } from '../../src/proxy/node.js';
import { NodeRefusedError, transportResponse, type NodeTransport, type TransportRequest, type Upstream } from '../../src/proxy/transport.js';

/** Where an agent held by another replica is reached. */
export interface RemoteTarget {
  replicaUrl: string;
  /** The node's models as last listed (a change re-adds the node). */
  modelsKey: string;
  /** When a call to its replica last failed to connect (ms): the node stays out until the entry is renewed after that. */
  failedAt?: number;
}

export interface RemoteTimeouts {
  /** Longest wait for the holding replica's answer to a job (its own accept and first-chunk timers, plus a margin). */
  answerMs: number;
  /** Longest silence of the holding replica in the middle of a job's bytes. */
  gapMs: number;
}

/** The internal endpoints of a replica (authenticated by the cluster secret). */
export const CLUSTER_PATHS = {
  jobs: '/v1/gateway/cluster/jobs',
  request: (jobId: string) => `/v1/gateway/cluster/jobs/${encodeURIComponent(jobId)}/request`,
  complete: (jobId: string) => `/v1/gateway/cluster/jobs/${encodeURIComponent(jobId)}/complete`,
};

/** Header naming the sha256 of the agent key a forwarded proxy/request fetch presented (never the key). */
export const KEY_DIGEST_HEADER = 'x-owlrun-agent-key-sha256';

/** The most a refusal or a forwarded request body may be (bytes). */
const SMALL_BODY = 64 * 1024;

/**
 * Jobs for Owlrun agents connected to ANOTHER replica of this store: the job's final body goes
 * to the holding replica (POST /v1/gateway/cluster/jobs, cluster secret), which runs it on its
 * own connection to the agent and answers 200 with the agent's raw bytes, or a refusal before
 * any byte. MUST hold: a refusal, an unreachable replica or no answer in time reject with
 * NodeRefusedError (nothing was streamed: the job moves on); after the first byte a broken or
 * silent connection breaks the stream (the job settles on what was delivered); the buyer's
 * headers are never sent, only the body; a client that leaves aborts the call (the holder
 * stops the relay).
 */
export class RemoteAgentTransport implements NodeTransport {
  readonly targets = new Map<string, RemoteTarget>();
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 1024 });

  constructor(
    private readonly d: {
      /** The cluster secret (read from the store at start). */
      secret: string;
      log: Logger;
      timeouts: RemoteTimeouts;
      onForward(result: 'streamed' | 'refused' | 'unreachable'): void;
    },
  ) {}

  async open(node: BackendNode, req: TransportRequest): Promise<Upstream> {
    const target = this.targets.get(node.id);
    if (!target) throw new NodeRefusedError('the node left its replica');
    const payload = Buffer.from(JSON.stringify({ job_id: req.jobId, node_id: node.id, body: req.body }));
    try {
      return await this.send(node, target, payload, req, false);
    } catch (err) {
      // A pooled connection the other replica closed while idle: once more on a fresh one (nothing was streamed).
      if (!(err instanceof StaleConnection) || req.signal.aborted) throw err instanceof StaleConnection ? err.refusal : err;
      return this.send(node, target, payload, req, true).catch((e: unknown) => {
        throw e instanceof StaleConnection ? e.refusal : e;
      });
    }
  }

  private send(node: BackendNode, target: RemoteTarget, payload: Buffer, req: TransportRequest, fresh: boolean): Promise<Upstream> {
    return new Promise<Upstream>((resolve, reject) => {
      let answered = false;
      let timedOut = false;
      let watchdog: NodeJS.Timeout | undefined;
      const arm = (ms: number, why: string) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          timedOut = true;
          out.destroy(new Error(why));
        }, ms).unref();
      };
      const out = this.request(target.replicaUrl, CLUSTER_PATHS.jobs, 'POST', { 'content-type': 'application/json', 'content-length': String(payload.length) }, fresh, (res) => {
        answered = true;
        if (res.statusCode !== 200) {
          clearTimeout(watchdog);
          this.d.onForward('refused');
          void readSmall(res).then((text) => reject(new NodeRefusedError(`the holding replica did not run it (HTTP ${res.statusCode}: ${errorCode(text)})`)));
          return;
        }
        this.d.onForward('streamed');
        const body = transportResponse('text/event-stream');
        arm(this.d.timeouts.gapMs, 'the holding replica went silent in the middle of the job');
        res.on('data', (chunk: Buffer) => {
          arm(this.d.timeouts.gapMs, 'the holding replica went silent in the middle of the job');
          if (!body.write(chunk)) res.pause();
        });
        body.on('drain', () => res.resume());
        res.on('end', () => {
          clearTimeout(watchdog);
          body.end();
        });
        // A replica that dies or cuts the job mid-stream: the buyer's stream breaks, as an HTTP backend's would.
        res.on('error', () => undefined); // 'close' follows
        res.on('close', () => {
          clearTimeout(watchdog);
          if (!res.complete && !body.destroyed) body.destroy(new Error('the holding replica broke the stream'));
        });
        resolve({
          response: body,
          abort: () => {
            clearTimeout(watchdog);
            out.destroy();
            body.destroy();
          },
        });
      });
      arm(this.d.timeouts.answerMs, 'no answer from the holding replica');
      out.on('error', (err) => {
        clearTimeout(watchdog);
        if (answered) return;
        answered = true;
        const refusal = new NodeRefusedError(`the holding replica cannot be reached: ${err.message}`);
        if (!fresh && out.reusedSocket && !timedOut && !req.signal.aborted) return reject(new StaleConnection(refusal));
        if (!req.signal.aborted) {
          target.failedAt = Date.now();
          node.healthy = false; // until its replica renews its entry
          this.d.onForward('unreachable');
        }
        reject(refusal);
      });
      if (req.signal.aborted) out.destroy(new Error('the client went away'));
      else req.signal.addEventListener('abort', () => out.destroy(new Error('the client went away')), { once: true });
      out.end(payload);
    });
  }

  /** Tells the holding replica what a settled job earned its agent (its job_complete). Best effort. */
  complete(node: BackendNode, jobId: string, model: string, r: { tokens: number; earnedUsd: number }): void {
    const target = this.targets.get(node.id);
    if (!target) return;
    const payload = Buffer.from(JSON.stringify({ node_id: node.id, model, tokens: r.tokens, earned_usd: r.earnedUsd }));
    const out = this.request(target.replicaUrl, CLUSTER_PATHS.complete(jobId), 'POST', { 'content-type': 'application/json', 'content-length': String(payload.length) }, false, (res) => res.resume());
    out.setTimeout(this.d.timeouts.gapMs, () => out.destroy());
    out.on('error', (err) => this.d.log.debug({ node: node.id, err: err.message }, 'job_complete for another replica\'s agent not delivered'));
    out.end(payload);
  }

  /**
   * An agent's proxy/request fetch that reached this replica for a job another replica holds:
   * asks `replicaUrl` for the body (with the sha256 of the key the agent presented).
   */
  fetchRequest(replicaUrl: string, jobId: string, keyDigest: string, bodyLimit: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const out = this.request(replicaUrl, CLUSTER_PATHS.request(jobId), 'GET', { [KEY_DIGEST_HEADER]: keyDigest }, false, (res) => {
        if (res.statusCode !== 200) return void (res.resume(), resolve(undefined));
        void readSmall(res, bodyLimit).then((text) => resolve(text === undefined ? undefined : Buffer.from(text, 'utf8')), () => resolve(undefined));
      });
      out.setTimeout(this.d.timeouts.gapMs, () => out.destroy(new Error('no answer')));
      out.on('error', () => resolve(undefined));
      out.end();
    });
  }

  /** A call to another replica (cluster secret attached); `fresh`: on a connection of its own, not a pooled one. */
  private request(base: string, path: string, method: string, headers: Record<string, string>, fresh: boolean, onResponse: (res: IncomingMessage) => void): http.ClientRequest {
    const u = new URL(base.replace(/\/+$/, '') + path);
    const secure = u.protocol === 'https:';
    const agent = fresh ? false : secure ? this.httpsAgent : this.httpAgent;
    const out = (secure ? https : http).request(u, { method, agent, headers: { ...headers, authorization: `Bearer ${this.d.secret}` } }, onResponse);
    out.setNoDelay(true);
    return out;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** A pooled connection failed before any answer: worth one more try on a fresh one. */
class StaleConnection extends Error {
  constructor(readonly refusal: NodeRefusedError) {
    super(refusal.message);
  }
}

/** Reads a response body up to `limit` bytes (undefined past it). */
function readSmall(res: IncomingMessage, limit = SMALL_BODY): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) return void (res.destroy(), resolve(undefined));
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', () => resolve(undefined));
    res.on('close', () => resolve(undefined));
  });
}

/** The stable error code of a gateway error body, for a log line. */
function errorCode(text: string | undefined): string {
  try {
    const code = (JSON.parse(text ?? '') as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code.slice(0, 40) : 'unknown';
  } catch {
    return 'unknown';
  }
}
