// The in-browser ecash wallet: proofs in localStorage (store.ts), one cashu-ts Wallet per mint
// for everything that talks to the mint. Money rules:
// - a token received from someone (pasted, change, refund) is swapped at the mint before it
//   counts, so whoever sent it can no longer spend it;
// - proofs leave the balance in the same write that records where they went (a pending payment
//   keeps its token until its change is back; a withdrawal keeps the token it showed);
// - a Lightning top-up is remembered until its proofs are minted, across reloads.
import { Amount, MintOperationError, MintQuoteState, Wallet, getEncodedToken, getTokenMetadata, type Proof, type ProofLike } from '@cashu/cashu-ts';
import { withWalletLock } from './lock.js';
import { loadState, sumProofs, updateState, type PendingPayment, type PendingQuote, type StoredProof, type WalletState } from './store.js';

/** NUT-07/NUT-03 error: the proofs are already spent. */
const SPENT = 11001;

/** Canonical mint URL (as the gateway compares them): lower-case scheme and host, no trailing slash. */
export function normalizeMint(url: string): string {
  const u = new URL(url.trim());
  return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
}

function plain(p: ProofLike): StoredProof {
  const out: StoredProof = { id: p.id, amount: Amount.from(p.amount).toNumber(), secret: p.secret, C: p.C };
  if (p.dleq) out.dleq = { e: p.dleq.e, s: p.dleq.s, ...(p.dleq.r ? { r: p.dleq.r } : {}) };
  if (p.witness !== undefined) out.witness = p.witness;
  return out;
}

function asProofs(ps: StoredProof[]): Proof[] {
  return ps.map((p) => ({ ...p, amount: Amount.from(p.amount) }) as Proof);
}

/**
 * The gateway's receipt for a job paid with these proofs (plugins/payment/receipt.ts): base64url
 * of sha256("owlrun-receipt-v1" ‖ 0 ‖ the secrets sorted, 0-separated). Knowing it before the
 * request lets the page find its change even when the response never arrived. Undefined where
 * the browser offers no WebCrypto (plain http off localhost): the X-Cashu-Receipt header then.
 */
export async function receiptOf(secrets: string[]): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle) return undefined;
  const data = new TextEncoder().encode(['owlrun-receipt-v1', ...[...secrets].sort()].join('\0'));
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  let bin = '';
  for (const b of hash) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function isSpent(err: unknown): boolean {
  return err instanceof MintOperationError && err.code === SPENT;
}

function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export type QuoteStatus = 'unpaid' | 'paid' | 'issued' | 'expired';

export class WalletError extends Error {}

export class BrowserWallet {
  private cashuWallet?: Promise<Wallet>;

  constructor(readonly mint: string) {}

  /** The cashu-ts wallet of this mint (keysets loaded once). */
  cashu(): Promise<Wallet> {
    this.cashuWallet ??= (async () => {
      const w = new Wallet(this.mint, { unit: 'sat' });
      await w.loadMint();
      return w;
    })();
    this.cashuWallet.catch(() => (this.cashuWallet = undefined));
    return this.cashuWallet;
  }

  state(): WalletState {
    return loadState(this.mint);
  }

  balance(): number {
    return sumProofs(this.state().proofs);
  }

  /** Receives a cashuA/cashuB token of this mint: swapped at the mint, then added. Returns the sats added. */
  receive(token: string): Promise<number> {
    return withWalletLock(async () => {
      let meta;
      try {
        meta = getTokenMetadata(token.trim());
      } catch {
        throw new WalletError('That is not a Cashu token (it should start with cashuA or cashuB).');
      }
      if (normalizeMint(meta.mint) !== this.mint) throw new WalletError(`That token is from another mint (${meta.mint}); this gateway takes ${this.mint}.`);
      if ((meta.unit || 'sat') !== 'sat') throw new WalletError(`That token is in ${meta.unit}, not sat.`);
      const w = await this.cashu();
      let proofs: Proof[];
      try {
        proofs = await w.receive(token.trim());
      } catch (err) {
        if (isSpent(err)) throw new WalletError('That token has already been spent.');
        throw err;
      }
      updateState(this.mint, (s) => s.proofs.push(...proofs.map(plain)));
      return sumProofs(proofs.map(plain));
    });
  }

  // ---- Lightning top-up (NUT-04) ----

  /** Asks the mint for a bolt11 invoice of `amount` sats, remembered until minted. */
  createTopUp(amount: number): Promise<PendingQuote> {
    return withWalletLock(async () => {
      const w = await this.cashu();
      const q = await w.createMintQuoteBolt11(amount);
      const pending: PendingQuote = { quote: q.quote, amount, request: q.request, expiry: q.expiry ?? null, createdAt: Date.now() };
      updateState(this.mint, (s) => s.quotes.push(pending));
      return pending;
    });
  }

  async checkTopUp(q: PendingQuote): Promise<QuoteStatus> {
    const w = await this.cashu();
    const res = await w.checkMintQuoteBolt11(q.quote);
    if (res.state === MintQuoteState.PAID) return 'paid';
    if (res.state === MintQuoteState.ISSUED) return 'issued';
    const expiry = res.expiry ?? q.expiry;
    return expiry !== null && expiry * 1000 <= Date.now() ? 'expired' : 'unpaid';
  }

