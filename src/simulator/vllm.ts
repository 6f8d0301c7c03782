// vLLM (and the generic 'openai' kind, which replays vLLM's shapes): routes, probes, validation,
// errors. Caps: chat max_completion_tokens > max_tokens; completions max_tokens (default 16).
import http from 'node:http';
import { hexId, isObject, unixNow } from './format.js';
import { makePlan, readCap, reply, reportsUsage, runStream, runWhole } from './run.js';
import {
  vllmChatBody,
  vllmChatShape,
  vllmCompletionBody,
  vllmCompletionShape,
  type VllmStream,
} from './vllm-shapes.js';
import type { Exchange, KindServer, Reply, Route } from './types.js';

export const VLLM_VERSION = '0.23.0';
const ENGINE_DEAD = 'EngineCore encountered an issue. See stack trace (above) for the root cause.';
const TYPES: Record<number, string> = {
  400: 'BadRequestError',
  404: 'NotFoundError',
  500: 'InternalServerError',
  501: 'NotImplementedError',
  503: 'ServiceUnavailableError',
};
const STREAM_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['server', 'uvicorn'],
  ['content-type', 'text/event-stream; charset=utf-8'],
];

/** Starlette JSONResponse: compact, content-length, no trailing newline. */
function uvicornJson(status: number, text: string): Reply {
  const headers: Array<[string, string]> = [
    ['server', 'uvicorn'],
    ['content-length', String(Buffer.byteLength(text))],
    ['content-type', 'application/json'],
  ];
  return { status, headers, body: text };
}

/** ErrorResponse (>= 0.10.1): {"error":{"message","type","param","code"}}. */
export function vllmError(status: number, message: string): Reply {
  const type = TYPES[status] ?? (http.STATUS_CODES[status] ?? 'Error').replace(/\s+/g, '') + 'Error';
  return uvicornJson(status, JSON.stringify({ error: { message, type, param: null, code: status } }));
}

function failMessage(status: number): string {
  if (status === 500) return ENGINE_DEAD;
  return http.STATUS_CODES[status] ?? 'error';
}

const context = (ex: Exchange): number => ex.opts.contextLength ?? 32768;

function health(ex: Exchange): Reply {
  const status = ex.opts.healthy === false ? 503 : 200;
  return { status, headers: [['server', 'uvicorn'], ['content-length', '0']], body: '' };
}

function models(ex: Exchange): Reply {
  if (ex.opts.healthy === false) return vllmError(503, ENGINE_DEAD);
  const now = unixNow();
  const owner = ex.opts.kind === 'openai' ? 'openai' : 'vllm';
  const data = ex.models.map((id) => ({
    id,
    object: 'model',
    created: now,
    owned_by: owner,
    root: id,
    parent: null,
    max_model_len: context(ex),
    permission: [
      {
        id: `modelperm-${hexId(8)}`,
        object: 'model_permission',
        created: now,
        allow_create_engine: false,
        allow_sampling: true,
        allow_logprobs: true,
        allow_search_indices: false,
        allow_view: true,
        allow_fine_tuning: false,
        organization: '*',
        group: null,
        is_blocking: false,
      },
    ],
  }));
  return uvicornJson(200, JSON.stringify({ object: 'list', data }));
}

/** prometheus_client's float rendering: integers keep ".0". */
const promFloat = (v: number): string => (Number.isInteger(v) ? v.toFixed(1) : String(v));

/** GET /metrics: the V1 engine's scheduler gauges (labels engine, model_name) and a counter. */
function metrics(ex: Exchange): Reply {
  const running = ex.running() + (ex.opts.otherLoad?.running ?? 0);
  const waiting = ex.opts.otherLoad?.waiting ?? 0;
  const kv = ex.opts.kvCacheUsage ?? Math.min(1, running * 0.01);
  const labels = `{engine="0",model_name="${ex.models[0] ?? 'sim-vllm'}"}`;
  const gauge = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name}${labels} ${promFloat(value)}\n`;
  const text =
    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', running) +
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', waiting) +
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', kv) +
    `# HELP vllm:num_preemptions_total Cumulative number of preemption from the engine.\n# TYPE vllm:num_preemptions_total counter\nvllm:num_preemptions_total${labels} 0.0\n`;
  return { status: 200, headers: [['server', 'uvicorn'], ['content-length', String(Buffer.byteLength(text))], ['content-type', 'text/plain; version=0.0.4; charset=utf-8']], body: text };
}

