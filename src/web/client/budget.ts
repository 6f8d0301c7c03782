// What a prompt can cost at most, in sats. The price formula is the gateway's own
// (src/billing/price.ts, bundled into the page by esbuild), so the page never under-pays (a 402)
// and the token always covers the bill. Pure functions: no DOM, no storage (test/unit/web).
import { affordableCompletionTokens, costSats, exactPrice } from '../../billing/price.js';

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
  const price = exactPrice(i.price);
  const full = costSats(price, promptTokens, maxTokens, i.btcUsd, i.minSats);
  if (full <= i.balance) return { ok: true, amount: full, maxTokens, promptTokens };
  const affordable = Math.min(maxTokens, affordableCompletionTokens(price, promptTokens, i.balance, i.btcUsd));
  if (affordable >= minTokens) {
    const amount = costSats(price, promptTokens, affordable, i.btcUsd, i.minSats);
    if (amount <= i.balance) return { ok: true, amount, maxTokens: affordable, promptTokens };
  }
  const need = costSats(price, promptTokens, minTokens, i.btcUsd, i.minSats);
  return { ok: false, need, shortBy: Math.max(1, need - i.balance), promptTokens };
}

/** "100 sat/M in · 1000 sat/M out" — sats per million tokens at the rate, rounded up. */
export function satsPerMillion(p: UsdPrice, btcUsd: number): { input: number; output: number } {
  const price = exactPrice(p);
  return { input: costSats(price, 1_000_000, 0, btcUsd, 0), output: costSats(price, 0, 1_000_000, btcUsd, 0) };
}

/** A model's price as the page shows it: sats per million tokens in / out at the rate, and USD. */
export function priceText(m: { pricing: UsdPrice & { per_m_input_sats?: number; per_m_output_sats?: number } }, paymentRequired: boolean, rate: number | undefined): string {
  if (!paymentRequired) return 'free on this gateway';
  const sats =
    m.pricing.per_m_input_sats !== undefined && m.pricing.per_m_output_sats !== undefined
      ? { input: m.pricing.per_m_input_sats, output: m.pricing.per_m_output_sats }
      : rate
        ? satsPerMillion(m.pricing, rate)
        : undefined;
  const usd = `$${m.pricing.per_m_input_usd} / $${m.pricing.per_m_output_usd}`;
  const n = (x: number) => x.toLocaleString('en-US');
  return sats ? `${n(sats.input)} / ${n(sats.output)} sats per 1M tokens in / out (${usd})` : `${usd} per 1M tokens in / out`;
}
