// The load client. The same code drives the direct and the gateway runs: node:http with a
// keep-alive agent, minimal per-chunk work (no JSON parsing), a check that every response ended
// the way its format says it must.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export type Framing = 'sse' | 'ndjson' | 'json';

/** One kind of request against one server. */
export interface Target {
  readonly label: string;
  /** Server base URL (http://host:port). */
  readonly base: string;
  readonly path: string;
  readonly body: string;
  readonly framing: Framing;
  /** Extra headers per request (e.g. a fresh payment token in a paid-mode benchmark). */
  readonly headers?: () => Record<string, string>;
  /**
   * What the last 256 bytes of a good response must hold; default: the framing's terminal
   * marker (`data: [DONE]`, `"done":true`). A paid stream ends with the change event instead.
   */
  readonly terminal?: string;
}

export interface Outcome {
  ok: boolean;
  status: number;
  bytes: number;
  /** ms from sending to the response end. */
  totalMs: number;
  /** ms from sending to the first content token (when asked for). */
  ttftMs?: number;
  error?: string;
  /** The last ≤256 bytes of the body (latin1), e.g. to read a paid stream's change event. */
  tail?: string;
  /** ms the request waited in the gateway's admission queue (its `Server-Timing: queue;dur=`). */
  queueMs?: number;
}

const QUEUE_TIMING = /(?:^|,)\s*queue;dur=([\d.]+)/;

const TERMINAL: Record<Framing, string | undefined> = { sse: 'data: [DONE]', ndjson: '"done":true', json: undefined };
/** A content delta with at least one character: OpenAI `delta.content`, Ollama `message.content`. */
const FIRST_TOKEN = /"content":"[^"]/;

export function keepAliveAgent(sockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' });
}

/** Sends one request and reads the whole response. Never rejects. */
export function send(agent: http.Agent, target: Target, opts: { ttft?: boolean } = {}): Promise<Outcome> {
  const url = new URL(target.path, target.base);
  const body = Buffer.from(target.body);
  return new Promise<Outcome>((resolve) => {
    const t0 = performance.now();
    let settled = false;
    const done = (o: Omit<Outcome, 'totalMs'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...o, totalMs: performance.now() - t0 });
    };
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...target.headers?.() },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const timing = QUEUE_TIMING.exec(String(res.headers['server-timing'] ?? ''));
        const queueMs = timing ? Number(timing[1]) : undefined;
        let bytes = 0;
        let prev: Buffer | undefined;
        let last: Buffer | undefined;
        let ttftMs: number | undefined;
        let carry = '';
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          prev = last;
          last = chunk;
          if (opts.ttft && ttftMs === undefined) {
            const text = carry + chunk.toString('latin1');
            if (FIRST_TOKEN.test(text)) ttftMs = performance.now() - t0;
            else carry = text.slice(-16);
          }
        });
        res.once('end', () => {
          const tail = Buffer.concat([prev ?? Buffer.alloc(0), last ?? Buffer.alloc(0)]).subarray(-256).toString('latin1');
          const marker = target.terminal ?? TERMINAL[target.framing];
          let error: string | undefined;
          if (status !== 200) error = `HTTP ${status}: ${tail.slice(0, 160)}`;
          else if (marker !== undefined && !tail.includes(marker)) error = `no terminal marker ${marker}`;
          else if (bytes === 0) error = 'empty body';
          done({ ok: error === undefined, status, bytes, ttftMs, error, tail, queueMs });
        });
        res.once('error', (err) => done({ ok: false, status, bytes, error: err.message }));
        res.once('aborted', () => done({ ok: false, status, bytes, error: 'response aborted' }));
      },
    );
    req.once('error', (err) => done({ ok: false, status: 0, bytes: 0, error: err.message }));
    req.end(body);
  });
}

export interface LoopResult {
  label: string;
  /** Responses that ended inside the measured window, and how many of them failed. */
  completed: number;
  failed: number;
  firstError?: string;
  windowS: number;
  perSecond: number;
  /** Request durations (ms) and body bytes of the window's successful responses. */
  latenciesMs: number[];
  bytes: number;
}

export interface LoopHooks {
  /** Runs after the warm-up, just before the window opens (e.g. resource snapshots). */
  beforeWindow?(): Promise<void>;
  /** Runs just after the window closes. */
  afterWindow?(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Closed loop: `connections` workers each send back-to-back requests. After `warmupMs` a window
 * of `durationMs` opens; responses that end inside it are counted. Then the workers finish their
 * current request and stop.
 */
export async function closedLoop(target: Target, connections: number, warmupMs: number, durationMs: number, hooks: LoopHooks = {}): Promise<LoopResult> {
  const agent = keepAliveAgent(connections);
  let phase: 'warmup' | 'window' | 'drain' = 'warmup';
  let completed = 0;
  let failed = 0;
  let bytes = 0;
  let firstError: string | undefined;
  const latenciesMs: number[] = [];
  let stop = false;

  const worker = async (): Promise<void> => {
    while (!stop) {
      const o = await send(agent, target);
      if (phase !== 'window') continue;
      completed++;
      if (o.ok) {
        bytes += o.bytes;
        latenciesMs.push(o.totalMs);
      } else {
        failed++;
        firstError ??= o.error;
      }
    }
  };
  const workers = Array.from({ length: connections }, worker);
  await sleep(warmupMs);
  await hooks.beforeWindow?.();
  phase = 'window';
  const t0 = performance.now();
  await sleep(durationMs);
  phase = 'drain';
  const windowS = (performance.now() - t0) / 1000;
  await hooks.afterWindow?.();
  stop = true;
  await Promise.all(workers);
  agent.destroy();
  return { label: target.label, completed, failed, firstError, windowS, perSecond: (completed - failed) / windowS, latenciesMs, bytes };
}

export interface SeriesOptions {
  /** Idle ms after each request (lets background work of the server just used finish first). */
  gapMs?: number;
  /** Sees every outcome, warm-up included (k = target index). */
  onOutcome?(k: number, o: Outcome, warmup: boolean): void;
}

/**
 * Sequential paced requests, alternating between the targets (and the order of each pair), so
 * slow drift on the machine hits both sides alike. Returns the TTFTs (ms) of each target.
 */
export async function ttftSeries(targets: readonly Target[], n: number, warmup: number, opts: SeriesOptions = {}): Promise<{ ttftMs: number[][]; failed: number[]; firstError?: string }> {
  const agents = targets.map(() => keepAliveAgent(1));
  const ttftMs = targets.map(() => [] as number[]);
  const failed = targets.map(() => 0);
  let firstError: string | undefined;
  for (let i = 0; i < warmup + n; i++) {
    const order = targets.map((_, k) => k);
    if (i % 2 === 1) order.reverse();
    for (const k of order) {
      const o = await send(agents[k]!, targets[k]!, { ttft: true });
      opts.onOutcome?.(k, o, i < warmup);
      if (opts.gapMs) await sleep(opts.gapMs);
      if (i < warmup) continue;
      if (o.ok && o.ttftMs !== undefined) ttftMs[k]!.push(o.ttftMs);
      else {
        failed[k]!++;
        firstError ??= o.error ?? 'no content token seen';
      }
    }
  }
  for (const a of agents) a.destroy();
  return { ttftMs, failed, firstError };
}
