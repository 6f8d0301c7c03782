// llama.cpp server (llama-server): routes, probes, validation, errors.
// Caps: n_predict > max_completion_tokens > max_tokens. The request's `model` is not checked in
// single-model mode (one served model); with several models (router mode) it must be one of them.
import http from 'node:http';
import { alnumId, isObject, unixNow } from './format.js';
import {
  llamaChatBody,
  llamaChatShape,
  llamaCompletionBody,
  llamaCompletionShape,
  type LlamaStream,
} from './llamacpp-shapes.js';
import { makePlan, readCap, reply, reportsUsage, runStream, runWhole } from './run.js';
import type { Exchange, KindServer, Reply, Route } from './types.js';

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  501: 'not_supported_error',
  503: 'unavailable_error',
};

function headers(ex: Exchange, contentType: string): Array<[string, string]> {
  const origin = ex.req.headers.origin;
  return [
    ['Access-Control-Allow-Origin', typeof origin === 'string' ? origin : ''],
    ['Content-Type', contentType],
    ['Keep-Alive', 'timeout=5, max=100'],
    ['Server', 'llama.cpp'],
  ];
}

function json(ex: Exchange, status: number, obj: unknown): Reply {
  return { status, headers: headers(ex, 'application/json; charset=utf-8'), body: JSON.stringify(obj) };
}

/** Handler errors: inner key order code, message, type (+ extras). */
export function llamaError(ex: Exchange, status: number, message: string, extra: Record<string, unknown> = {}): Reply {
  const type = TYPES[status] ?? 'server_error';
  return json(ex, status, { error: { code: status, message, type, ...extra } });
}

/** Middleware errors (loading, auth, unknown path): message, type, code. */
function middlewareError(ex: Exchange, status: number, message: string): Reply {
  return json(ex, status, { error: { message, type: TYPES[status] ?? 'server_error', code: status } });
}

const loading = (ex: Exchange): Reply => middlewareError(ex, 503, 'Loading model');

function failReply(ex: Exchange, status: number): Reply {
  if (status === 503) return loading(ex);
  return llamaError(ex, status, http.STATUS_CODES[status] ?? 'error');
}

const nCtx = (ex: Exchange): number => ex.opts.contextLength ?? 32768;

function health(ex: Exchange): Reply {
  return json(ex, 200, { status: 'ok' });
}

/** Busy slots: this server's own running requests plus other clients', at most every slot. */
function busySlots(ex: Exchange): { slots: number; busy: number; deferred: number } {
  const slots = ex.opts.slots ?? 4;
  const wanted = ex.running() + (ex.opts.otherLoad?.running ?? 0);
  return { slots, busy: Math.min(slots, wanted), deferred: Math.max(0, wanted - slots) + (ex.opts.otherLoad?.waiting ?? 0) };
}

/** GET /slots: one entry per slot; busy ones carry their task. */
function slotList(ex: Exchange): Reply {
  const { slots, busy } = busySlots(ex);
  const list = Array.from({ length: slots }, (_, id) =>
    id < busy
      ? { id, n_ctx: nCtx(ex), speculative: false, is_processing: true, id_task: 100 + id, n_prompt_tokens: 12, n_prompt_tokens_processed: 12, n_prompt_tokens_cache: 0, next_token: [{ has_next_token: true, has_new_line: false, n_remain: -1, n_decoded: 3 }] }
      : { id, n_ctx: nCtx(ex), speculative: false, is_processing: false },
  );
  return json(ex, 200, list);
}

/** GET /metrics: only with --metrics (else 501); no labels. */
function metricsText(ex: Exchange): Reply {
  if (!ex.opts.metrics) return llamaError(ex, 501, 'This server does not support metrics endpoint. Start it with `--metrics`');
  const { busy, deferred } = busySlots(ex);
  const gauge = (name: string, help: string, v: number) => `# HELP llamacpp:${name} ${help}\n# TYPE llamacpp:${name} gauge\nllamacpp:${name} ${v}\n`;
  const text = `# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n# TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total 0\n` +
    gauge('requests_processing', 'Number of requests processing.', busy) + gauge('requests_deferred', 'Number of requests deferred.', deferred);
  return { status: 200, headers: [...headers(ex, 'text/plain; version=0.0.4')], body: text };
}

