// Turns 'signed' outputs (the claim stored the mint's blind signatures) into 'held' proofs, off
// the request path: in the background, one output per step; before a job's settle transaction
// (prepareJob: the CPU outside it, so the transaction only writes rows); on demand inside
// takeProofs for whatever is left; and for outputs a stopped process left signed, from recoverPending.
//
// MUST hold (see holdings.ts): an output moves 'signed' → 'done' in the same transaction that
// inserts its proof, only if it is still 'signed' (exactly once, whoever gets there first); a
// signature that fails its checks moves it to 'invalid' and is reported (log + hook), and its
// sats are missing: such a proof is never stored, so never handed out as change. Unexpected
// errors (not a bad signature) leave the output 'signed' for a later attempt.

import type { Db, SqlExecutor } from '../store/db.js';
import { InvalidSignatureError, unblindSignature, type SignedOutput } from './bdhke.js';
import type { Holdings, SignedOutputRow } from './holdings.js';
import { signedOutputOfRow } from './outputs.js';
import type { WalletLogger, WalletProof } from './types.js';

/** An output to unblind, with where its proof goes. */
export interface UnblindItem extends SignedOutput {
  readonly jobId: string;
  readonly mint: string;
}

interface Result {
  readonly item: UnblindItem;
  /** null: the signature is invalid */
  readonly proof: WalletProof | null;
  readonly reason?: string;
}

/** Outputs stored per background transaction. */
const FLUSH_BATCH = 32;

export type InvalidSignatureHook = (jobId: string, sats: number) => void;

export function itemOfRow(row: SignedOutputRow): UnblindItem {
  return { ...signedOutputOfRow(row), jobId: row.job_id, mint: row.mint };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Unblinder {
  /** B_ → output waiting for the background. */
  private readonly queue = new Map<string, UnblindItem>();
  private ready: Result[] = [];

  constructor(
    private readonly db: Db,
    private readonly holdings: Holdings,
    private readonly log: WalletLogger,
    private readonly onInvalid: InvalidSignatureHook,
  ) {}

  get queued(): number {
    return this.queue.size + this.ready.length;
  }

  has(b_: string): boolean {
    return this.queue.has(b_) || this.ready.some((r) => r.item.B_ === b_);
  }

  enqueue(items: readonly UnblindItem[]): void {
    for (const it of items) this.queue.set(it.B_, it);
  }

  /** Drops everything queued (the outputs stay 'signed' in the store). */
  clear(): void {
    this.queue.clear();
    this.ready = [];
  }

  /**
   * Background step: unblinds one queued output; stores the results in one transaction when the
   * queue is empty or FLUSH_BATCH are ready. False when there was nothing to do.
   */
  async step(): Promise<boolean> {
    const first = this.queue.entries().next();
    if (!first.done) {
      const [b_, item] = first.value;
      this.queue.delete(b_);
      const r = this.compute(item);
      if (r) this.ready.push(r);
      if (this.queue.size > 0 && this.ready.length < FLUSH_BATCH) return true;
    }
    if (this.ready.length === 0) return !first.done;
    const batch = this.ready;
    this.ready = [];
    try {
      const invalid = await this.db.tx((sql) => this.store(sql, batch));
      this.report(invalid);
    } catch (err) {
      // Still 'signed' in the store: takeProofs or the next recoverPending finishes them.
      this.log.warn?.({ outputs: batch.length, err: errMsg(err) }, 'wallet: storing unblinded proofs failed, outputs stay signed');
    }
    return true;
  }

  /**
   * Outside any transaction, before the job's settle: unblinds (CPU only) the job's outputs
   * still queued in this process, one per event-loop turn, and keeps the results for
   * finishJob() (or the background's next store), which then only writes rows. Stores nothing:
   * the outputs stay 'signed' (held) until a transaction stores their proofs, as before.
   */
  async prepareJob(jobId: string): Promise<void> {
    let first = true;
    for (const item of [...this.queue.values()]) {
      if (item.jobId !== jobId) continue;
      if (!first) await nextTurn();
      first = false;
      if (!this.queue.delete(item.B_)) continue; // taken meanwhile by the background or finishJob
      const r = this.compute(item);
      if (r) this.ready.push(r);
    }
  }

  /**
   * Inside the caller's transaction: every output of `jobId` still 'signed' becomes a held proof
   * (or 'invalid'). CPU only besides the caller's own statements; yields to the event loop
   * between outputs. The caller's transaction may roll back: the outputs then stay 'signed'.
   */
  async finishJob(sql: SqlExecutor, jobId: string): Promise<void> {
    const rows = await this.holdings.signedOutputs(sql, { jobId });
    if (rows.length === 0) return;
    const results: Result[] = [];
    const todo: SignedOutputRow[] = [];
    for (const row of rows) {
      this.queue.delete(row.b_); // done here from now on
      const i = this.ready.findIndex((r) => r.item.B_ === row.b_);
      if (i >= 0) results.push(...this.ready.splice(i, 1)); // already computed by the background
      else todo.push(row);
    }
    for (const [i, row] of todo.entries()) {
      if (i > 0) await nextTurn();
      const r = this.compute(itemOfRow(row));
      if (r) results.push(r);
    }
    // Reported before the caller commits: may count twice if the caller's tx is retried.
    this.report(await this.store(sql, results));
  }

  /** Unblinds stored 'signed' outputs (e.g. left by a stopped process), FLUSH_BATCH per transaction. */
  async finishStored(rows: readonly SignedOutputRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += FLUSH_BATCH) {
      const results: Result[] = [];
      for (const row of rows.slice(i, i + FLUSH_BATCH)) {
        await nextTurn();
        const r = this.compute(itemOfRow(row));
        if (r) results.push(r);
      }
      this.report(await this.db.tx((sql) => this.store(sql, results)));
    }
  }

  /** The proof, or null for a bad signature; undefined (logged) on any other error. */
  private compute(item: UnblindItem): Result | undefined {
    try {
      return { item, proof: unblindSignature(item) };
    } catch (err) {
      if (err instanceof InvalidSignatureError) return { item, proof: null, reason: err.message };
      this.log.error?.({ jobId: item.jobId, amount: item.amount, err: errMsg(err) }, 'wallet: could not unblind a signed output, left signed');
      return undefined;
    }
  }

  /** Stores results (the proofs in three statements at most); returns the invalid ones this call moved. */
  private async store(sql: SqlExecutor, results: readonly Result[]): Promise<Result[]> {
    const items = new Map(results.map((r) => [r.item.B_, r.item]));
    const proofs = results.flatMap((r) => (r.proof ? [{ b_: r.item.B_, proof: r.proof }] : []));
    await this.holdings.storeUnblinded(sql, (b_) => items.get(b_)!, proofs);
    const invalid: Result[] = [];
    for (const r of results) {
      if (!r.proof && (await this.holdings.moveOutput(sql, r.item.B_, ['signed'], 'invalid'))) invalid.push(r);
    }
    return invalid;
  }

  private report(invalid: readonly Result[]): void {
    for (const r of invalid) {
      this.log.error?.({ jobId: r.item.jobId, mint: r.item.mint, amount: r.item.amount, reason: r.reason },
        'wallet: THE MINT RETURNED AN INVALID SIGNATURE — output marked invalid, its sats are missing');
      this.onInvalid(r.item.jobId, r.item.amount);
    }
  }
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
