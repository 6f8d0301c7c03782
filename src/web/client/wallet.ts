// The in-browser ecash wallet: proofs in localStorage (store.ts), one cashu-ts Wallet per mint
// for everything that talks to the mint. Money rules:
// - every output is derived from the recovery words (NUT-13, seed.ts): the words restore them;
// - every request that sends proofs or outputs to the mint is journaled first (journaled()), so a
//   tab that dies mid-request is recovered on the next load (recovery.ts);
// - a token received from someone (pasted, change, refund) is swapped at the mint before it
//   counts, so whoever sent it can no longer spend it;
// - proofs leave the balance in the same write that records where they went (a pending payment
//   keeps its token until its change is back; a withdrawal keeps the token it showed);
// - a Lightning top-up is remembered until its proofs are minted, across reloads.
import { MintOperationError, MintQuoteState, Wallet, getEncodedToken, getTokenMetadata, type Proof } from '@cashu/cashu-ts';
import { StoredCounters } from './counters.js';
import { withWalletLock } from './lock.js';
import { recoverJournal } from './recovery.js';
import { addNew, asProofs, fewestProofs, plainAll, total, without } from './proofs.js';
import { currentWords, seedOf } from './seed.js';
import { loadState, sumProofs, updateState, type JournalEntry, type PendingPayment, type PendingQuote, type WalletState } from './store.js';

/** NUT-07/NUT-03 error: the proofs are already spent. */
export const SPENT = 11001;
/** NUT-03 error: an output was signed before (its counter was used by another browser with the same words). */
const OUTPUTS_SIGNED = 11003;
/** How far past the last signed counter a skip looks, and in steps of how many. */
const SKIP_GAP = 100;
const SKIP_BATCH = 50;

