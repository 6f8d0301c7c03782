// The most a request to a gateway can cost, from what the gateway publishes: GET /v1/payment/info
// (is payment required, which mints, the minimum), GET /v1/models (USD prices; sats at today's
// rate) and GET /v1/oracle/rate. The formula is the gateway's own (src/billing/price.ts, a pure
// module): a token of this many sats always covers the whole answer the request asks for.
import { costSats, exactPrice } from '../billing/price.js';

type Fetch = typeof globalThis.fetch;

export interface PaymentInfo {
  payment_required: boolean;
  mints: string[];
  unit: string;
  min_sats_per_job: number;
}

interface ModelEntry {
  id: string;
  pricing?: { per_m_input_usd?: number; per_m_output_usd?: number; btc_usd?: number };
}

export type Quote =
  /** The gateway takes no payment. */
  | { kind: 'free' }
  /** Pay this many sats (input fees of the token come on top). */
  | { kind: 'pay'; sats: number }
  /** Not enough is known to pay up front; `sats` is the estimate when prices are known but not the gateway's terms. */
  | { kind: 'unknown'; sats?: number; reason: string };

/** Output tokens a request asks for at most: the smallest positive cap, times its choices. */
export function maxOutputTokens(body: Record<string, unknown>, fallback: number): number {
  const pos = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined);
  const options = typeof body.options === 'object' && body.options !== null ? (body.options as Record<string, unknown>) : {};
  const caps = [pos(body.max_tokens), pos(body.max_completion_tokens), pos(body.n_predict), pos(options.num_predict)].filter((n): n is number => n !== undefined);
  const perChoice = caps.length > 0 ? Math.min(...caps) : fallback;
  return perChoice * Math.max(1, pos(body.n) ?? 1, pos(body.best_of) ?? 1);
}

const utf8 = new TextEncoder();
const bytes = (s: string): number => utf8.encode(s).length;

function textBytes(content: unknown): number {
  if (typeof content === 'string') return bytes(content);
  if (Array.isArray(content)) return content.reduce<number>((n, part) => n + 1 + (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? bytes((part as { text: string }).text) : 0), 0);
  return 0;
}

/**
 * At least as many prompt tokens as the gateway estimates: its tokenizer never makes more tokens
 * than there are UTF-8 bytes, and its template allowance (3 per conversation, 4 per message) is
 * counted the same way.
 */
export function promptTokensAtMost(body: Record<string, unknown>): number {
  let n = 0;
  if (Array.isArray(body.messages)) {
    n += 3;
    for (const m of body.messages as unknown[]) {
      if (!m || typeof m !== 'object') continue;
      n += 4 + textBytes((m as { content?: unknown }).content);
      const tools = (m as { tool_calls?: unknown }).tool_calls;
      if (tools) n += bytes(JSON.stringify(tools));
    }
  }
  const prompt = body.prompt;
  if (typeof prompt === 'string') n += bytes(prompt);
  else if (Array.isArray(prompt)) n += prompt.reduce<number>((k, p) => k + (typeof p === 'string' ? bytes(p) : 1), 0);
  if (typeof body.system === 'string') n += 4 + bytes(body.system);
  if (body.tools) n += bytes(JSON.stringify(body.tools));
  return Math.max(1, n);
}

/** Canonical mint URL: lower-case scheme and host, no trailing slash. */
export function normalizeMint(url: string): string {
  const u = new URL(url.trim());
  return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
}

const TTL_MS = 60_000;

/** What each gateway publishes, cached for a minute per gateway. */
export class GatewayPricing {
  private cache = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly fetchImpl: Fetch,
    private readonly defaultMaxTokens: number,
  ) {}

  private get<T>(url: string, fresh = false): Promise<T | undefined> {
    const hit = this.cache.get(url);
    if (!fresh && hit && Date.now() - hit.at < TTL_MS) return hit.value as Promise<T | undefined>;
    const value = (async () => {
      try {
        const res = await this.fetchImpl(url, { headers: { accept: 'application/json' } });
        if (!res.ok) {
          await res.body?.cancel();
          return undefined;
        }
        return (await res.json()) as T;
      } catch {
        return undefined;
      }
    })();
    this.cache.set(url, { at: Date.now(), value });
    return value;
  }

  paymentInfo(base: string): Promise<PaymentInfo | undefined> {
    return this.get<PaymentInfo>(`${base}/v1/payment/info`);
  }

  private async model(base: string, id: string): Promise<ModelEntry | undefined> {
    const find = (list: { data?: ModelEntry[] } | undefined) => list?.data?.find((m) => m.id === id);
    return find(await this.get(`${base}/v1/models`)) ?? find(await this.get(`${base}/v1/models`, true));
  }

  private async btcUsd(base: string, entry: ModelEntry): Promise<number | undefined> {
    if (typeof entry.pricing?.btc_usd === 'number') return entry.pricing.btc_usd;
    return (await this.get<{ btc_usd?: number }>(`${base}/v1/oracle/rate`))?.btc_usd;
  }

  /** The most this request can cost at `base`, paid from `mint`. */
  async quote(base: string, body: Record<string, unknown> | undefined, mint: string): Promise<Quote> {
    const info = await this.paymentInfo(base);
    if (info && !info.payment_required) return { kind: 'free' };
    const model = typeof body?.model === 'string' ? body.model : undefined;
    const entry = model ? await this.model(base, model) : undefined;
    const price = entry?.pricing;
    const rate = entry ? await this.btcUsd(base, entry) : undefined;
    let sats: number | undefined;
    if (body && price && typeof price.per_m_input_usd === 'number' && typeof price.per_m_output_usd === 'number' && rate) {
      const p = exactPrice({ per_m_input_usd: price.per_m_input_usd, per_m_output_usd: price.per_m_output_usd });
      sats = costSats(p, promptTokensAtMost(body), maxOutputTokens(body, this.defaultMaxTokens), rate, info?.min_sats_per_job ?? 0);
    }
    if (!info) return { kind: 'unknown', ...(sats !== undefined ? { sats } : {}), reason: 'the gateway publishes no /v1/payment/info' };
    if (!info.mints.map(normalizeMint).includes(mint)) return { kind: 'unknown', reason: `the gateway takes ecash from ${info.mints.join(', ')}, not ${mint}` };
    if (sats === undefined) return { kind: 'unknown', reason: model ? `no price for model "${model}"` : 'the request names no model' };
    return { kind: 'pay', sats };
  }
}
