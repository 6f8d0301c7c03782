// HTTP to one mint: JSON in/out, a timeout, failures classified, every request reported to the
// metrics hook. Knows nothing about proofs.

import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { MintOp, MintRequestHook } from './types.js';

export const DEFAULT_MINT_TIMEOUT_MS = 10_000;
/** An idle kept-alive connection to a mint closes after this long (as undici's default). */
const IDLE_MS = 4_000;
/** Largest answer read from a mint. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Connection errors that prove the request never reached the mint. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

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
  private readonly https: boolean;
  /**
   * Kept-alive connections to this mint (node:http; fetch cost ~1 ms more per request on the
   * claim's path). An idle one closes after IDLE_MS, or 1 s before the mint's own announced
   * keep-alive timeout if sooner, so a swap is not written to a connection the mint is closing.
   */
  private readonly agent: HttpAgent;

  /** `url` is the normalized mint URL (no trailing slash). */
  constructor(readonly url: string, opts: MintClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_MINT_TIMEOUT_MS;
    this.hook = opts.onMintRequest;
    this.https = new URL(url).protocol === 'https:';
    this.agent = this.https ? new HttpsAgent({ keepAlive: true, timeout: IDLE_MS }) : new HttpAgent({ keepAlive: true, timeout: IDLE_MS });
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

  /** Closes the idle kept-alive connections; requests in flight finish. */
  close(): void {
    for (const sockets of Object.values(this.agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }

  private async send<T>(op: MintOp, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.exchange(method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body))));
    } catch (err) {
      const code = causeCode(err);
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      const mayHaveArrived = method === 'POST' && (timedOut || !NOT_SENT.has(code));
      throw new MintRequestError(op, 'network', mayHaveArrived, `${op}: mint unreachable (${timedOut ? 'timeout' : code || 'network error'})`);
    }
    let json: unknown;
    try {
      json = text.length ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (status >= 200 && status < 300) {
      if (json === undefined || json === null || typeof json !== 'object') {
        throw new MintRequestError(op, 'http', method === 'POST', `${op}: mint answered ${status} without JSON`, status);
      }
      return json as T;
    }
    const mintCode = json && typeof json === 'object' && typeof (json as { code?: unknown }).code === 'number'
      ? (json as { code: number }).code : undefined;
    const detail = json && typeof json === 'object' && typeof (json as { detail?: unknown }).detail === 'string'
      ? (json as { detail: string }).detail.slice(0, 200) : '';
    if (status >= 400 && status < 500 && mintCode !== undefined) {
      throw new MintRequestError(op, 'protocol', false, `${op}: mint error ${mintCode} ${detail}`.trim(), status, mintCode);
    }
    // Redirects are not followed; a POST answered by one is treated like a 5xx (it may have run).
    const mayHaveArrived = method === 'POST' && (status >= 500 || (status >= 300 && status < 400));
    throw new MintRequestError(op, 'http', mayHaveArrived, `${op}: mint answered HTTP ${status} ${detail}`.trim(), status);
  }

  /**
   * One HTTP exchange on a kept-alive connection: the status and the whole answer as text.
   * Rejects on any failure before the answer is complete; a TimeoutError after timeoutMs in all.
   */
  private exchange(method: 'GET' | 'POST', path: string, body: Buffer | undefined): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (body) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = body.length;
      }
      const req = (this.https ? httpsRequest : httpRequest)(new URL(this.url + path), { method, headers, agent: this.agent });
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      const timer = setTimeout(() => {
        const err = Object.assign(new Error('mint request timed out'), { name: 'TimeoutError' });
        fail(err);
        req.destroy(err);
      }, this.timeoutMs);
      req.on('error', fail);
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`mint answer over ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('error', fail);
        res.once('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks, size).toString('utf8') });
        });
        res.once('close', () => {
          if (!res.complete) fail(new Error('mint answer cut short'));
        });
      });
      req.end(body);
    });
  }
}

function causeCode(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '';
}