  /** Mints the proofs of a paid quote into the wallet. Returns the sats added (0: already done). */
  finishTopUp(quote: string): Promise<number> {
    return withWalletLock(async () => {
      const q = this.state().quotes.find((x) => x.quote === quote);
      if (!q) return 0;
      const w = await this.cashu();
      const proofs = await w.mintProofsBolt11(q.amount, q.quote);
      updateState(this.mint, (s) => {
        s.proofs.push(...proofs.map(plain));
        s.quotes = s.quotes.filter((x) => x.quote !== quote);
      });
      return sumProofs(proofs.map(plain));
    });
  }

  forgetTopUp(quote: string): void {
    updateState(this.mint, (s) => (s.quotes = s.quotes.filter((x) => x.quote !== quote)));
  }

  // ---- paying for a prompt ----

  /**
   * Takes a token of exactly `amount` sats (plus the mint's input fee for the receiver, if any)
   * out of the balance; it stays recorded as a pending payment until its change is back.
   */
  pay(amount: number): Promise<PendingPayment> {
    return withWalletLock(async () => {
      const w = await this.cashu();
      const s = this.state();
      if (sumProofs(s.proofs) < amount) throw new WalletError(`Not enough sats: ${amount} needed, ${sumProofs(s.proofs)} in the wallet.`);
      let res;
      try {
        res = await w.send(amount, s.proofs, { includeFees: true });
      } catch (err) {
        if (err instanceof Error && /not enough funds/i.test(err.message)) throw new WalletError(`Not enough sats for ${amount} plus the mint's fee.`);
        throw err;
      }
      const token = getEncodedToken({ mint: this.mint, proofs: res.send, unit: 'sat' });
      const receipt = await receiptOf(res.send.map((p) => p.secret));
      const payment: PendingPayment = { id: newId(), token, amount: sumProofs(res.send.map(plain)), createdAt: Date.now(), ...(receipt ? { receipt } : {}) };
      updateState(this.mint, (st) => {
        const used = new Set(s.proofs.map((p) => p.secret));
        // Proofs added meanwhile by another tab stay; the ones this send used are replaced by `keep`.
        st.proofs = [...st.proofs.filter((p) => !used.has(p.secret)), ...res.keep.map(plain)];
        st.payments.push(payment);
      });
      return payment;
    });
  }

  setReceipt(id: string, receipt: string): void {
    updateState(this.mint, (s) => {
      const p = s.payments.find((x) => x.id === id);
      if (p) p.receipt = receipt;
    });
  }

  /**
   * The job of a payment is over: its change (a token from the gateway, maybe empty) goes into
   * the wallet — swapped, so it is ours alone — and the payment is closed. Returns the sats added.
   */
  settle(id: string, changeToken: string): Promise<number> {
    return withWalletLock(async () => {
      if (!this.state().payments.some((p) => p.id === id)) return 0;
      let proofs: Proof[] = [];
      if (changeToken) {
        const w = await this.cashu();
        try {
          proofs = await w.receive(changeToken);
        } catch (err) {
          if (!isSpent(err)) throw err; // keep the payment: try again later
        }
      }
      updateState(this.mint, (s) => {
        s.proofs.push(...proofs.map(plain));
        s.payments = s.payments.filter((p) => p.id !== id);
      });
      return sumProofs(proofs.map(plain));
    });
  }

  /**
   * Takes a payment's token back when the gateway did not keep it (the request never got
   * through, or it was refused without the token coming back). Returns the sats added, or null
   * when the token is spent: the gateway claimed it, and its change comes by receipt.
   */
  reclaim(id: string): Promise<number | null> {
    return withWalletLock(async () => {
      const p = this.state().payments.find((x) => x.id === id);
      if (!p) return 0;
      const w = await this.cashu();
      let proofs: Proof[];
      try {
        proofs = await w.receive(p.token);
      } catch (err) {
        if (isSpent(err)) return null;
        throw err;
      }
      updateState(this.mint, (s) => {
        s.proofs.push(...proofs.map(plain));
        s.payments = s.payments.filter((x) => x.id !== id);
      });
      return sumProofs(proofs.map(plain));
    });
  }

  /** Gives up on a payment whose money cannot come back (spent, and no receipt to ask with). */
  forgetPayment(id: string): void {
    updateState(this.mint, (s) => (s.payments = s.payments.filter((x) => x.id !== id)));
  }

  // ---- withdrawing ----

  /** The whole balance as one token, taken out of the wallet in the same write. */
  withdrawAll(): Promise<{ token: string; amount: number }> {
    return withWalletLock(async () => {
      const s = this.state();
      if (s.proofs.length === 0) throw new WalletError('The wallet is empty.');
      const amount = sumProofs(s.proofs);
      const token = getEncodedToken({ mint: this.mint, proofs: asProofs(s.proofs), unit: 'sat' });
      updateState(this.mint, (st) => {
        const gone = new Set(s.proofs.map((p) => p.secret));
        st.proofs = st.proofs.filter((p) => !gone.has(p.secret));
        st.lastWithdrawal = { token, amount, at: Date.now() };
      });
      return { token, amount };
    });
  }
}
