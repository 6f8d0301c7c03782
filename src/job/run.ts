import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { AccessNote } from '../http/access-log.js';
import { readWholeBody, parseJsonObject } from '../http/body.js';
import { sendError, sendJson } from '../http/respond.js';
import type { Job, JobAdmission, JobOutcome, RouteKind } from '../pipeline/job.js';
import type { PluginRunner } from '../pipeline/runner.js';
import { ConnectError, Forwarder } from '../proxy/forward.js';
import type { BackendNode } from '../proxy/node.js';
import type { BackendPool } from '../proxy/pool.js';
import { NodeRefusedError, type Upstream } from '../proxy/transport.js';
import type { Admission, AdmissionQueue, Slot } from '../queue/admission.js';
import { ChatCompletionAssembler } from '../stream/chat-completion.js';
import { collectStream } from '../stream/collect.js';
import type { GatewayMetrics } from '../metrics/registry.js';
import { jsonBodyEvent } from '../stream/json-body.js';
import { PASS } from '../stream/event.js';
import { NdjsonFramer, NdjsonParser } from '../stream/ndjson.js';
import { relayStream, type RelayFraming } from '../stream/relay.js';
import { SseFramer, SseParser } from '../stream/sse.js';
import { ClientWatch } from './client-watch.js';
import { contentTypeOf, responseHeaders, streamFormatOf, type BackendHeaders } from './response-headers.js';

export interface JobDeps {
  pool: BackendPool;
  /** Where a job waits for a free node; every job's place on a node comes from it. */
  queue: AdmissionQueue;
  forwarder: Forwarder;
  runner: PluginRunner;
  log: Logger;
  bodyLimit: number;
  /** Largest event (SSE/NDJSON) or non-streaming body accepted from a backend. */
  maxEventBytes: number;
  /** Jobs in progress, for graceful shutdown. */
  active: Set<Promise<void>>;
  metrics: GatewayMetrics;
}

/** How long a stream's response headers wait for its first bytes before they are sent alone. */
const HEADERS_WAIT_MS = 50;

/** Backend statuses that mean "this node refused, try another" (queue full, gateway errors). */
const REFUSALS = new Set([502, 503, 504]);

const ADMITTED: JobAdmission = Object.freeze({ ok: true });

/** The headers of an answer assembled from a node's stream. */
const ASSEMBLED: BackendHeaders = { headers: { 'content-type': 'application/json' } };

const jobAdmission = (a: Admission): JobAdmission => (a.ok ? ADMITTED : { ok: false, code: a.code, message: a.message });

/** Ollama's native API streams unless told not to; the OpenAI API does not unless asked. */
function wantsStream(route: RouteKind, body: Record<string, unknown>): boolean {
  if (body.stream === undefined || body.stream === null) return route === 'ollama_chat' || route === 'ollama_generate';
  if (typeof body.stream !== 'boolean') throw new GatewayError('invalid_request', '"stream" must be true or false');
  return body.stream;
}

/**
 * Runs one inference request end to end; owns the raw response. Settlement runs exactly once.
 * Resolves once the job settled, with what the access log adds (undefined: no job started).
 * `headers`: carried by every answer (becomes job.responseHeaders, where plugins add theirs).
 */
export async function runJob(route: RouteKind, req: IncomingMessage, res: ServerResponse, deps: JobDeps, headers: Record<string, string> = {}, startedAt: number = performance.now()): Promise<AccessNote | undefined> {
  let raw: Buffer;
  let body: Record<string, unknown>;
  let stream: boolean;
  try {
    raw = await readWholeBody(req, deps.bodyLimit);
    body = parseJsonObject(raw);
    if (typeof body.model !== 'string' || body.model === '') throw new GatewayError('invalid_request', '"model" must be a non-empty string');
    stream = wantsStream(route, body);
  } catch (err) {
    sendError(res, err instanceof GatewayError ? err : new GatewayError('invalid_request'), headers);
    return undefined;
  }

  const client = new ClientWatch(res);
  const model = body.model as string;
  let admit: () => Promise<JobAdmission> = () => Promise.reject(new Error('job not started'));
  // MUST stay one object literal of data properties (function values included) whose objects
  // share their hidden classes: no getter, no spread followed by more fields, no AbortSignal made
  // for every job. V8 (Node 20) gives an object with a hidden class of its own — a literal with a
  // getter, each AbortSignal, `{ ...x, more }` — a survival through young-generation GCs with
  // everything it references: measured under load, 0.3-1.9 MB promoted per scavenge instead of
  // ~0.01, and the heap grown to 2-4 times its live size (issue 13: peak RSS 255 MB). Re-measure
  // with `npm run bench -- --only streams,rps --before DIR` (its "old generation +X MB per scavenge").
  const job: Job = {
    id: randomUUID(),
    route,
    path: req.url ?? '/',
    model,
    stream,
    clientAddress: req.socket.remoteAddress ?? '',
    headers: req.headers,
    rawBody: raw,
    body,
    bodyChanged: false,
    modelKnown: deps.pool.knows(model, route),
    candidates: [],
    responseHeaders: headers,
    state: {},
    startedAt,
    clientSignal: () => client.signal,
    admit: () => admit(),
  };
  const jobRun = new JobRun(job, client, req, res, deps);
  admit = () => jobRun.admit();
  const done = jobRun.run();
  deps.active.add(done);
  try {
    await done;
  } finally {
    deps.active.delete(done);
  }
  return { model, job: job.id, costSats: job.state.change?.costSats };
}

