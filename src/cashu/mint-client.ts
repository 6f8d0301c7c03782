// HTTP to one mint: JSON in/out, a timeout, failures classified, every request reported to the
// metrics hook. Knows nothing about proofs.

import type { MintOp, MintRequestHook } from './types.js';

export const DEFAULT_MINT_TIMEOUT_MS = 10_000;

/** Connection errors that prove the request never reached the mint. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * A failed mint request.
 * - kind 'protocol': the mint answered 4xx with a NUT error `code` (it refused: nothing happened).
 * - kind 'http': any other non-2xx, or a 2xx body that is not JSON.
 * - kind 'network': no complete answer (refused, reset, timeout).
 * `mayHaveArrived` is true when the mint may have executed the request (MUST be assumed for
 * timeouts, resets and 5xx): a swap's outputs then stay pending for NUT-09 restore.
 */
export class MintRequestError extends Error {
  constructor(
    readonly op: MintOp,
    readonly kind: 'protocol' | 'http' | 'network',
    readonly mayHaveArrived: boolean,
    message: string,
    readonly status?: number,
    readonly mintCode?: number,
  ) {
    super(message);
    this.name = 'MintRequestError';
  }
}

export interface MintClientOptions {
  timeoutMs?: number;
  onMintRequest?: MintRequestHook;
}

export class MintClient {
  private readonly timeoutMs: number;
  private readonly hook: MintRequestHook | undefined;

  /** `url` is the normalized mint URL (no trailing slash). */
  constructor(readonly url: string, opts: MintClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_MINT_TIMEOUT_MS;
    this.hook = opts.onMintRequest;
  }

  get<T>(op: MintOp, path: string): Promise<T> {
    return this.request<T>(op, 'GET', path);
  }

  post<T>(op: MintOp, path: string, body: unknown): Promise<T> {
    return this.request<T>(op, 'POST', path, body);
  }

  private async request<T>(op: MintOp, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const started = performance.now();
    let outcome: 'ok' | 'error' = 'error';
    try {
      const out = await this.send<T>(op, method, path, body);
      outcome = 'ok';
      return out;
    } finally {
      try {
        this.hook?.(op, outcome, (performance.now() - started) / 1000);
      } catch {
        // a broken metrics hook must not change what happened at the mint
      }
    }
  }

  private async send<T>(op: MintOp, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
      text = await res.text();
    } catch (err) {
      const code = causeCode(err);
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      const mayHaveArrived = method === 'POST' && (timedOut || !NOT_SENT.has(code));
      throw new MintRequestError(op, 'network', mayHaveArrived, `${op}: mint unreachable (${timedOut ? 'timeout' : code || 'network error'})`);
    }
    let json: unknown;
    try {
      json = text.length ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) {
      if (json === undefined || json === null || typeof json !== 'object') {
        throw new MintRequestError(op, 'http', method === 'POST', `${op}: mint answered ${res.status} without JSON`, res.status);
      }
      return json as T;
    }
    const mintCode = json && typeof json === 'object' && typeof (json as { code?: unknown }).code === 'number'
      ? (json as { code: number }).code : undefined;
    const detail = json && typeof json === 'object' && typeof (json as { detail?: unknown }).detail === 'string'
      ? (json as { detail: string }).detail.slice(0, 200) : '';
    if (res.status >= 400 && res.status < 500 && mintCode !== undefined) {
      throw new MintRequestError(op, 'protocol', false, `${op}: mint error ${mintCode} ${detail}`.trim(), res.status, mintCode);
    }
    throw new MintRequestError(op, 'http', method === 'POST' && res.status >= 500, `${op}: mint answered HTTP ${res.status} ${detail}`.trim(), res.status);
  }
}

function causeCode(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '';
}
