// Ollama native routes: POST /api/chat and /api/generate (NDJSON stream by default, or one JSON).
import { goDecodeError, goJson, goTime, isObject, type Json } from './format.js';
import { nativeError, ginJson, ollamaFailMessage, ollamaHasModel } from './ollama-common.js';
import { makePlan, readCap, reply, reported, reportsUsage, runStream, runWhole, type StreamShape } from './run.js';
import { completionText, tokenText } from './text.js';
import type { Exchange, Plan } from './types.js';

type NativeRoute = 'chat' | 'generate';

export function ollamaChat(ex: Exchange): Promise<void> {
  return native(ex, 'chat');
}

export function ollamaGenerate(ex: Exchange): Promise<void> {
  return native(ex, 'generate');
}

/** The embedded api.Metrics, omitempty: zero values are left out. */
function metrics(ex: Exchange, plan: Plan, count: number): Json {
  const now = process.hrtime.bigint();
  const first = ex.tFirst ?? now;
  const total = Math.max(1, Number(now - ex.t0));
  const m: Json = { total_duration: total, load_duration: Math.max(1, Math.floor(total / 50)) };
  if (!reportsUsage(ex)) return m;
  const r = reported(plan, count);
  const fields: Array<[string, number]> = [
    ['prompt_eval_count', r.prompt],
    ['prompt_eval_duration', Math.max(1, Number(first - ex.t0))],
    ['eval_count', r.completion],
    ['eval_duration', count > 0 ? Math.max(1, Number(now - first)) : 0],
  ];
  for (const [k, v] of fields) if (v !== 0) m[k] = v;
  return m;
}

/** Token ids of prompt + output for /api/generate's `context`. */
function contextIds(plan: Plan, count: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < plan.promptTokens; i++) ids.push(1000 + (i % 30000));
  for (let i = 0; i < count; i++) ids.push(2000 + (i % 32));
  return ids;
}

function line(route: NativeRoute, model: string, text: string): Json {
  return route === 'chat'
    ? { model, created_at: goTime(), message: { role: 'assistant', content: text }, done: false }
    : { model, created_at: goTime(), response: text, done: false };
}

function final(ex: Exchange, route: NativeRoute, model: string, plan: Plan, text: string, raw: boolean): Json {
  const head = line(route, model, text);
  head.done = true;
  head.done_reason = plan.finish;
  if (route === 'generate' && !raw) head.context = contextIds(plan, plan.count);
  return { ...head, ...metrics(ex, plan, plan.count) };
}

async function native(ex: Exchange, route: NativeRoute): Promise<void> {
  const body = ex.body;
  if (!isObject(body)) {
    const goType = route === 'chat' ? 'api.ChatRequest' : 'api.GenerateRequest';
    return reply(ex, nativeError(400, body === '' ? 'missing request body' : goDecodeError(body, goType)));
  }
  ex.rec.stream = body.stream !== false;
  const model = typeof body.model === 'string' ? body.model : '';
  if (route === 'chat' && model === '') return reply(ex, nativeError(400, 'model is required'));
  if (!ollamaHasModel(ex, model)) return reply(ex, nativeError(404, `model '${model}' not found`));
  const failStatus = ex.opts.failStatus;
  if (failStatus) return reply(ex, nativeError(failStatus, ollamaFailMessage(failStatus)));

  const nothing =
    route === 'chat'
      ? !Array.isArray(body.messages) || body.messages.length === 0
      : typeof body.prompt !== 'string' || body.prompt === '';
  if (nothing) {
    // Model load only: one JSON object whatever `stream` says.
    const load = line(route, model, '');
    load.done = true;
    load.done_reason = 'load';
    return reply(ex, ginJson(200, load));
  }

  const options = isObject(body.options) ? body.options : {};
  const numPredict = readCap(options, ['num_predict']);
  const plan = makePlan(ex, numPredict !== undefined && numPredict >= 0 ? numPredict : undefined);
  const raw = body.raw === true;
  const crash = ollamaFailMessage(500);

  if (!ex.rec.stream) {
    return runWhole(
      ex,
      plan,
      () => ginJson(200, final(ex, route, model, plan, completionText(plan.count), raw)),
      () => nativeError(500, crash),
    );
  }
  const shape: StreamShape = {
    status: 200,
    headers: [['Content-Type', 'application/x-ndjson']],
    earlyHeaders: false,
    token: (i) => [goJson(line(route, model, tokenText(i))) + '\n'],
    finish: () => [goJson(final(ex, route, model, plan, '', raw)) + '\n'],
    failure: () => [goJson({ error: crash }) + '\n'],
    failureReply: () => nativeError(500, crash),
  };
  return runStream(ex, plan, shape);
}
