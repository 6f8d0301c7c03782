// llama.cpp server bodies (ordered_json, current builds): chat and completion chunks, the final
// chunk's usage and timings, the non-streaming bodies.
import { msBetween, reported, type StreamShape } from './run.js';
import { sse, SSE_DONE, type Json } from './format.js';
import { completionText, tokenText } from './text.js';
import type { Exchange, Plan, Reply } from './types.js';

export const LLAMACPP_FINGERPRINT = 'b6497-cd08fc3e';

export interface LlamaStream {
  readonly ex: Exchange;
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly plan: Plan;
  /** stream_options.include_usage (chat streams only). */
  readonly includeUsage: boolean;
  /** false: no usage and no timings anywhere. */
  readonly report: boolean;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly failureReply: () => Reply;
  readonly failureMessage: string;
}

export function llamaUsage(plan: Plan): Json {
  const r = reported(plan);
  return { completion_tokens: r.completion, prompt_tokens: r.prompt, total_tokens: r.prompt + r.completion };
}

/** `timings` from the request's real clock. */
export function llamaTimings(ex: Exchange, plan: Plan): Json {
  const now = process.hrtime.bigint();
  const first = ex.tFirst ?? now;
  const promptMs = Math.max(0.001, msBetween(ex.t0, first));
  const predictedMs = Math.max(0.001, msBetween(first, now));
  const n = plan.count;
  return {
    cache_n: 0,
    prompt_n: reported(plan).prompt,
    prompt_ms: promptMs,
    prompt_per_token_ms: promptMs / plan.promptTokens,
    prompt_per_second: (1e3 / promptMs) * plan.promptTokens,
    predicted_n: reported(plan).completion,
    predicted_ms: predictedMs,
    predicted_per_token_ms: n > 0 ? predictedMs / n : 0,
    predicted_per_second: n > 0 ? (1e3 / predictedMs) * n : 0,
  };
}

function failure(s: LlamaStream): string[] {
  // In-stream error: no [DONE] afterwards.
  return [sse({ error: { code: 500, message: s.failureMessage, type: 'server_error' } })];
}

export function llamaChatShape(s: LlamaStream): StreamShape {
  const { plan } = s;
  const chunk = (choice: Json | undefined, extra: Json = {}): Json => ({
    choices: choice ? [choice] : [],
    created: s.created,
    id: s.id,
    model: s.model,
    system_fingerprint: LLAMACPP_FINGERPRINT,
    object: 'chat.completion.chunk',
    ...extra,
  });
  const role = sse(chunk({ finish_reason: null, index: 0, delta: { role: 'assistant', content: null } }));
  return {
    status: 200,
    headers: s.headers,
    earlyHeaders: false,
    // The first token's step writes the role chunk and its content chunk in one go.
    token: (i) => {
      const c = sse(chunk({ finish_reason: null, index: 0, delta: { content: tokenText(i) } }));
      return [i === 0 ? role + c : c];
    },
    // Finish chunk, then the usage chunk when asked; `timings` rides on whichever is last.
    finish: () => {
      const timings = s.report ? { timings: llamaTimings(s.ex, plan) } : {};
      const usage = s.includeUsage && s.report;
      const fin = chunk({ finish_reason: plan.finish, index: 0, delta: {} }, usage ? {} : timings);
      let text = sse(fin);
      if (usage) text += sse(chunk(undefined, { usage: llamaUsage(plan), ...timings }));
      return [text, SSE_DONE];
    },
    failure: () => failure(s),
    failureReply: s.failureReply,
  };
}

/** /v1/completions object; `usage` and `timings` only on the final one. */
function completionObject(s: LlamaStream, text: string, finish: string | null, final: boolean): Json {
  const out: Json = {
    choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
    created: s.created,
    model: s.model,
    system_fingerprint: LLAMACPP_FINGERPRINT,
    object: 'text_completion',
  };
  if (final && s.report) out.usage = llamaUsage(s.plan);
  out.id = s.id;
  if (final && s.report) out.timings = llamaTimings(s.ex, s.plan);
  return out;
}

export function llamaCompletionShape(s: LlamaStream): StreamShape {
  return {
    status: 200,
    headers: s.headers,
    earlyHeaders: false,
    token: (i) => [sse(completionObject(s, tokenText(i), null, false))],
    finish: () => [sse(completionObject(s, '', s.plan.finish, true)), SSE_DONE],
    failure: () => failure(s),
    failureReply: s.failureReply,
  };
}

export function llamaCompletionBody(s: LlamaStream): Json {
  return completionObject(s, completionText(s.plan.count), s.plan.finish, true);
}

/** Non-streaming chat: note `id` comes after `usage`, then `timings`. */
export function llamaChatBody(s: LlamaStream): Json {
  const out: Json = {
    choices: [{ finish_reason: s.plan.finish, index: 0, message: { role: 'assistant', content: completionText(s.plan.count) } }],
    created: s.created,
    model: s.model,
    system_fingerprint: LLAMACPP_FINGERPRINT,
    object: 'chat.completion',
  };
  if (s.report) out.usage = llamaUsage(s.plan);
  out.id = s.id;
  if (s.report) out.timings = llamaTimings(s.ex, s.plan);
  return out;
}
