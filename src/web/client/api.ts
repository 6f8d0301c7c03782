// The gateway's HTTP API as the page uses it (same origin).
import { SseParser, deltaText, isChangeEvent, type ChangeEvent } from './sse.js';
import type { ChatMessage, UsdPrice } from './budget.js';

export interface PaymentInfo {
  payment_required: boolean;
  mints: string[];
  unit: 'sat';
  min_sats_per_job: number;
  auth_required: boolean;
}

export interface ModelEntry {
  id: string;
  pricing: UsdPrice & { per_m_input_sats?: number; per_m_output_sats?: number; btc_usd?: number };
  nodes?: number;
}

export interface Broadcast {
  id: string;
  message: string;
  level: 'info' | 'warning' | 'critical';
}

export interface ChangeByReceipt {
  status: 'pending' | 'settled';
  token: string;
  change_sats: number;
  cost_sats?: number;
}

/** The gateway answered an HTTP request with an error (its {"error":{message,code}} body, when it sent one). */
export class GatewayRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** What went wrong talking to the gateway, said plainly ("Failed to fetch" means it could not be reached). */
export function describeGatewayError(err: unknown): string {
  if (err instanceof GatewayRequestError) return err.message;
  if (err instanceof TypeError) return `could not reach the gateway at ${location.origin}`;
  return err instanceof Error ? err.message : String(err);
}

async function errorOf(res: Response): Promise<GatewayRequestError> {
  let message = `${res.status} ${res.statusText}`;
  let code: string | undefined;
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code;
  } catch {
    /* not JSON */
  }
  return new GatewayRequestError(message, res.status, code);
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

export const api = {
  paymentInfo: () => getJson<PaymentInfo>('/v1/payment/info'),
  models: async () => (await getJson<{ data: ModelEntry[] }>('/v1/models')).data,
  /** The oracle's BTC/USD (undefined when the oracle plugin is off). */
  btcUsd: async (): Promise<number | undefined> => {
    try {
      return (await getJson<{ btc_usd: number }>('/v1/oracle/rate')).btc_usd;
    } catch {
      return undefined;
    }
  },
  broadcasts: async (): Promise<Broadcast[]> => {
    try {
      return (await getJson<{ data: Broadcast[] }>('/v1/broadcasts')).data;
    } catch {
      return [];
    }
  },
  /** The change of a job whose stream broke: by receipt, as soon as the gateway settled it (null: none kept). */
  changeWhenSettled: async (receipt: string): Promise<ChangeByReceipt | null> => {
    for (let i = 0; i < 30; i++) {
      try {
        const c = await api.change(receipt);
        if (c === null) return null;
        if (c.status === 'settled') return c;
      } catch {
        /* the gateway may be restarting: try again */
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(i, 5))));
    }
    return null;
  },
  /** The change of a job by its receipt; null when the gateway keeps none (unknown or expired). */
  change: async (receipt: string): Promise<ChangeByReceipt | null> => {
    const res = await fetch(`/v1/change/${encodeURIComponent(receipt)}`, { cache: 'no-store' });
    if (res.status === 404) return null;
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as ChangeByReceipt;
  },
};

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
  /** X-Cashu (absent when the gateway does not ask for payment). */
  token?: string;
  apiKey?: string;
  onReceipt?: (receipt: string) => void;
  onText?: (text: string) => void;
}

export interface ChatResult {
  status: number;
  receipt?: string;
  /** The change: the stream's last event, or the headers of a JSON answer. */
  change?: ChangeEvent;
  /** X-Cashu-Change of a refused request: the token (or a refund) back. */
  refund?: string;
  error?: GatewayRequestError;
  /** A 200 stream that ended without its change event (the connection broke). */
  broken: boolean;
  text: string;
}

/** POST /v1/chat/completions with stream: true; reads the answer as it arrives and the change event last. */
export async function streamChat(r: ChatRequest): Promise<ChatResult> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  if (r.token) headers['X-Cashu'] = r.token;
  if (r.apiKey) headers.Authorization = `Bearer ${r.apiKey}`;
  const res = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: r.model, messages: r.messages, stream: true, max_tokens: r.maxTokens }),
    cache: 'no-store',
  });
  const receipt = res.headers.get('X-Cashu-Receipt') ?? undefined;
  if (receipt) r.onReceipt?.(receipt);
  const result: ChatResult = { status: res.status, receipt, broken: false, text: '' };
  const refund = res.headers.get('X-Cashu-Change');
  if (refund) result.refund = refund;

  if (!res.ok) {
    result.error = await errorOf(res);
    return result;
  }
  const type = res.headers.get('Content-Type') ?? '';
  if (!type.includes('text/event-stream') || !res.body) {
    // A JSON answer (a backend that does not stream): the change is in the headers.
    const body = (await res.json()) as { choices?: { message?: { content?: string } }[] };
    result.text = body.choices?.[0]?.message?.content ?? '';
    r.onText?.(result.text);
    if (refund !== null) {
      result.change = { type: 'cashu_change', token: refund, change_sats: Number(res.headers.get('X-Cashu-Change-Sats') ?? 0), cost_sats: Number(res.headers.get('X-Cashu-Cost-Sats') ?? 0) };
      delete result.refund;
    }
    return result;
  }

  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  const handle = (data: string): void => {
    if (data === '[DONE]') return;
    let v: unknown;
    try {
      v = JSON.parse(data);
    } catch {
      return;
    }
    if (isChangeEvent(v)) {
      result.change = v;
      return;
    }
    const err = (v as { error?: { message?: string } | string }).error;
    if (err) result.error = new GatewayRequestError(typeof err === 'string' ? err : (err.message ?? 'the model failed'), 200);
    const t = deltaText(v);
    if (t) {
      result.text += t;
      r.onText?.(result.text);
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const d of parser.push(decoder.decode(value, { stream: true }))) handle(d);
    }
    for (const d of parser.push(decoder.decode())) handle(d);
    for (const d of parser.end()) handle(d);
  } catch {
    result.broken = true;
  }
  if (!result.change) result.broken = true;
  return result;
}