function version(): Reply {
  return uvicornJson(200, JSON.stringify({ version: VLLM_VERSION }));
}

async function inference(ex: Exchange, chat: boolean): Promise<void> {
  const body = ex.body;
  if (!isObject(body)) return reply(ex, vllmError(400, 'JSON decode error'));
  ex.rec.stream = body.stream === true;
  const requested = body.model;
  if (typeof requested === 'string' && !ex.models.includes(requested)) {
    return reply(ex, vllmError(404, `The model \`${requested}\` does not exist.`));
  }
  const model = typeof requested === 'string' ? requested : (ex.models[0] ?? 'sim-vllm');
  const so = body.stream_options;
  if (so !== undefined && so !== null && !ex.rec.stream) {
    return reply(ex, vllmError(400, 'Stream options can only be defined when `stream=True`.'));
  }
  const rawCap = chat ? readCap(body, ['max_completion_tokens', 'max_tokens']) : (readCap(body, ['max_tokens']) ?? 16);
  const probe = makePlan(ex, undefined);
  if (probe.promptTokens >= context(ex)) {
    const p = probe.promptTokens;
    const msg = `This model's maximum context length is ${context(ex)} tokens. However, your request has ${p} input tokens. Please reduce the length of the input messages. (parameter=input_tokens, value=${p})`;
    return reply(ex, vllmError(400, msg));
  }
  const failStatus = ex.opts.failStatus;
  if (failStatus) return reply(ex, vllmError(failStatus, failMessage(failStatus)));

  // The effective cap also stops at the end of the context window.
  const room = context(ex) - probe.promptTokens;
  const plan = makePlan(ex, Math.min(rawCap ?? Infinity, room));
  const includeUsage = isObject(so) && so.include_usage !== false && so.include_usage !== null && reportsUsage(ex);
  const s: VllmStream = {
    id: `${chat ? 'chatcmpl' : 'cmpl'}-${hexId(8)}`,
    created: unixNow(),
    model,
    plan,
    includeUsage,
    continuous: includeUsage && isObject(so) && so.continuous_usage_stats === true,
    headers: STREAM_HEADERS,
    failureReply: () => vllmError(500, ENGINE_DEAD),
    failureMessage: ENGINE_DEAD,
  };
  if (ex.rec.stream) return runStream(ex, plan, chat ? vllmChatShape(s) : vllmCompletionShape(s));
  const render = (): Reply => {
    const out = chat ? vllmChatBody(s, reportsUsage(ex)) : vllmCompletionBody(s, reportsUsage(ex));
    return uvicornJson(200, JSON.stringify(out));
  };
  return runWhole(ex, plan, render, s.failureReply);
}

const probe = (f: (ex: Exchange) => Reply): Route => ({ inference: false, handle: (ex) => ex.wire.send(f(ex)) });

const GET_ROUTES: Record<string, Route> = {
  '/health': probe(health),
  '/v1/models': probe(models),
  '/version': probe(version),
  '/metrics': probe(metrics),
};

const POST_ROUTES: Record<string, Route> = {
  '/v1/chat/completions': { inference: true, handle: (ex) => inference(ex, true) },
  '/v1/completions': { inference: true, handle: (ex) => inference(ex, false) },
};

export const vllmServer: KindServer = {
  route(method, path) {
    if (method === 'POST') return POST_ROUTES[path];
    if (method === 'GET') return GET_ROUTES[path];
    return undefined;
  },
  // FastAPI's default 404.
  notFound: () => uvicornJson(404, JSON.stringify({ detail: 'Not Found' })),
};
