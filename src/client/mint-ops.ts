// Every call that makes the mint sign outputs for this wallet (swap, receive, mint) runs as a
// journaled op: its record (inputs, quote) is written first, its counter ranges are written as
// cashu-ts reserves them (before the outputs exist), and the results replace the record in one
// write. A record left behind by a crash or a lost answer is settled by `settleOp` from what the
// mint says: inputs unspent → nothing happened; spent / quote issued → restore the ranges (NUT-09).
import { Amount, CheckStateEnum, MintOperationError, MintQuoteState, NetworkError, Wallet, type CounterRange, type CounterSource, type Proof, type ProofLike } from '@cashu/cashu-ts';
import { PID, markActive, markDone, newId } from './live.js';
import type { PendingOp, StoredProof, WalletState, WalletStore } from './state.js';

export type Log = (msg: string) => void;

export function stored(p: ProofLike): StoredProof {
  const out: StoredProof = { id: p.id, amount: Amount.from(p.amount).toNumber(), secret: p.secret, C: p.C };
  if (p.dleq) out.dleq = { e: p.dleq.e, s: p.dleq.s, ...(p.dleq.r ? { r: p.dleq.r } : {}) };
  return out;
}

export function asProofs(ps: readonly StoredProof[]): Proof[] {
  return ps.map((p) => ({ ...p, amount: Amount.from(p.amount) }) as Proof);
}

/** Every secret the state accounts for (spendable, paid, in an op), so nothing is added twice. */
export function knownSecrets(s: WalletState): Set<string> {
  const out = new Set<string>();
  for (const p of s.proofs) out.add(p.secret);
  for (const pay of s.payments) for (const p of pay.proofs) out.add(p.secret);
  for (const op of s.ops) for (const p of op.inputs) out.add(p.secret);
  return out;
}

/** Adds proofs the state does not hold yet; returns the sats added. */
export function addProofs(s: WalletState, ps: readonly StoredProof[]): number {
  const known = knownSecrets(s);
  let added = 0;
  for (const p of ps) {
    if (known.has(p.secret)) continue;
    known.add(p.secret);
    s.proofs.push(p);
    added += p.amount;
  }
  return added;
}

const RESTORE_BATCH = 50;
const RESTORE_GAP = 100;

/** A read-only mint call, tried again when the connection was lost. */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || !(err instanceof NetworkError)) throw err;
    }
  }
}

/** cashu-ts reserves counters here: advanced in the store, the range written into the op, before any output is built. */
class JournaledCounters implements CounterSource {
  constructor(
    private readonly store: WalletStore,
    private readonly opId: string,
  ) {}

  reserve(keysetId: string, n: number): Promise<CounterRange> {
    return this.store.update((s) => {
      const start = s.counters[keysetId] ?? 0;
      if (n > 0) {
        const op = s.ops.find((o) => o.id === this.opId);
        if (!op) throw new Error('owlrun wallet: op record missing while reserving counters');
        s.counters[keysetId] = start + n;
        op.ranges.push({ keysetId, start, count: n });
      }
      return { start, count: n };
    });
  }

  async advanceToAtLeast(keysetId: string, minNext: number): Promise<void> {
    await this.store.update((s) => {
      s.counters[keysetId] = Math.max(s.counters[keysetId] ?? 0, minNext);
    });
  }
}

export interface OpResult {
  /** Proofs that become spendable. */
  keep: Proof[];
  /** Proofs that leave the wallet (the payment's or the send's token). */
  send?: Proof[];
}

/** The mint as this wallet uses it: a loaded cashu-ts wallet for reads, one per op for deterministic outputs. */
export class MintSession {
  private constructor(
    readonly url: string,
    private readonly store: WalletStore,
    /** Loaded mint info and keys; no seed: it never builds outputs. */
    readonly cashu: Wallet,
    private readonly seed: Uint8Array,
    private readonly log: Log,
  ) {}

  static async connect(url: string, store: WalletStore, seed: Uint8Array, log: Log): Promise<MintSession> {
    const cashu = new Wallet(url, { unit: 'sat' });
    await cashu.loadMint();
    return new MintSession(url, store, cashu, seed, log);
  }

