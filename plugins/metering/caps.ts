import type { BackendKind } from '../../src/config/types.js';
import type { RouteKind } from '../../src/pipeline/job.js';

// Caps the output length to what the payment covers, with each server's own parameter names
// (docs/backends.md, "Capping output"). Returns true when the body changed.

const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined);

function capField(body: Record<string, unknown>, field: string, budget: number, always: boolean): boolean {
  const current = positive(body[field]);
  if (current !== undefined && current <= budget) return false;
  if (current === undefined && !always) return false;
  body[field] = budget;
  return true;
}

export function capOutput(body: Record<string, unknown>, route: RouteKind, kind: BackendKind, budget: number): boolean {
  if (route === 'ollama_chat' || route === 'ollama_generate') {
    const options = typeof body.options === 'object' && body.options !== null && !Array.isArray(body.options) ? (body.options as Record<string, unknown>) : {};
    const changed = capField(options, 'num_predict', budget, true);
    if (changed) body.options = options;
    return changed;
  }
  let changed = false;
  if (kind === 'ollama') {
    // Ollama's /v1 reads max_tokens only: a client's max_completion_tokens would be lost.
    const mct = positive(body.max_completion_tokens);
    if (body.max_completion_tokens !== undefined) {
      delete body.max_completion_tokens;
      changed = true;
      const mt = positive(body.max_tokens);
      if (mct !== undefined && (mt === undefined || mct < mt)) body.max_tokens = mct;
    }
    return capField(body, 'max_tokens', budget, true) || changed;
  }
  // vLLM and OpenAI servers generate up to the cap for each of `n` (`best_of`) choices: share the budget.
  budget = Math.floor(budget / Math.max(1, positive(body.n) ?? 1, positive(body.best_of) ?? 1));
  // vLLM and llama.cpp prefer max_completion_tokens over max_tokens (llama.cpp: n_predict over both).
  // A max_completion_tokens that is null (or 0) does not cap: then max_tokens must.
  changed = capField(body, 'max_completion_tokens', budget, false) || changed;
  changed = capField(body, 'max_tokens', budget, positive(body.max_completion_tokens) === undefined) || changed;
  // n_predict < 0 means "unlimited" to llama.cpp, and it beats max_tokens: cap it too.
  if (kind === 'llamacpp' || kind === 'openai') changed = capField(body, 'n_predict', budget, typeof body.n_predict === 'number' && body.n_predict < 0) || changed;
  return changed;
}

/** Asks an OpenAI-route stream for usage; returns true when the gateway added it (and must strip it). */
export function requestUsage(body: Record<string, unknown>, route: RouteKind, kind: BackendKind): boolean {
  if (route !== 'openai_chat' && route !== 'openai_completions') return false;
  if (body.stream !== true) return false;
  // Ollama's /v1/completions would put a zero usage on every chunk: estimate there instead.
  if (kind === 'ollama' && route === 'openai_completions') return false;
  const so = body.stream_options;
  if (typeof so === 'object' && so !== null && !Array.isArray(so)) {
    if ((so as Record<string, unknown>).include_usage === true) return false;
    body.stream_options = { ...(so as Record<string, unknown>), include_usage: true };
    return true;
  }
  body.stream_options = { include_usage: true };
  return true;
}

/**
 * The most completion tokens the request lets the server generate, over all `n` choices, by
 * each server's own precedence (read after capOutput, so the paid budget is included);
 * undefined when nothing caps it.
 */
export function outputCap(body: Record<string, unknown>, route: RouteKind, kind: BackendKind): number | undefined {
  if (route === 'ollama_chat' || route === 'ollama_generate') {
    const options = body.options;
    return typeof options === 'object' && options !== null ? positive((options as Record<string, unknown>).num_predict) : undefined;
  }
  let cap: number | undefined;
  if (kind === 'ollama') cap = positive(body.max_tokens);
  else if (kind === 'llamacpp') cap = typeof body.n_predict === 'number' && body.n_predict >= 0 ? Math.floor(body.n_predict) : positive(body.max_completion_tokens) ?? positive(body.max_tokens);
  else cap = positive(body.max_completion_tokens) ?? positive(body.max_tokens);
  return cap === undefined ? undefined : cap * Math.max(1, positive(body.n) ?? 1);
}
