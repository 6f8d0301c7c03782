// Ollama's OpenAI-compatible routes: POST /v1/chat/completions and /v1/completions.
// Stream defaults to false; only `max_tokens` caps the output (max_completion_tokens is ignored).
import { goJson, isObject, ollamaSmallId, SSE_DONE, unixNow, type Json } from './format.js';
import { encoderJson, ginJson, ollamaFailMessage, ollamaHasModel, v1Error } from './ollama-common.js';
import { makePlan, readCap, reply, reported, reportsUsage, runStream, runWhole, type StreamShape } from './run.js';
import { completionText, tokenText } from './text.js';
import type { Exchange, Plan } from './types.js';

const FP = 'fp_ollama';
const EVENT_STREAM: ReadonlyArray<readonly [string, string]> = [['Content-Type', 'text/event-stream']];

function goSse(obj: unknown): string {
  return `data: ${goJson(obj)}\n\n`;
}

function usageOf(plan: Plan): Json {
  const r = reported(plan);
  return { prompt_tokens: r.prompt, completion_tokens: r.completion, total_tokens: r.prompt + r.completion };
}

/** An error the /v1 middleware writes before the handler runs (gin AbortWithStatusJSON). */
function middlewareError(message: string): ReturnType<typeof ginJson> {
  return ginJson(400, { error: { message, type: 'invalid_request_error', param: null, code: null } });
}

interface Checked {
  body: Json;
  model: string;
  plan: Plan;
  includeUsage: boolean;
}

/** Shared validation; replies and returns undefined when the request ends here. */
function check(ex: Exchange, chat: boolean): Checked | undefined {
  const body = ex.body;
  if (!isObject(body)) {
    reply(ex, middlewareError(body === '' ? 'EOF' : 'invalid request body'));
    return undefined;
  }
  ex.rec.stream = body.stream === true;
  if (chat && (!Array.isArray(body.messages) || body.messages.length === 0)) {
    reply(ex, middlewareError("[] is too short - 'messages'"));
    return undefined;
  }
  const model = typeof body.model === 'string' ? body.model : '';
  if (!ollamaHasModel(ex, model)) {
    reply(ex, v1Error(404, `model '${model}' not found`));
    return undefined;
  }
  const failStatus = ex.opts.failStatus;
  if (failStatus) {
    reply(ex, v1Error(failStatus, ollamaFailMessage(failStatus)));
    return undefined;
  }
  const so = body.stream_options;
  const includeUsage = isObject(so) && so.include_usage === true && reportsUsage(ex);
  return { body, model, plan: makePlan(ex, readCap(body, ['max_tokens'])), includeUsage };
}

export async function ollamaV1Chat(ex: Exchange): Promise<void> {
  const c = check(ex, true);
  if (!c) return;
  const { model, plan, includeUsage } = c;
  const id = `chatcmpl-${ollamaSmallId()}`;
  const pinned = unixNow();
  const crash = ollamaFailMessage(500);
  if (!ex.rec.stream) {
    const render = (): ReturnType<typeof encoderJson> => {
      const out: Json = {
        id,
        object: 'chat.completion',
        created: pinned,
        model,
        system_fingerprint: FP,
        choices: [{ index: 0, message: { role: 'assistant', content: completionText(plan.count) }, finish_reason: plan.finish }],
      };
      if (reportsUsage(ex)) out.usage = usageOf(plan);
      return encoderJson(200, out);
    };
    return runWhole(ex, plan, render, () => v1Error(500, crash));
  }
  const old = ex.opts.ollamaShape === 'old';
  // >=0.32.6: one `created` per stream; before: the time of each chunk.
  const created = (): number => (old ? unixNow() : pinned);
  const chunk = (delta: Json, finish: string | null, m = model): Json => ({
    id,
    object: 'chat.completion.chunk',
    created: created(),
    model: m,
    system_fingerprint: FP,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const shape: StreamShape = {
    status: 200,
    headers: EVENT_STREAM,
    earlyHeaders: false,
    token: (i) => {
      const role = old || i === 0;
      return [goSse(chunk(role ? { role: 'assistant', content: tokenText(i) } : { content: tokenText(i) }, null))];
    },
    finish: () => {
      const out = [goSse(chunk(old ? { role: 'assistant', content: '' } : {}, plan.finish))];
      if (includeUsage) {
        const u = { id, object: 'chat.completion.chunk', created: created(), model, system_fingerprint: FP, choices: [], usage: usageOf(plan) };
        out.push(goSse(u));
      }
      out.push(SSE_DONE);
      return out;
    },
    // The error line parsed as an empty ChatResponse: one blank chunk, no finish, no [DONE].
    failure: () => [goSse(chunk(old ? { role: 'assistant', content: '' } : { content: '' }, null, ''))],
    failureReply: () => v1Error(500, crash),
  };
  return runStream(ex, plan, shape);
}

export async function ollamaV1Completions(ex: Exchange): Promise<void> {
  const c = check(ex, false);
  if (!c) return;
  const { model, plan, includeUsage } = c;
  const id = `cmpl-${ollamaSmallId()}`;
  const crash = ollamaFailMessage(500);
  if (!ex.rec.stream) {
    const render = (): ReturnType<typeof encoderJson> => {
      const out: Json = {
        id,
        object: 'text_completion',
        created: unixNow(),
        model,
        system_fingerprint: FP,
        choices: [{ text: completionText(plan.count), index: 0, finish_reason: plan.finish }],
      };
      if (reportsUsage(ex)) out.usage = usageOf(plan);
      return encoderJson(200, out);
    };
    return runWhole(ex, plan, render, () => v1Error(500, crash));
  }
  const zero = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  // `created` is the time of each chunk on this route; with include_usage every chunk has a zero usage.
  const chunk = (text: string, finish: string | null, m = model): Json => {
    const out: Json = {
      id,
      object: 'text_completion',
      created: unixNow(),
      choices: [{ text, index: 0, finish_reason: finish }],
      model: m,
      system_fingerprint: FP,
    };
    if (includeUsage) out.usage = zero;
    return out;
  };
  const shape: StreamShape = {
    status: 200,
    headers: EVENT_STREAM,
    earlyHeaders: false,
    token: (i) => [goSse(chunk(tokenText(i), null))],
    finish: () => {
      const out = [goSse(chunk('', plan.finish))];
      if (includeUsage) {
        const u = { id, object: 'text_completion', created: unixNow(), choices: [], model, system_fingerprint: FP, usage: usageOf(plan) };
        out.push(goSse(u));
      }
      out.push(SSE_DONE);
      return out;
    },
    failure: () => [goSse(chunk('', null, ''))],
    failureReply: () => v1Error(500, crash),
  };
  return runStream(ex, plan, shape);
}