class JobRun {
  private settled = false;
  /** The reservation once made (at once, or after the wait `admission` stands for). */
  private admitted?: Admission;
  private admission?: Promise<Admission>;
  /** The job's place on a node, held from admission to the end of the job (released in run's finally). */
  private slot?: Slot;

  constructor(
    private readonly job: Job,
    private readonly client: ClientWatch,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly deps: JobDeps,
  ) {}

  /** Job.admit: one reservation per job, waiting in the queue if every node is full. */
  admit(): Promise<JobAdmission> {
    const a = this.reserve();
    return a instanceof Promise ? a.then(jobAdmission) : Promise.resolve(jobAdmission(a));
  }

  /**
   * The job's one reservation (made at the first call): without a promise when a node had room
   * at once (the usual case: no promise, no microtask), else the wait in the queue.
   */
  private reserve(): Admission | Promise<Admission> {
    if (this.admitted) return this.admitted;
    if (this.admission) return this.admission;
    const { job, deps } = this;
    const slot = deps.queue.takeSlot(job.model, job.route);
    if (slot) return this.reserved({ ok: true, slot, waitedMs: 0 });
    this.admission = deps.queue.admit(job.model, job.clientSignal, job.route).then((a) => this.reserved(a));
    return this.admission;
  }

  private reserved(a: Admission): Admission {
    this.admitted = a;
    if (!a.ok) return a;
    this.slot = a.slot;
    this.job.node = a.slot.node;
    this.job.candidates = [a.slot.node];
    if (a.waitedMs > 0) this.job.responseHeaders['Server-Timing'] = `queue;dur=${a.waitedMs.toFixed(1)}`;
    return a;
  }

  async run(): Promise<void> {
    const { job, deps, client } = this;
    try {
      if (deps.runner.hasRequestHandlers) {
        const verdict = await deps.runner.onRequest(job);
        if (verdict.kind === 'reply') {
          await this.settle('refused', false, false);
          return sendJson(this.res, verdict.status, verdict.body, { ...job.responseHeaders, ...verdict.headers });
        }
      }
      if (client.gone) return void (await this.settle('client_gone', false, false));
      const reservation = this.reserve();
      const admitted = reservation instanceof Promise ? await reservation : reservation;
      if (!admitted.ok) {
        if (admitted.code === 'client_gone' || client.gone) return void (await this.settle('client_gone', false, false));
        return await this.failBeforeOutput(admitted.code, admitted.message);
      }
      if (client.gone) return void (await this.settle('client_gone', false, false));
      deps.runner.transformRequest(job);
      const upstream = await this.connect();
      if (!upstream) return;
      await this.respond(upstream);
    } catch (err) {
      deps.log.error({ err, job: job.id }, 'job failed');
      if (!this.settled) await this.settle(this.res.headersSent ? 'backend_failed' : 'failed', this.res.headersSent, this.res.headersSent);
      if (!this.res.headersSent) sendError(this.res, 'internal_error', this.job.responseHeaders);
      else if (!this.res.writableEnded) this.res.end();
    } finally {
      this.slot?.release();
      this.record();
    }
  }

  /** Request metrics; the model label only for models a backend serves (bounded label values). */
  private record(): void {
    const { job } = this;
    this.deps.metrics.requests.record(
      job.route,
      job.modelKnown ? job.model : 'unknown',
      this.res.statusCode,
      (performance.now() - job.startedAt) / 1000,
      job.firstByteAt === undefined ? undefined : (job.firstByteAt - job.startedAt) / 1000,
    );
  }

