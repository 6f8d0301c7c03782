// What a prompt can cost at most, in sats — the gateway's own formula (src/billing/price.ts) in
// exact integers, so the page never under-pays (a 402) and the token always covers the bill:
//   cost_sats = max(min_sats_per_job, ceil((prompt × in_usd + completion × out_usd) / 1e6 / btc_usd × 1e8))
// Pure functions: no DOM, no storage (unit-tested in test/unit/web).

export interface UsdPrice {
  per_m_input_usd: number;
  per_m_output_usd: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The output cap a prompt asks for when the balance allows it. */
export const MAX_TOKENS = 512;
/** Below this many affordable output tokens the page asks for a top-up instead of sending. */
export const MIN_TOKENS = 16;

/** A decimal as an integer of 10^-decimals units (config prices have ≤ 6 places, rates ≤ 2). */
function scaled(value: number, decimals: number): bigint {
  return BigInt(Math.round(value * 10 ** decimals));
}

const utf8 = new TextEncoder();

/**
 * An estimate of the prompt tokens that errs high: a token is rarely shorter than 3 bytes of
 * UTF-8 text, and chat templates add a few tokens per message and per conversation (the gateway
 * counts 4 and 3 with a real tokenizer; 8 and 8 here).
 */
export function estimatePromptTokens(messages: ChatMessage[]): number {
  let tokens = 8;
  for (const m of messages) tokens += 8 + Math.ceil(utf8.encode(m.content).length / 3);
  return tokens;
}

/** pico-USD of a job: micro-USD per million tokens is pico-USD per token. */
function costPico(p: UsdPrice, promptTokens: number, completionTokens: number): bigint {
  return BigInt(promptTokens) * scaled(p.per_m_input_usd, 6) + BigInt(completionTokens) * scaled(p.per_m_output_usd, 6);
}

function rateCents(btcUsd: number): bigint {
  const c = scaled(btcUsd, 2);
  if (c <= 0n) throw new Error('the BTC/USD rate must be positive');
  return c;
}

/** sats = max(minSats, ceil(pico / (100 × cents))) — exactly what the gateway bills. */
export function costSats(p: UsdPrice, promptTokens: number, completionTokens: number, btcUsd: number, minSats: number): number {
  const pico = costPico(p, promptTokens, completionTokens);
  const div = 100n * rateCents(btcUsd);
  const sats = pico <= 0n ? 0n : (pico + div - 1n) / div;
  return Math.max(minSats, Number(sats));
}

/** Completion tokens `sats` pays for after the prompt (−1: not even the prompt). */
export function affordableTokens(p: UsdPrice, promptTokens: number, sats: number, btcUsd: number): number {
  const budget = BigInt(sats) * 100n * rateCents(btcUsd) - BigInt(promptTokens) * scaled(p.per_m_input_usd, 6);
  if (budget < 0n) return -1;
  const out = scaled(p.per_m_output_usd, 6);
  if (out === 0n) return Number.MAX_SAFE_INTEGER;
  const n = budget / out;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

export type Plan =
  /** Pay `amount` sats and ask for at most `maxTokens` output tokens: the bill can't exceed it. */
  | { ok: true; amount: number; maxTokens: number; promptTokens: number }
  /** The balance is too low: `need` sats would do, top up at least `shortBy`. */
  | { ok: false; need: number; shortBy: number; promptTokens: number };

export interface PlanInput {
  price: UsdPrice;
  btcUsd: number;
  minSats: number;
  messages: ChatMessage[];
  balance: number;
  maxTokens?: number;
  minTokens?: number;
}

/**
 * The token a prompt pays with: the most it can cost with MAX_TOKENS of output, or — when the
 * balance is short of that — with as many output tokens as the balance buys (at least MIN_TOKENS).
 */
export function planPrompt(i: PlanInput): Plan {
  const maxTokens = i.maxTokens ?? MAX_TOKENS;
  const minTokens = Math.min(i.minTokens ?? MIN_TOKENS, maxTokens);
  const promptTokens = estimatePromptTokens(i.messages);
  const full = costSats(i.price, promptTokens, maxTokens, i.btcUsd, i.minSats);
  if (full <= i.balance) return { ok: true, amount: full, maxTokens, promptTokens };
  const affordable = Math.min(maxTokens, affordableTokens(i.price, promptTokens, i.balance, i.btcUsd));
  if (affordable >= minTokens) {
    const amount = costSats(i.price, promptTokens, affordable, i.btcUsd, i.minSats);
    if (amount <= i.balance) return { ok: true, amount, maxTokens: affordable, promptTokens };
  }
  const need = costSats(i.price, promptTokens, minTokens, i.btcUsd, i.minSats);
  return { ok: false, need, shortBy: Math.max(1, need - i.balance), promptTokens };
}

/** "100 sat/M in · 1000 sat/M out" — sats per million tokens at the rate, rounded up. */
export function satsPerMillion(p: UsdPrice, btcUsd: number): { input: number; output: number } {
  return { input: costSats(p, 1_000_000, 0, btcUsd, 0), output: costSats(p, 0, 1_000_000, btcUsd, 0) };
}