  /** A cashu-ts wallet whose deterministic outputs reserve counters in this op's record. */
  private walletFor(opId: string): Wallet {
    const w = new Wallet(this.url, { unit: 'sat', bip39seed: this.seed, counterSource: new JournaledCounters(this.store, opId), keysetId: this.cashu.keysetId });
    w.loadMintFromCache(this.cashu.getMintInfo().cache, this.cashu.keyChain.cache);
    return w;
  }

  /** A wallet for reading deterministic outputs back (restore): counters are not reserved. */
  private restorer(): Wallet {
    const w = new Wallet(this.url, { unit: 'sat', bip39seed: this.seed, keysetId: this.cashu.keysetId });
    w.loadMintFromCache(this.cashu.getMintInfo().cache, this.cashu.keyChain.cache);
    return w;
  }

  /**
   * Runs one journaled op. `begin` (under the lock) returns the op's record — taking its inputs out
   * of the balance in the same write — or undefined when there is nothing to do. `finish` (under
   * the lock) applies the results; the record is removed in that same write. On a failed call the
   * op is settled from the mint's state at once, or left for recovery when the mint cannot tell.
   */
  async run<T>(
    begin: (s: WalletState) => Omit<PendingOp, 'id' | 'pid' | 'createdAt' | 'ranges'> | undefined,
    call: (w: Wallet, op: PendingOp) => Promise<OpResult>,
    finish: (s: WalletState, out: OpResult, op: PendingOp) => T,
  ): Promise<T | undefined> {
    const id = newId();
    markActive(id);
    try {
      const op = await this.store.update((s) => {
        const fields = begin(s);
        if (!fields) return undefined;
        const rec: PendingOp = { ...fields, id, pid: PID, createdAt: Date.now(), ranges: [] };
        s.ops.push(rec);
        return rec;
      });
      if (!op) return undefined;
      let out: OpResult;
      for (let attempt = 1; ; attempt++) {
        try {
          out = await call(this.walletFor(id), op);
          break;
        } catch (err) {
          // A lost connection (e.g. a keep-alive socket the mint had closed) before the mint did
          // anything: the same inputs go again, with fresh counters.
          if (attempt < 3 && err instanceof NetworkError && (await this.untouched(op).catch(() => false))) continue;
          await this.settleAfterFailure(id, err);
          throw err;
        }
      }
      return await this.store.update((s) => {
        const i = s.ops.findIndex((o) => o.id === id);
        if (i < 0) throw new Error('owlrun wallet: op record vanished');
        const rec = s.ops[i]!;
        s.ops.splice(i, 1);
        return finish(s, out, rec);
      });
    } finally {
      markDone(id);
    }
  }

  /** Whether the mint has not acted on the op: its inputs all unspent, or its quote not issued. */
  private async untouched(op: PendingOp): Promise<boolean> {
    if (op.kind === 'mint') return (await this.cashu.checkMintQuoteBolt11(op.quote!)).state !== MintQuoteState.ISSUED;
    return (await this.unspent(op.inputs)).every(Boolean);
  }

  private async settleAfterFailure(id: string, err: unknown): Promise<void> {
    const op = (await this.store.read())?.ops.find((o) => o.id === id);
    if (!op) return;
    try {
      // A mint that refused a receive will refuse it again: the token is dropped, not retried.
      await this.settleOp(op, { retryReceive: !(err instanceof MintOperationError) ? 'keep' : 'drop' });
    } catch (e) {
      this.log(`mint call failed and its outcome is unknown (${(e as Error).message}); it is settled on the next recovery`);
    }
  }

  /** Whether each proof is still unspent at the mint. */
  async unspent(ps: readonly StoredProof[]): Promise<boolean[]> {
    if (ps.length === 0) return [];
    const states = await retried(() => this.cashu.checkProofsStates(ps.map((p) => ({ id: p.id, secret: p.secret }))));
    return states.map((st) => st.state === CheckStateEnum.UNSPENT);
  }

  /** The unspent proofs the mint signed at these counters (NUT-09, then NUT-07). */
  async restoreRanges(ranges: readonly { keysetId: string; start: number; count: number }[]): Promise<StoredProof[]> {
    const w = this.restorer();
    const found: StoredProof[] = [];
    for (const r of ranges) {
      if (r.count <= 0) continue;
      const { proofs } = await retried(() => w.restore(r.start, r.count, { keysetId: r.keysetId }));
      found.push(...proofs.map(stored));
    }
    const live = await this.unspent(found);
    return found.filter((_, i) => live[i]);
  }