  /**
   * Sends the job to its admitted node; on a refusal (502/503/504) or a connection that fails
   * before any response byte, moves its slot to the next best node with room (no waiting) and
   * tries again, until a node answers or none is left.
   */
  private async connect(): Promise<Upstream | undefined> {
    const { job, deps } = this;
    const slot = this.slot!;
    let body = job.bodyChanged ? Buffer.from(JSON.stringify(job.body)) : job.rawBody;
    // The body was made for the admitted node's kind: a node of another kind gets it re-made
    // (caps and usage requests use each server's own parameter names).
    let kind = slot.node.kind;
    // The nodes that refused or failed (made at the first: most jobs never need it).
    let tried: Set<BackendNode> | undefined;
    let lastStatus: number | undefined;
    while (slot.held && !this.client.gone) {
      const node = slot.node;
      job.node = node;
      if (node.kind !== kind) {
        kind = node.kind;
        body = this.remakeBody();
      }
      try {
        const upstream = node.transport
          ? await this.openTransport(node)
          : await deps.forwarder.send(node, this.req, this.res, deps.forwarder.outgoingHeaders(job.headers, node, body.length), body);
        const status = upstream.response.statusCode ?? 502;
        if (!REFUSALS.has(status)) return upstream;
        const next = deps.pool.all().some((n) => n !== node && n.healthy && n.hasRoom && n.serves(job.model, job.route) && !tried?.has(n));
        if (!next) return upstream; // the last node's own refusal goes to the client
        lastStatus = status;
        upstream.abort();
        deps.log.warn({ node: node.id, status, job: job.id }, 'node refused; trying the next one');
      } catch (err) {
        if (err instanceof NodeRefusedError) deps.log.warn({ node: node.id, reason: err.message, job: job.id }, 'node did not take the job; trying the next one');
        else if (!(err instanceof ConnectError)) throw err;
        else deps.pool.markFailed(node, err.message);
      }
      (tried ??= new Set()).add(node);
      node.failovers++;
      deps.metrics.backendFailovers.inc({ node: deps.metrics.nodeLabel(node.id) });
      if (!slot.moveOn(job.model, tried, job.route)) break;
    }
    job.node = slot.held ? slot.node : undefined;
    if (this.client.gone) {
      await this.settle('client_gone', false, false);
      return undefined;
    }
    await this.failBeforeOutput('backend_unavailable', lastStatus ? `every node refused (last: HTTP ${lastStatus})` : 'no node could be reached');
    return undefined;
  }

  /** The client's body, transformed again by the plugins for job.node (its kind). */
  private remakeBody(): Buffer {
    const { job } = this;
    job.body = parseJsonObject(job.rawBody);
    job.bodyChanged = false;
    this.deps.runner.transformRequest(job);
    return job.bodyChanged ? Buffer.from(JSON.stringify(job.body)) : job.rawBody;
  }

  /** A node on its own transport gets the final body (job.body, caps applied) and nothing of the client's headers. */
  private openTransport(node: BackendNode): Promise<Upstream> {
    const { job } = this;
    return node.transport!.open(node, { jobId: job.id, body: job.body, signal: job.clientSignal() });
  }

  /** The node's answer to the client: whole, assembled from a stream, or streamed. */
  private respond(upstream: Upstream): Promise<void> {
    const { job } = this;
    const up = upstream.response;
    const status = up.statusCode ?? 502;
    job.format = status < 400 ? streamFormatOf(contentTypeOf(up)) : 'json';
    if (status >= 400 || job.format === 'json') return this.respondWhole(upstream, status);
    // A node that can only stream, for a client that asked for one answer.
    if (!job.stream && job.format === 'sse' && job.route === 'openai_chat') return this.respondAssembled(upstream);
    return this.respondStream(upstream, status);
  }

  private async respondStream(upstream: Upstream, status: number): Promise<void> {
    const { job, res } = this;
    const up = upstream.response;
    res.writeHead(status, responseHeaders(up, job.responseHeaders, true, undefined, job.node?.trustUsage === false));
    // The headers go out with the first bytes (one write), or alone once HEADERS_WAIT_MS passed
    // without any (a slow prefill): the client learns soon that its stream began, and the usual
    // stream pays no separate socket write for them (measured ~5% of a plain stream's CPU).
    const flushLate = setTimeout(() => {
      if (!res.destroyed && !res.writableEnded) res.flushHeaders(); // cleared at the first write
    }, HEADERS_WAIT_MS);
    const runner = this.deps.runner;
    const sse = job.format === 'sse';
    const limits = { maxEventBytes: this.deps.maxEventBytes };
    // Without event handlers nothing reads an event: frame only (same bytes out, no event objects).
    const framing: RelayFraming = runner.hasEventHandlers
      ? { parser: sse ? new SseParser(limits) : new NdjsonParser(limits), onEvent: (ev) => runner.onStreamEvent(ev, job) }
      : { framer: sse ? new SseFramer(limits) : new NdjsonFramer(limits) };
    this.deps.metrics.activeStreams.inc();
    try {
      await relayStream(upstream, res, framing, sse, {
        onFirstWrite: () => {
          clearTimeout(flushLate);
          job.firstByteAt ??= performance.now();
        },
        finish: (end) => Promise.resolve(this.settle(end.outcome, true, end.delivered)),
      });
    } finally {
      clearTimeout(flushLate);
      this.deps.metrics.activeStreams.dec();
    }
  }

