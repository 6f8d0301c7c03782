// Closing a payment: its change (or refund) goes into the wallet — swapped at the mint, so the
// gateway that saw those proofs cannot spend them — and the payment record goes in that same
// write. When no change arrived with the response, the gateway is asked by receipt
// (GET /v1/change/{receipt}); a receipt it never heard of means the token never reached it, and
// the token is swapped back if it is still unspent.
import { getDecodedToken, getEncodedToken, getTokenMetadata } from '@cashu/cashu-ts';
import { asProofs, stored, type Log, type MintSession } from './mint-ops.js';
import { normalizeMint } from './pricing.js';
import { markDone } from './live.js';
import { sumOf, type Payment, type StoredProof, type WalletStore } from './state.js';

type Fetch = typeof globalThis.fetch;

/** What one paid request came to, as the wallet saw it. */
export interface Settlement {
  receipt: string;
  gateway: string;
  /** Sats the token carried. */
  paidSats: number;
  /** What the gateway billed (when it said). */
  costSats?: number;
  /** Sats that came back into the wallet (change or refund, after the mint's fee for taking it in). */
  changeSats: number;
  /** settled: change in; refunded: the unused token back; pending: the gateway has not settled yet (kept for recovery); lost: nothing could come back. */
  status: 'settled' | 'refunded' | 'pending' | 'lost';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Settler {
  constructor(
    private readonly store: WalletStore,
    private readonly session: MintSession,
    private readonly fetchImpl: Fetch,
    private readonly log: Log,
    private readonly emit: (s: Settlement) => void,
  ) {}

  /** The proofs of a token of our mint. */
  proofsOf(token: string): StoredProof[] {
    const meta = getTokenMetadata(token);
    if (normalizeMint(meta.mint) !== this.session.url) throw new Error(`the token is from ${meta.mint}, this wallet's mint is ${this.session.url}`);
    if ((meta.unit || 'sat') !== 'sat') throw new Error(`the token is in ${meta.unit}, not sat`);
    return getDecodedToken(token, this.session.cashu.keyChain.getAllKeysetIds()).proofs.map(stored);
  }

  private report(p: Payment, status: Settlement['status'], changeSats: number, costSats?: number): void {
    this.emit({ receipt: p.receipt, gateway: p.gateway, paidSats: sumOf(p.proofs), changeSats, status, ...(costSats !== undefined ? { costSats } : {}) });
  }

  /** A change or refund token in hand ('' when the change is 0). */
  async withToken(p: Payment, token: string, costSats?: number, status: 'settled' | 'refunded' = 'settled'): Promise<void> {
    try {
      await this.takeIn(p, token, costSats, status);
    } finally {
      markDone(p.id); // closed, or left for recovery
    }
  }

  private async takeIn(p: Payment, token: string, costSats: number | undefined, status: 'settled' | 'refunded'): Promise<void> {
    if (!token) {
      await this.store.update((s) => void (s.payments = s.payments.filter((x) => x.id !== p.id)));
      this.report(p, status, 0, costSats);
      return;
    }
    const added = await this.session.receive(this.proofsOf(token), p.id);
    this.report(p, status, added, costSats);
  }

  /**
   * Asks the gateway for the payment's outcome, polling while it is pending for up to `waitMs`.
   * Returns false when the outcome is still unknown (the payment stays recorded for recovery).
   */
  async byReceipt(p: Payment, waitMs: number): Promise<boolean> {
    try {
      return await this.askReceipt(p, waitMs);
    } finally {
      markDone(p.id); // closed, or left for recovery
    }
  }

  private async askReceipt(p: Payment, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      let res: Response | undefined;
      try {
        res = await this.fetchImpl(`${p.gateway}/v1/change/${encodeURIComponent(p.receipt)}`, { headers: { accept: 'application/json' } });
      } catch {
        res = undefined; // gateway unreachable: try again until the deadline
      }
      if (res?.status === 404) {
        await res.body?.cancel();
        await this.reclaim(p);
        return true;
      }
      if (res?.ok) {
        const body = (await res.json()) as { status?: string; token?: string; cost_sats?: number };
        if (body.status === 'settled') {
          await this.takeIn(p, body.token ?? '', body.cost_sats, 'settled');
          return true;
        }
      } else {
        await res?.body?.cancel();
      }
      if (Date.now() + delay > deadline) {
        this.report(p, 'pending', 0);
        return false;
      }
      await sleep(delay);
    }
  }

  /** The gateway has no job for this token: what is unspent comes back (swapped), the rest is gone. */
  private async reclaim(p: Payment): Promise<void> {
    const live = await this.session.unspent(p.proofs);
    const back = p.proofs.filter((_, i) => live[i]);
    if (back.length === 0) {
      await this.store.update((s) => void (s.payments = s.payments.filter((x) => x.id !== p.id)));
      this.log(`a payment of ${sumOf(p.proofs)} sats is spent but its gateway knows no job for it (receipt expired?): nothing comes back`);
      this.report(p, 'lost', 0);
      return;
    }
    const added = await this.session.receive(back, p.id);
    this.report(p, 'refunded', added);
  }

}

/** A cashuB token of these proofs. */
export function tokenOf(mint: string, proofs: readonly StoredProof[]): string {
  return getEncodedToken({ mint, proofs: asProofs(proofs), unit: 'sat' });
}
