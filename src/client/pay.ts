// wallet.fetch: a drop-in fetch that pays Owlrun gateways from the wallet.
// For a POST to an inference route (/v1/chat/completions, /v1/completions, /api/chat,
// /api/generate) without its own X-Cashu header, it
// 1. works out the most the request can cost (pricing.ts) and takes a token of exactly that
//    from the wallet — recorded in the store before the request leaves;
// 2. sends the request with X-Cashu; a 402 whose NUT-18 request (creqA) names this wallet's
//    mint is paid and the request sent once more;
// 3. hands the response over as it came, except the change event of a stream, which it keeps;
//    it reads a stream to its end even when the caller stops at [DONE], and takes the change
//    (or the refund in X-Cashu-Change, or the outcome by receipt when the stream broke) into
//    the wallet.
// Anything else goes to the underlying fetch untouched.
import { PaymentRequest } from '@cashu/cashu-ts';
import { ChangeFilter } from './change-filter.js';
import type { Log } from './mint-ops.js';
import { normalizeMint, type GatewayPricing } from './pricing.js';
import { tokenOf, type Settler } from './settle.js';
import type { Payment } from './state.js';

type Fetch = typeof globalThis.fetch;

const INFERENCE_PATHS = ['/v1/chat/completions', '/v1/completions', '/api/chat', '/api/generate'];

export interface PayDeps {
  mint: string;
  pricing: GatewayPricing;
  settler: Settler;
  fetchImpl: Fetch;
  log: Log;
  maxSatsPerRequest?: number;
  /** How long a broken call polls its receipt before leaving the payment for recovery. */
  receiptWaitMs: number;
  /** Takes a token of `sats` (plus the mint's input fee) out of the balance, recorded as a payment to `gateway`. */
  pay(gateway: string, sats: number): Promise<Payment>;
  /** balance() waits for the promises given here. */
  track(p: Promise<unknown>): void;
}

/** The gateway base URL of an inference request (the URL minus its route), or undefined. */
export function gatewayBase(url: string, method: string): string | undefined {
  if (method.toUpperCase() !== 'POST') return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const path = u.pathname.replace(/\/+$/, '');
  const route = INFERENCE_PATHS.find((r) => path.endsWith(r));
  return route === undefined ? undefined : u.origin + path.slice(0, path.length - route.length);
}

function parseJson(body: Uint8Array | undefined): Record<string, unknown> | undefined {
  if (!body) return undefined;
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(body));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The amount a 402's NUT-18 request asks for, when it can be paid from `mint` in sats. */
function challengeSats(res: Response, mint: string): number | undefined {
  const header = res.headers.get('x-cashu') ?? '';
  if (!header.startsWith('creqA')) return undefined;
  try {
    const req = PaymentRequest.fromEncodedRequest(header);
    if ((req.unit ?? 'sat') !== 'sat' || req.amount === undefined) return undefined;
    if (req.mints && req.mints.length > 0 && !req.mints.map(normalizeMint).includes(mint)) return undefined;
    return req.amount.toNumber();
  } catch {
    return undefined;
  }
}

function streamFormat(res: Response): 'sse' | 'ndjson' | undefined {
  const type = (res.headers.get('content-type') ?? '').toLowerCase();
  if (type.includes('text/event-stream')) return 'sse';
  if (type.includes('ndjson')) return 'ndjson';
  return undefined;
}

/** A 402 in the gateway's error shape, made by the wallet (X-Owlrun-Wallet says so): nothing was sent. */
function walletRefusal(message: string): Response {
  const body = { error: { message: `owlrun wallet: ${message}`, type: 'payment_required', code: 'wallet_insufficient_balance' } };
  return new Response(JSON.stringify(body), { status: 402, headers: { 'content-type': 'application/json', 'x-owlrun-wallet': 'insufficient_balance' } });
}

