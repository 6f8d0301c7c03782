// The agent's wallet: proofs of one mint in a store (a JSON file, or memory), deterministic
// secrets from a BIP39 seed (NUT-13) so `restore` (NUT-09) finds everything the mint signed for
// it, and `fetch`, which pays Owlrun gateways from it (pay.ts).
import { MintQuoteState } from '@cashu/cashu-ts';
import { generateMnemonic, mnemonicToSeed, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { PID, inUse, markActive, markDone, newId } from './live.js';
import { MintSession, addProofs, stored, type Log } from './mint-ops.js';
import { payingFetch } from './pay.js';
import { GatewayPricing, normalizeMint } from './pricing.js';
import { receiptOf } from './receipt.js';
import { Settler, tokenOf, type Settlement } from './settle.js';
import { WalletError } from './errors.js';
import { MemoryStore, sumOf, type Payment, type StoredProof, type WalletState, type WalletStore } from './state.js';
import { takeExact } from './take.js';

export { WalletError } from './errors.js';

export const DEFAULT_MINT = 'http://127.0.0.1:3338';

/** Node-only; a specifier in a variable, so browser bundlers leave it (and node:fs) out. */
const FILE_STORE = './file-store.js';

export interface OpenWalletOptions {
  /** The wallet file (Node). Without it the wallet lives in memory (e.g. in a browser). */
  file?: string;
  /** The mint (needed when the file is new; must match the file's otherwise). Default http://127.0.0.1:3338. */
  mint?: string;
  /** BIP39 words of an existing wallet, for a new file: its sats are restored from the mint. */
  mnemonic?: string;
  /** Another place to keep the state (overrides `file`). */
  store?: WalletStore;
  /** The most one request may pay, in sats (the gateway then caps the answer to what was paid). */
  maxSatsPerRequest?: number;
  /** Output tokens paid for when a request sets no max_tokens. Default 1024. */
  defaultMaxTokens?: number;
  /** How long a broken call polls its receipt before leaving it for recovery. Default 30 s. */
  receiptWaitMs?: number;
  /** The fetch the wallet's own requests go through. Default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Diagnostics (never tokens, proofs or receipts). Default: silent. */
  log?: Log;
}


export class OwlrunWallet {
  /** A drop-in fetch that pays Owlrun gateways from this wallet (bound: pass it anywhere). */
  readonly fetch: typeof globalThis.fetch;
  private readonly settling = new Set<Promise<unknown>>();
  private readonly listeners = new Set<(s: Settlement) => void>();
  private readonly settler: Settler;

  private constructor(
    readonly mint: string,
    private readonly store: WalletStore,
    private readonly session: MintSession,
    private readonly log: Log,
    opts: OpenWalletOptions,
  ) {
    const fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.settler = new Settler(store, session, fetchImpl, log, (s) => this.listeners.forEach((l) => l(s)));
    this.fetch = payingFetch({
      mint,
      pricing: new GatewayPricing(fetchImpl, opts.defaultMaxTokens ?? 1024),
      settler: this.settler,
      fetchImpl,
      log,
      receiptWaitMs: opts.receiptWaitMs ?? 30_000,
      ...(opts.maxSatsPerRequest !== undefined ? { maxSatsPerRequest: opts.maxSatsPerRequest } : {}),
      pay: (gateway, sats) => this.pay(gateway, sats),
      track: (p) => {
        this.settling.add(p);
        void p.finally(() => this.settling.delete(p));
      },
    });
  }

  static async open(opts: OpenWalletOptions = {}): Promise<OwlrunWallet> {
    const log = opts.log ?? (() => undefined);
    let store = opts.store;
    if (!store && opts.file) {
      const { FileStore } = (await import(/* webpackIgnore: true */ /* @vite-ignore */ FILE_STORE)) as typeof import('./file-store.js');
      store = new FileStore(opts.file);
    }
    store ??= new MemoryStore();
    if (opts.mnemonic !== undefined && !validateMnemonic(opts.mnemonic.trim(), wordlist)) throw new WalletError('wrong_seed', 'those are not valid BIP39 words');
    const wantMint = normalizeMint(opts.mint ?? DEFAULT_MINT);
    let created = false;
    const state = await store.init(() => {
      created = true;
      const s: WalletState = { version: 1, mint: wantMint, mnemonic: opts.mnemonic?.trim() ?? generateMnemonic(wordlist, 128), counters: {}, proofs: [], payments: [], ops: [], quotes: [], sent: [] };
      return s;
    });
    if (opts.mint !== undefined && state.mint !== wantMint) throw new WalletError('wrong_mint', `this wallet holds ecash of ${state.mint}, not ${wantMint}`);
    if (opts.mnemonic !== undefined && state.mnemonic !== opts.mnemonic.trim()) throw new WalletError('wrong_seed', 'this wallet file has another seed');
    const seed = await mnemonicToSeed(state.mnemonic);
    const session = await MintSession.connect(state.mint, store, seed, log);
    const wallet = new OwlrunWallet(state.mint, store, session, log, opts);
    if (created && opts.mnemonic !== undefined) await wallet.restore();
    else await wallet.recover().catch((err: unknown) => log(`recovery failed (${(err as Error).message}); retried on the next open`));
    return wallet;
  }

  /** Spendable sats, once the change of every call that has ended is in. */
  async balance(): Promise<number> {
    while (this.settling.size > 0) await Promise.allSettled([...this.settling]);
    return sumOf((await this.store.read())?.proofs ?? []);
  }

  /** Sats handed to gateways whose change is not back yet. */
  async pendingSats(): Promise<number> {
    return sumOf((await this.store.read())?.payments.flatMap((p) => p.proofs) ?? []);
  }

  /** The wallet's BIP39 words: whoever has them can take every sat. */
  async mnemonic(): Promise<string> {
    return (await this.store.read())!.mnemonic;
  }

  /** Calls `fn` with every payment `fetch` settles; returns the unsubscribe function. */
  onSettled(fn: (s: Settlement) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Takes in a cashuA/cashuB token of this wallet's mint (swapped, so its sender cannot spend it). Returns the sats added. */
  async receive(token: string): Promise<number> {
    let proofs: StoredProof[];
    try {
      proofs = this.settler.proofsOf(token.trim());
    } catch (err) {
      throw new WalletError('invalid_token', `not a token this wallet can take: ${(err as Error).message}`);
    }
    return this.session.receive(proofs);
  }

  /** A token of exactly `sats` for someone else (the mint's fee for them to take it in included), out of the balance. */
  async send(sats: number): Promise<string> {
    checkAmount(sats);
    const proofs = await takeExact(this.store, this.session, sats, (s, ps) => {
      s.sent.push({ token: tokenOf(this.mint, ps), amount: sumOf(ps), at: Date.now() });
      s.sent = s.sent.slice(-50);
    });
    return tokenOf(this.mint, proofs);
  }

  /**
   * Tops the wallet up by `sats` over Lightning (NUT-04): asks the mint for an invoice, hands it
   * to `onInvoice`, waits until it is paid and mints the sats. Returns the sats added.
   */
  async topup(sats: number, opts: { onInvoice?: (invoice: string) => void | Promise<void>; pollMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    checkAmount(sats);
    const q = await this.session.cashu.createMintQuoteBolt11(sats);
    markActive(q.quote);
    try {
      await this.store.update((s) => void s.quotes.push({ quote: q.quote, amount: sats, request: q.request, expiry: q.expiry ?? null, createdAt: Date.now(), pid: PID }));
      await opts.onInvoice?.(q.request);
      for (;;) {
        const st = await this.session.cashu.checkMintQuoteBolt11(q.quote);
        if (st.state === MintQuoteState.PAID) break;
        if (st.state === MintQuoteState.ISSUED) return 0; // another wallet of this file minted it
        if (st.expiry && st.expiry * 1000 < Date.now()) {
          await this.store.update((s) => void (s.quotes = s.quotes.filter((x) => x.quote !== q.quote)));
          throw new WalletError('quote_expired', 'the invoice expired unpaid');
        }
        opts.signal?.throwIfAborted();
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
      }
      return await this.mintQuote(q.quote, sats);
    } finally {
      markDone(q.quote);
    }
  }

  private async mintQuote(quote: string, amount: number): Promise<number> {
    const added = await this.session.run(
      (s) => (s.quotes.some((x) => x.quote === quote) ? { kind: 'mint', inputs: [], quote, amount } : undefined),
      async (w) => ({ keep: await w.mintProofsBolt11(amount, quote) }),
      (s, out) => {
        s.quotes = s.quotes.filter((x) => x.quote !== quote);
        return addProofs(s, out.keep.map(stored));
      },
    );
    return added ?? 0;
  }

  /**
   * Finds every unspent proof the mint ever signed for this seed (NUT-09, every keyset) that the
   * file does not account for, and moves the counters past them. Tokens made by `send` that are
   * still recorded are not taken back. Returns the sats added.
   */
  async restore(): Promise<number> {
    const { proofs, next } = await this.session.restoreAll();
    return this.store.update((s) => {
      for (const [k, n] of Object.entries(next)) s.counters[k] = Math.max(s.counters[k] ?? 0, n);
      const given = new Set(s.sent.flatMap((t) => this.settler.proofsOf(t.token).map((p) => p.secret)));
      return addProofs(s, proofs.filter((p) => !given.has(p.secret)));
    });
  }

  /**
   * Settles what no running call is working on: ops a crash interrupted, payments whose change
   * never came in (by receipt), paid top-ups not minted yet. Returns the sats that came back.
   */
  async recover(): Promise<number> {
    const before = await this.balance();
    const s = (await this.store.read())!;
    for (const op of s.ops) {
      if (inUse(op)) continue;
      markActive(op.id);
      await this.session
        .settleOp(op, { retryReceive: 'retry' })
        .catch((err: unknown) => this.log(`recovering a mint call failed: ${(err as Error).message}`))
        .finally(() => markDone(op.id));
    }
    for (const p of s.payments) {
      if (inUse(p)) continue;
      markActive(p.id); // byReceipt releases it
      await this.settler.byReceipt(p, 0).catch((err: unknown) => this.log(`recovering a payment failed: ${(err as Error).message}`));
    }
    for (const q of s.quotes.filter((x) => !inUse({ id: x.quote, pid: x.pid }))) {
      try {
        const st = await this.session.cashu.checkMintQuoteBolt11(q.quote);
        if (st.state === MintQuoteState.PAID) await this.mintQuote(q.quote, q.amount);
        else if (st.state === MintQuoteState.ISSUED || (q.expiry !== null && q.expiry * 1000 < Date.now())) await this.store.update((x) => void (x.quotes = x.quotes.filter((y) => y.quote !== q.quote)));
      } catch (err) {
        this.log(`recovering a top-up failed: ${(err as Error).message}`);
      }
    }
    return Math.max(0, (await this.balance()) - before);
  }

  /** A payment of `sats` to `gateway`, recorded with its receipt before the request leaves. */
  private async pay(gateway: string, sats: number): Promise<Payment> {
    const id = newId();
    markActive(id);
    let payment: Payment | undefined;
    try {
      // Recorded with its receipt in the same write that takes the proofs.
      await takeExact(this.store, this.session, sats, (s, ps) => {
        payment = { id, pid: PID, createdAt: Date.now(), gateway, proofs: ps, receipt: receiptOf(ps.map((p) => p.secret)) };
        s.payments.push(payment);
      });
      return payment!;
    } catch (err) {
      markDone(id);
      throw err;
    }
  }
}

function checkAmount(sats: number): void {
  if (!Number.isSafeInteger(sats) || sats <= 0) throw new WalletError('invalid_amount', `an amount is a whole number of sats above 0, not ${sats}`);
}

/** Opens (or creates) a wallet; settles what a previous run left unfinished. */
export function openWallet(opts: OpenWalletOptions = {}): Promise<OwlrunWallet> {
  return OwlrunWallet.open(opts);
}