function models(ex: Exchange): Reply {
  const created = unixNow();
  const list = ex.models.map((name) => ({
    name,
    model: name,
    modified_at: '',
    size: '',
    digest: '',
    type: 'model',
    description: '',
    tags: [''],
    capabilities: ['completion'],
    parameters: '',
    details: { parent_model: '', format: 'gguf', family: '', families: [''], parameter_size: '', quantization_level: '' },
  }));
  const data = ex.models.map((id) => ({
    id,
    aliases: [],
    tags: [],
    object: 'model',
    created,
    owned_by: 'llamacpp',
    meta: { vocab_type: 2, n_vocab: 152064, n_ctx_train: 131072, n_embd: 3584, n_params: 7615616512, size: 4677120000, n_ctx: nCtx(ex) },
  }));
  return json(ex, 200, { models: list, object: 'list', data });
}

async function inference(ex: Exchange, chat: boolean): Promise<void> {
  const body = ex.body;
  if (!isObject(body)) {
    const msg = body === '' ? 'Invalid request: empty body' : '[json.exception.parse_error.101] parse error: syntax error while parsing value';
    return reply(ex, llamaError(ex, 400, msg));
  }
  ex.rec.stream = body.stream === true;
  const requested = typeof body.model === 'string' ? body.model : '';
  const router = ex.models.length > 1;
  if (router && !ex.models.includes(requested)) {
    return reply(ex, llamaError(ex, 404, `model '${requested}' not found`));
  }
  const model = router ? requested : (ex.models[0] ?? 'sim-llamacpp');
  const probe = makePlan(ex, undefined);
  if (probe.promptTokens > nCtx(ex)) {
    const msg = `request (${probe.promptTokens} tokens) exceeds the available context size (${nCtx(ex)} tokens), try increasing it`;
    const extra = { n_prompt_tokens: probe.promptTokens, n_ctx: nCtx(ex) };
    const r = json(ex, 400, { error: { code: 400, message: msg, type: 'exceed_context_size_error', ...extra } });
    return reply(ex, r);
  }
  const failStatus = ex.opts.failStatus;
  if (failStatus) return reply(ex, failReply(ex, failStatus));

  const cap = readCap(body, ['n_predict', 'max_completion_tokens', 'max_tokens']);
  const room = nCtx(ex) - probe.promptTokens;
  const plan = makePlan(ex, Math.min(cap !== undefined && cap >= 0 ? cap : Infinity, room));
  const so = body.stream_options;
  const streamHeaders = [...headers(ex, 'text/event-stream'), ['X-Accel-Buffering', 'no'] as [string, string]];
  const s: LlamaStream = {
    ex,
    id: `chatcmpl-${alnumId(32)}`,
    created: unixNow(),
    model,
    plan,
    includeUsage: chat && isObject(so) && so.include_usage === true,
    report: reportsUsage(ex),
    headers: streamHeaders,
    failureReply: () => llamaError(ex, 500, 'Internal Server Error'),
    failureMessage: 'Internal Server Error',
  };
  if (ex.rec.stream) return runStream(ex, plan, chat ? llamaChatShape(s) : llamaCompletionShape(s));
  const render = (): Reply => json(ex, 200, chat ? llamaChatBody(s) : llamaCompletionBody(s));
  return runWhole(ex, plan, render, s.failureReply);
}

/** While "loading" (healthy:false) every endpoint answers 503. */
function guarded(inferenceRoute: boolean, f: (ex: Exchange) => Promise<void> | void): Route {
  return {
    inference: inferenceRoute,
    handle: (ex) => (ex.opts.healthy === false ? reply(ex, loading(ex)) : f(ex)),
  };
}

const probe = (f: (ex: Exchange) => Reply): Route => guarded(false, (ex) => ex.wire.send(f(ex)));
const chatRoute = guarded(true, (ex) => inference(ex, true));
const completionRoute = guarded(true, (ex) => inference(ex, false));

const GET_ROUTES: Record<string, Route> = {
  '/health': probe(health),
  '/v1/health': probe(health),
  '/v1/models': probe(models),
  '/models': probe(models),
  '/slots': probe(slotList),
  '/metrics': probe(metricsText),
};

const POST_ROUTES: Record<string, Route> = {
  '/v1/chat/completions': chatRoute,
  '/chat/completions': chatRoute,
  '/v1/completions': completionRoute,
  '/completions': completionRoute,
};

export const llamacppServer: KindServer = {
  route(method, path) {
    if (method === 'POST') return POST_ROUTES[path];
    if (method === 'GET') return GET_ROUTES[path];
    return undefined;
  },
  notFound: (ex) => (ex.opts.healthy === false ? loading(ex) : middlewareError(ex, 404, 'File Not Found')),
};