  /** Every unspent proof the mint signed for this seed, on any of its sat keysets, and the counter after the last one used per keyset. */
  async restoreAll(): Promise<{ proofs: StoredProof[]; next: Record<string, number> }> {
    const w = this.restorer();
    const found: StoredProof[] = [];
    const next: Record<string, number> = {};
    for (const k of this.cashu.keyChain.getKeysets()) {
      if (k.unit !== 'sat') continue;
      // Batches of RESTORE_BATCH counters until RESTORE_GAP in a row come back unsigned; each
      // batch is retried alone when its connection drops.
      for (let start = 0, last = -1; start - (last + 1) < RESTORE_GAP; start += RESTORE_BATCH) {
        const r = await retried(() => w.restore(start, RESTORE_BATCH, { keysetId: k.id }));
        found.push(...r.proofs.map(stored));
        if (r.lastCounterWithSignature !== undefined) last = r.lastCounterWithSignature;
        if (last >= 0) next[k.id] = last + 1;
      }
    }
    const live = await this.unspent(found);
    return { proofs: found.filter((_, i) => live[i]), next };
  }

  /**
   * Settles an op nobody is running any more. `retryReceive`: for a receive whose token is still
   * unspent, 'keep' leaves it for a later try (the mint may be down) — the default when recovering —
   * 'retry' swaps it now, 'drop' forgets it (the mint refused it).
   */
  async settleOp(op: PendingOp, opts: { retryReceive?: 'keep' | 'retry' | 'drop' } = {}): Promise<void> {
    if (op.kind === 'mint') {
      const q = await this.cashu.checkMintQuoteBolt11(op.quote!);
      if (q.state === MintQuoteState.ISSUED) {
        const back = await this.restoreRanges(op.ranges);
        await this.store.update((s) => {
          s.ops = s.ops.filter((o) => o.id !== op.id);
          s.quotes = s.quotes.filter((x) => x.quote !== op.quote);
          addProofs(s, back);
        });
      } else {
        // Not issued: the quote (still in `quotes`) is minted by the next recovery or top-up.
        await this.store.update((s) => void (s.ops = s.ops.filter((o) => o.id !== op.id)));
      }
      return;
    }
    const live = await this.unspent(op.inputs);
    if (live.every(Boolean)) {
      if (op.kind === 'swap') {
        await this.store.update((s) => {
          if (!s.ops.some((o) => o.id === op.id)) return;
          s.ops = s.ops.filter((o) => o.id !== op.id);
          addProofs(s, op.inputs);
        });
        return;
      }
      const mode = opts.retryReceive ?? 'keep';
      if (mode === 'keep') return;
      await this.store.update((s) => {
        s.ops = s.ops.filter((o) => o.id !== op.id);
        if (mode === 'drop' && op.paymentId) s.payments = s.payments.filter((p) => p.id !== op.paymentId);
      });
      if (mode === 'drop') {
        this.log(`the mint refused a token of ${op.inputs.reduce((n, p) => n + p.amount, 0)} sats; it is dropped`);
        return;
      }
      await this.receive(op.inputs, op.paymentId);
      return;
    }
    // The mint swapped: what it signed for us is at the op's counters.
    const back = await this.restoreRanges(op.ranges);
    await this.store.update((s) => {
      if (!s.ops.some((o) => o.id === op.id)) return;
      s.ops = s.ops.filter((o) => o.id !== op.id);
      if (op.paymentId) s.payments = s.payments.filter((p) => p.id !== op.paymentId);
      addProofs(s, back);
      if (op.kind === 'swap') addProofs(s, op.inputs.filter((_, i) => live[i]));
    });
  }

  /**
   * Swaps proofs someone gave us (change, a refund, a received token) for proofs of our own seed,
   * closing `paymentId` in the same write. Returns the sats added.
   */
  async receive(inputs: StoredProof[], paymentId?: string): Promise<number> {
    const added = await this.run(
      () => ({ kind: 'receive', inputs, ...(paymentId ? { paymentId } : {}) }),
      async (w) => ({ keep: await w.receive(asProofs(inputs)) }),
      (s, out) => {
        if (paymentId) s.payments = s.payments.filter((p) => p.id !== paymentId);
        return addProofs(s, out.keep.map(stored));
      },
    );
    return added ?? 0;
  }
}
