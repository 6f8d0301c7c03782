// vLLM response bodies (newest layout seen, 0.23-era captures): chat and completion stream
// chunks, their usage chunks, and the non-streaming bodies.
import { sse, SSE_DONE, type Json } from './format.js';
import { reported, type StreamShape } from './run.js';
import { completionText, tokenText } from './text.js';
import type { Plan, Reply } from './types.js';

export const VLLM_FINGERPRINT = 'vllm-0.23.0-tp1-39ad13f9';

export interface VllmStream {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly plan: Plan;
  /** Final `choices:[]` usage chunk. */
  readonly includeUsage: boolean;
  /** Cumulative usage on every chunk (continuous_usage_stats). */
  readonly continuous: boolean;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly failureReply: () => Reply;
  readonly failureMessage: string;
}

/** UsageInfo: note total_tokens sits between prompt and completion. */
export function vllmUsage(plan: Plan, completion = plan.count): Json {
  const r = reported(plan, completion);
  return { prompt_tokens: r.prompt, total_tokens: r.prompt + r.completion, completion_tokens: r.completion };
}

function failure(s: VllmStream): string[] {
  return [sse({ error: { message: s.failureMessage, type: 'InternalServerError', param: null, code: 500 } }), SSE_DONE];
}

function usageChunk(s: VllmStream, object: string, fingerprint: boolean): string {
  const u: Json = { id: s.id, object, created: s.created, model: s.model, choices: [], usage: vllmUsage(s.plan) };
  if (fingerprint) u.system_fingerprint = VLLM_FINGERPRINT;
  return sse(u);
}

export function vllmChatShape(s: VllmStream): StreamShape {
  const { plan } = s;
  const chunk = (choice: Json, k: number, extra: Json = {}): string => {
    const c: Json = { id: s.id, object: 'chat.completion.chunk', created: s.created, model: s.model, choices: [choice] };
    if (s.continuous) c.usage = vllmUsage(plan, k);
    return sse({ ...c, ...extra });
  };
  const role = (): string =>
    chunk({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }, 0, {
      prompt_token_ids: null,
      prompt_text: null,
    });
  // Without a usage chunk, the finishing chunk carries the fingerprint.
  const closing = (content: string, k: number): string => {
    const choice = { index: 0, delta: { content }, logprobs: null, finish_reason: plan.finish, stop_reason: null, token_ids: null };
    return chunk(choice, k, s.includeUsage ? {} : { system_fingerprint: VLLM_FINGERPRINT });
  };
  const lengthCut = plan.finish === 'length' && plan.count > 0;
  return {
    status: 200,
    headers: s.headers,
    earlyHeaders: true,
    token: (i) => {
      const out = i === 0 ? [role()] : [];
      // On `length` the last token's text rides on the finishing chunk (issue #35705).
      if (lengthCut && i === plan.count - 1) out.push(closing(tokenText(i), i + 1));
      else out.push(chunk({ index: 0, delta: { content: tokenText(i) }, logprobs: null, finish_reason: null, token_ids: null }, i + 1));
      return out;
    },
    finish: () => {
      const out = plan.count === 0 ? [role()] : [];
      if (!lengthCut) out.push(closing('', plan.count));
      if (s.includeUsage) out.push(usageChunk(s, 'chat.completion.chunk', true));
      out.push(SSE_DONE);
      return out;
    },
    failure: () => failure(s),
    failureReply: s.failureReply,
  };
}

export function vllmCompletionShape(s: VllmStream): StreamShape {
  const { plan } = s;
  // exclude_unset=False: every field, `"usage":null` when not continuous.
  const chunk = (text: string, finish: string | null, k: number): string =>
    sse({
      id: s.id,
      object: 'text_completion',
      created: s.created,
      model: s.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null, prompt_token_ids: null, token_ids: null }],
      usage: s.continuous ? vllmUsage(plan, k) : null,
    });
  const lengthCut = plan.finish === 'length' && plan.count > 0;
  return {
    status: 200,
    headers: s.headers,
    earlyHeaders: true,
    token: (i) => [chunk(tokenText(i), lengthCut && i === plan.count - 1 ? 'length' : null, i + 1)],
    finish: () => {
      const out = lengthCut ? [] : [chunk('', plan.finish, plan.count)];
      if (s.includeUsage) out.push(usageChunk(s, 'text_completion', false));
      out.push(SSE_DONE);
      return out;
    },
    failure: () => failure(s),
    failureReply: s.failureReply,
  };
}

/** Non-streaming chat body (full model_dump, 0.10.2–0.11 capture layout). */
export function vllmChatBody(s: VllmStream, withUsage: boolean): Json {
  const out: Json = {
    id: s.id,
    object: 'chat.completion',
    created: s.created,
    model: s.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: completionText(s.plan.count),
          refusal: null,
          annotations: null,
          audio: null,
          function_call: null,
          tool_calls: [],
          reasoning_content: null,
        },
        logprobs: null,
        finish_reason: s.plan.finish,
        stop_reason: null,
        token_ids: null,
      },
    ],
    service_tier: null,
    system_fingerprint: null,
  };
  if (withUsage) out.usage = { ...vllmUsage(s.plan), prompt_tokens_details: null };
  return { ...out, prompt_logprobs: null, prompt_token_ids: null, kv_transfer_params: null };
}

/** Non-streaming completion body (0.10.x capture layout). */
export function vllmCompletionBody(s: VllmStream, withUsage: boolean): Json {
  const out: Json = {
    id: s.id,
    object: 'text_completion',
    created: s.created,
    model: s.model,
    choices: [
      { index: 0, text: completionText(s.plan.count), logprobs: null, finish_reason: s.plan.finish, stop_reason: null, prompt_logprobs: null },
    ],
    service_tier: null,
    system_fingerprint: null,
  };
  if (withUsage) out.usage = { ...vllmUsage(s.plan), prompt_tokens_details: null };
  return { ...out, kv_transfer_params: null };
}