  /** Non-streaming bodies and backend errors: read whole (bounded), settle, then answer. */
  private async respondWhole(upstream: Upstream, status: number): Promise<void> {
    const { job, res, deps } = this;
    let body: Buffer;
    try {
      body = await readUpstream(upstream, deps.maxEventBytes, this.client);
    } catch (err) {
      upstream.abort();
      if (this.client.gone) return void (await this.settle('client_gone', false, false));
      return this.failBeforeOutput('backend_error', `the backend broke before answering: ${(err as Error).message}`);
    }
    if (status >= 400) {
      // The backend's own error (bad request, context too long…): nothing was produced, nothing is charged.
      await this.settle('failed', false, false);
      res.writeHead(status, responseHeaders(upstream.response, job.responseHeaders, false, body.length, job.node?.trustUsage === false));
      return void res.end(body);
    }
    const action = deps.runner.hasEventHandlers ? deps.runner.onStreamEvent(jsonBodyEvent(body), job) : PASS;
    const out = action.kind === 'replace' || (action.kind === 'cut' && action.bytes) ? (action as { bytes: Buffer }).bytes : body;
    const gone = this.client.gone;
    const settled = this.settle(gone ? 'client_gone' : 'ok', false, !gone);
    if (!Array.isArray(settled)) await settled;
    if (res.destroyed) return;
    res.writeHead(status, responseHeaders(upstream.response, job.responseHeaders, false, out.length, job.node?.trustUsage === false));
    job.firstByteAt ??= performance.now();
    res.end(out);
  }

  /**
   * Reads the node's stream through the plugins (metering, budget cut) and answers ONE
   * chat.completion built from it, settled before the headers (change in X-Cashu-Change).
   * A stream that broke before its end produced no answer: refunded as a failure.
   */
  private async respondAssembled(upstream: Upstream): Promise<void> {
    const { job, res, deps } = this;
    const answer = new ChatCompletionAssembler();
    const end = await collectStream(upstream, new SseParser({ maxEventBytes: deps.maxEventBytes }), job.clientSignal(), deps.maxEventBytes, {
      onEvent: (ev) => deps.runner.onStreamEvent(ev, job),
      keep: (ev) => {
        if (!ev.terminal) answer.add(ev.json());
      },
    });
    if (end.outcome === 'client_gone') return void (await this.settle('client_gone', false, false));
    if (end.outcome === 'backend_failed') return this.failBeforeOutput('backend_error', `the backend broke before its answer was complete: ${end.error ?? 'stream ended'}`);
    job.format = 'json';
    await this.settle(end.outcome, false, true);
    if (res.destroyed) return;
    const out = Buffer.from(JSON.stringify(answer.result(job.model, end.outcome === 'cut')));
    res.writeHead(200, responseHeaders(ASSEMBLED, job.responseHeaders, false, out.length));
    job.firstByteAt ??= performance.now();
    res.end(out);
  }

  private async failBeforeOutput(code: 'no_backend_for_model' | 'backend_unavailable' | 'backend_error', message: string): Promise<void> {
    await this.settle('failed', false, false);
    sendError(this.res, code, this.job.responseHeaders, message);
  }

  /**
   * Exactly once per job; never rejects (a failing settlement is logged; the journal settles it at
   * the next start). The trailer comes without a promise when the plugins made none.
   */
  private settle(outcome: JobOutcome, headersSent: boolean, delivered: boolean): Buffer[] | Promise<Buffer[]> {
    if (this.settled) return [];
    this.settled = true;
    const failed = (err: unknown): Buffer[] => {
      this.deps.log.error({ err, job: this.job.id, outcome }, 'settlement failed; left for recovery');
      return [];
    };
    try {
      const trailer = this.deps.runner.settle(this.job, { outcome, headersSent, delivered });
      return Array.isArray(trailer) ? trailer : trailer.catch(failed);
    } catch (err) {
      return failed(err);
    }
  }
}

/**
 * The upstream body, whole (at most `limit` bytes); rejects when the client goes away first, or
 * when the body breaks off ('close' before 'end': a reset or aborted response always closes).
 */
function readUpstream(upstream: Upstream, limit: number, client: ClientWatch): Promise<Buffer> {
  const src = upstream.response;
  return new Promise<Buffer>((resolve, reject) => {
    if (client.gone) return reject(new Error('client went away'));
    const chunks: Buffer[] = [];
    let size = 0;
    client.onGone = () => reject(new Error('client went away'));
    src.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        src.destroy();
        reject(new Error(`body over ${limit} bytes`));
      } else chunks.push(c);
    });
    src.on('end', () => {
      client.onGone = undefined;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    src.on('error', reject);
    src.on('close', () => {
      client.onGone = undefined;
      if (!src.readableEnded) reject(new Error('upstream closed'));
    });
  });
}