export function payingFetch(d: PayDeps): Fetch {
  /** Settles in the background; balance() waits for it. */
  const later = (what: Promise<unknown>) => {
    d.track(what.catch((err: unknown) => d.log(`settling a payment failed (${(err as Error).message}); it is retried on the next recovery`)));
  };

  /** The response of a paid request: its change taken in, its stream passed on without the change event. */
  function settleResponse(res: Response, p: Payment, upstream: AbortController, callerSignal: AbortSignal | null | undefined): Response {
    const seen = res.headers.get('x-cashu-receipt');
    if (seen && seen !== p.receipt) d.log('the gateway sent a receipt other than the one derived from the token; using the derived one');
    const format = streamFormat(res);
    if (!format || !res.body) {
      const change = res.headers.get('x-cashu-change');
      const cost = res.headers.get('x-cashu-cost-sats');
      const costSats = cost === null ? undefined : Number(cost);
      if (change) later(d.settler.withToken(p, change, costSats, res.ok ? 'settled' : 'refunded'));
      else if (res.headers.get('x-cashu-change-sats') === '0') later(d.settler.withToken(p, '', costSats));
      else later(d.settler.byReceipt(p, d.receiptWaitMs));
      return res;
    }
    const filter = new ChangeFilter(format);
    const reader = res.body.getReader();
    let callerGone = false;
    let release!: () => void;
    const settled = new Promise<void>((r) => (release = r));
    let tracked = false;
    /** From the backend's end on (or once the caller left), balance() waits for this call's change. */
    const settling = () => {
      if (!tracked) d.track(settled);
      tracked = true;
    };
    const stopUnlessEnded = () => {
      if (!filter.ended) upstream.abort();
      settling();
    };
    callerSignal?.addEventListener('abort', stopUnlessEnded, { once: true });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        void (async () => {
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              for (const ev of filter.push(value)) if (!callerGone) controller.enqueue(ev);
              if (filter.ended) settling();
            }
            for (const ev of filter.flush()) if (!callerGone) controller.enqueue(ev);
            if (!callerGone) controller.close();
          } catch (err) {
            if (!callerGone) controller.error(err);
          }
          settling();
          callerSignal?.removeEventListener('abort', stopUnlessEnded);
          try {
            if (filter.change) await d.settler.withToken(p, filter.change.token, filter.change.cost_sats);
            else await d.settler.byReceipt(p, d.receiptWaitMs);
          } catch (err) {
            d.log(`taking the change in failed (${(err as Error).message}); it is retried on the next recovery`);
          } finally {
            release();
          }
        })();
      },
      cancel() {
        callerGone = true;
        stopUnlessEnded();
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  return async function owlrunFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const base = gatewayBase(url, method);
    if (base === undefined) return d.fetchImpl(input, init);
    const req = new Request(input, init);
    if (req.headers.has('x-cashu')) return d.fetchImpl(req); // the caller pays by itself
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const json = parseJson(body);
    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    callerSignal?.throwIfAborted(); // as fetch does, and before any sat moves
    const quote = await d.pricing.quote(base, json, d.mint);
    const cap = (n: number) => (d.maxSatsPerRequest === undefined ? n : Math.min(n, d.maxSatsPerRequest));
    if (quote.kind === 'unknown') d.log(`paying only if asked: ${quote.reason}`);
    let sats = quote.kind === 'pay' ? cap(quote.sats) : undefined;

    for (let attempt = 0; ; attempt++) {
      let payment: Payment | undefined;
      try {
        payment = sats !== undefined ? await d.pay(base, sats) : undefined;
      } catch (err) {
        // Answered like the gateway answers an unpaid request, so SDKs show the reason (and do not retry).
        if (err instanceof Error && (err as { code?: unknown }).code === 'insufficient_balance') return walletRefusal(err.message);
        throw err;
      }
      const headers = new Headers(req.headers);
      if (payment) headers.set('X-Cashu', tokenOf(d.mint, payment.proofs));
      const upstream = new AbortController();
      const onAbort = () => upstream.abort(callerSignal?.reason);
      if (callerSignal?.aborted) onAbort();
      else callerSignal?.addEventListener('abort', onAbort, { once: true });
      let res: Response;
      try {
        res = await d.fetchImpl(url, { method: req.method, headers, body, signal: upstream.signal, redirect: req.redirect, credentials: req.credentials });
      } catch (err) {
        // The request may or may not have reached the gateway: the receipt tells.
        if (payment) later(d.settler.byReceipt(payment, d.receiptWaitMs));
        throw err;
      } finally {
        callerSignal?.removeEventListener('abort', onAbort);
      }
      if (res.status === 402 && attempt === 0) {
        const asked = challengeSats(res, d.mint);
        if (payment) {
          // Our token came back untouched (or its outcome is at the receipt): in before paying again.
          const echo = res.headers.get('x-cashu-change');
          await (echo ? d.settler.withToken(payment, echo, undefined, 'refunded') : d.settler.byReceipt(payment, d.receiptWaitMs));
        }
        const want = asked === undefined ? undefined : Math.max(asked, quote.kind !== 'free' ? (quote.sats ?? 0) : 0);
        if (want !== undefined && (d.maxSatsPerRequest === undefined || asked! <= d.maxSatsPerRequest) && want !== sats) {
          await res.body?.cancel();
          sats = cap(want);
          continue;
        }
        return res;
      }
      return payment ? settleResponse(res, payment, upstream, callerSignal) : res;
    }
  };
}