/** Canonical mint URL (as the gateway compares them): lower-case scheme and host, no trailing slash. */
export function normalizeMint(url: string): string {
  const u = new URL(url.trim());
  return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
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

export function isSpent(err: unknown): boolean {
  return err instanceof MintOperationError && err.code === SPENT;
}

export function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export type QuoteStatus = 'unpaid' | 'paid' | 'issued' | 'expired';

/** A reason the wallet did not do something, worded for the person using the page. */
export class WalletError extends Error {}

type JournalStart = Pick<JournalEntry, 'kind' | 'inputs'> & Partial<Pick<JournalEntry, 'paymentId' | 'token' | 'quote'>>;

export class BrowserWallet {
  private cashuWallet?: Promise<Wallet>;
  private recovering = false;
  readonly counters: StoredCounters;

  constructor(readonly mint: string) {
    this.counters = new StoredCounters(mint);
  }

  /** The cashu-ts wallet of this mint (keysets loaded once), deriving outputs from the recovery words. */
  cashu(): Promise<Wallet> {
    this.cashuWallet ??= (async () => {
      const w = new Wallet(this.mint, { unit: 'sat', bip39seed: await seedOf(currentWords()), counterSource: this.counters });
      await w.loadMint();
      return w;
    })();
    this.cashuWallet.catch(() => (this.cashuWallet = undefined));
    return this.cashuWallet;
  }

  /** The words changed (a restore): the next request derives from the new ones. */
  forgetCashuWallet(): void {
    this.cashuWallet = undefined;
  }

  state(): WalletState {
    return loadState(this.mint);
  }

  balance(): number {
    return sumProofs(this.state().proofs);
  }

  /**
   * One request to the mint under the journal: the entry is written before the request, and the
   * result is stored in the same write that removes it (`store` returning false keeps it: the
   * outcome is not final, e.g. a Lightning payment still pending). A refusal by the mint removes
   * it (nothing was spent or signed); any other failure leaves it for recovery.
   */
  async journaled<T>(start: JournalStart, request: (w: Wallet) => Promise<T>, store: (s: WalletState, result: T) => boolean | void): Promise<T> {
    const w = await this.cashu();
    // An earlier request whose outcome this tab never saw: settle it first, so its inputs are not sent twice.
    if (!this.recovering && this.state().journal.length > 0) await this.recover();
    const id = newId();
    updateState(this.mint, (s) => s.journal.push({ ...start, id, ranges: [], createdAt: Date.now() }));
    let result: T;
    try {
      result = await this.attempt(w, id, request);
    } catch (err) {
      if (err instanceof MintOperationError) updateState(this.mint, (s) => (s.journal = s.journal.filter((e) => e.id !== id)));
      throw err;
    }
    updateState(this.mint, (s) => {
      if (store(s, result) !== false) s.journal = s.journal.filter((e) => e.id !== id);
    });
    return result;
  }

  /**
   * Sends the request with counters reserved into journal entry `id`. Outputs the mint signed
   * before (the same words in use in another browser) move the counters past every signed one
   * (NUT-09 scan) and the request is sent once more with fresh outputs.
   */
  private async attempt<T>(w: Wallet, id: string, request: (w: Wallet) => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      this.counters.active = id;
      try {
        return await request(w);
      } catch (err) {
        if (!(err instanceof MintOperationError && err.code === OUTPUTS_SIGNED) || tries > 0) throw err;
      } finally {
        this.counters.active = undefined;
      }
      for (const [keysetId, next] of Object.entries(this.state().counters)) {
        const { lastCounterWithSignature: last } = await w.batchRestore(SKIP_GAP, SKIP_BATCH, next, keysetId);
        if (last !== undefined) await this.counters.advanceToAtLeast(keysetId, last + 1);
      }
    }
  }

  /** Settles journaled requests left over (call under the wallet lock); returns the sats they added. */
  async recover(): Promise<number> {
    this.recovering = true;
    try {
      return await recoverJournal(this);
    } finally {
      this.recovering = false;
    }
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
      try {
        return await this.receiveToken(token.trim());
      } catch (err) {
        if (isSpent(err)) throw new WalletError('That token has already been spent.');
        throw err;
      }
    });
  }

  /** Swaps a token's proofs for new ones of this wallet (journaled; call under the lock). */
  async receiveToken(token: string, paymentId?: string): Promise<number> {
    const w = await this.cashu();
    const inputs = plainAll(w.decodeToken(token).proofs);
    const start: JournalStart = { kind: 'receive', inputs, token, ...(paymentId ? { paymentId } : {}) };
    const proofs = await this.journaled(start, (cw) => cw.receive(token), (s, got: Proof[]) => {
      addNew(s.proofs, plainAll(got));
      if (paymentId) s.payments = s.payments.filter((p) => p.id !== paymentId);
    });
    return total(proofs);
  }

  /**
   * Proofs kept from before this browser had recovery words (`wordsExisted` false at start-up):
   * swapped once for ones the words restore; remembered until done.
   */
  adoptProofs(wordsExisted: boolean): Promise<number> {
    return withWalletLock(async () => {
      if (!wordsExisted && this.state().proofs.length > 0) updateState(this.mint, (st) => (st.adoptPending = true));
      const s = this.state();
      if (!s.adoptPending) return 0;
      if (s.proofs.length === 0) {
        updateState(this.mint, (st) => delete st.adoptPending);
        return 0;
      }
      const got = await this.journaled({ kind: 'swap', inputs: s.proofs }, (w) => w.receive(asProofs(s.proofs)), (st, r: Proof[]) => {
        st.proofs = without(st.proofs, s.proofs);
        addNew(st.proofs, plainAll(r));
        delete st.adoptPending;
      });
      return total(got);
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
      const proofs = await this.journaled({ kind: 'mint', inputs: [], quote }, (w) => w.mintProofsBolt11(q.amount, q.quote), (s, got: Proof[]) => {
        addNew(s.proofs, plainAll(got));
        s.quotes = s.quotes.filter((x) => x.quote !== quote);
      });
      return total(proofs);
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
      const s = this.state();
      if (sumProofs(s.proofs) < amount) throw new WalletError(`Not enough sats: ${amount} needed, ${sumProofs(s.proofs)} in the wallet.`);
      const id = newId();
      let payment: PendingPayment | undefined;
      try {
        await this.journaled(
          { kind: 'swap', inputs: s.proofs },
          async (w) => {
            const res = await w.send(amount, asProofs(s.proofs), { includeFees: true });
            const token = getEncodedToken({ mint: this.mint, proofs: res.send, unit: 'sat' });
            const receipt = await receiptOf(res.send.map((p) => p.secret));
            payment = { id, token, amount: total(res.send), createdAt: Date.now(), ...(receipt ? { receipt } : {}) };
            return res;
          },
          (st, res) => {
            // Proofs added meanwhile by another tab stay; the ones this send used are replaced by `keep`.
            st.proofs = without(st.proofs, s.proofs);
            addNew(st.proofs, plainAll(res.keep));
            if (payment) st.payments.push(payment);
          },
        );
      } catch (err) {
        if (err instanceof Error && /not enough funds/i.test(err.message)) throw new WalletError(`Not enough sats for ${amount} plus the mint's fee.`);
        throw err;
      }
      if (!payment) throw new Error('the payment was not recorded');
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
      if (changeToken) {
        try {
          return await this.receiveToken(changeToken, id);
        } catch (err) {
          if (!isSpent(err)) throw err; // keep the payment: try again later
        }
      }
      updateState(this.mint, (s) => (s.payments = s.payments.filter((p) => p.id !== id)));
      return 0;
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
      try {
        return await this.receiveToken(p.token, id);
      } catch (err) {
        if (isSpent(err)) return null;
        throw err;
      }
    });
  }

  /** Gives up on a payment whose money cannot come back (spent, and no receipt to ask with). */
  forgetPayment(id: string): void {
    updateState(this.mint, (s) => (s.payments = s.payments.filter((x) => x.id !== id)));
  }

  // ---- withdrawing ----

  /**
   * The whole balance as one token of the fewest proofs (one per set bit of the amount): as it
   * is when the wallet holds no two proofs of one amount, else after one swap (less the mint's
   * input fee, if it charges one). Taken out of the wallet in the same write that stores it.
   */
  withdrawAll(): Promise<{ token: string; amount: number }> {
    return withWalletLock(async () => {
      const s = this.state();
      if (s.proofs.length === 0) throw new WalletError('The wallet is empty.');
      const keep = (token: string, amount: number) => (st: WalletState) => (st.lastWithdrawal = { token, amount, at: Date.now() });
      if (fewestProofs(s.proofs)) {
        const token = getEncodedToken({ mint: this.mint, proofs: asProofs(s.proofs), unit: 'sat' });
        const amount = sumProofs(s.proofs);
        updateState(this.mint, (st) => {
          st.proofs = without(st.proofs, s.proofs);
          keep(token, amount)(st);
        });
        return { token, amount };
      }
      const w = await this.cashu();
      const amount = sumProofs(s.proofs) - w.getFeesForProofs(asProofs(s.proofs)).toNumber();
      if (amount <= 0) throw new WalletError("The balance does not cover the mint's fee for a withdrawal.");
      let token = '';
      const res = await this.journaled(
        { kind: 'swap', inputs: s.proofs },
        (cw) => cw.send(amount, asProofs(s.proofs)),
        (st, r) => {
          token = getEncodedToken({ mint: this.mint, proofs: r.send, unit: 'sat' });
          st.proofs = without(st.proofs, s.proofs);
          addNew(st.proofs, plainAll(r.keep));
          keep(token, total(r.send))(st);
        },
      );
      return { token, amount: total(res.send) };
    });
  }
}
