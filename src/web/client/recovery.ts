// Bringing sats back: operations a tab did not see finish (the journal), and a whole wallet from
// its recovery words (NUT-09 restore of every counter, NUT-07 to keep only unspent proofs).
import { CheckStateEnum, type Proof, type Wallet } from '@cashu/cashu-ts';
import { withWalletLock } from './lock.js';
import { addNew, plainAll, without } from './proofs.js';
import { replaceWords } from './seed.js';
import { loadState, sumProofs, updateState, type JournalEntry, type StoredProof } from './store.js';
import type { BrowserWallet } from './wallet.js';

/** How many counters a restore asks about per request, and how many unused ones in a row end it. */
const RESTORE_BATCH = 100;
const RESTORE_GAP = 200;

async function unspent(w: Wallet, proofs: Proof[]): Promise<Proof[]> {
  if (proofs.length === 0) return [];
  const states = await w.checkProofsStates(proofs);
  return proofs.filter((_, i) => states[i]?.state === CheckStateEnum.UNSPENT);
}

/** What became of one journaled operation; null while it cannot be known yet (a payment in flight). */
async function settleEntry(w: Wallet, e: JournalEntry): Promise<{ spent: StoredProof[]; back: StoredProof[]; outputs: StoredProof[]; happened: boolean } | null> {
  const restored: Proof[] = [];
  for (const r of e.ranges) restored.push(...(await w.restore(r.start, r.count, { keysetId: r.keysetId })).proofs);
  const states = e.inputs.length > 0 ? await w.checkProofsStates(e.inputs) : [];
  if (states.some((s) => s.state === CheckStateEnum.PENDING)) return null;
  const spent = e.inputs.filter((_, i) => states[i]?.state === CheckStateEnum.SPENT);
  // Own inputs that are still unspent go back into the balance (a melt takes them out while it pays).
  const back = e.kind === 'swap' || e.kind === 'melt' ? e.inputs.filter((_, i) => states[i]?.state === CheckStateEnum.UNSPENT) : [];
  return { spent, back, outputs: plainAll(await unspent(w, restored)), happened: restored.length > 0 || spent.length > 0 };
}

/**
 * Finishes every journaled operation (call under the wallet lock): outputs the mint signed are
 * restored, inputs it spent leave the balance, own inputs it did not spend stay or come back. A
 * pasted token whose swap never happened is received again. Returns the sats it added.
 */
export async function recoverJournal(wallet: BrowserWallet): Promise<number> {
  const entries = loadState(wallet.mint).journal;
  if (entries.length === 0) return 0;
  const w = await wallet.cashu();
  let added = 0;
  for (const e of entries) {
    const r = await settleEntry(w, e);
    if (!r) continue;
    updateState(wallet.mint, (s) => {
      const before = sumProofs(s.proofs);
      s.proofs = without(s.proofs, r.spent);
      addNew(s.proofs, [...r.back, ...r.outputs]);
      added += Math.max(0, sumProofs(s.proofs) - before);
      if (e.kind === 'mint' && r.happened) s.quotes = s.quotes.filter((q) => q.quote !== e.quote);
      if (e.kind === 'receive' && e.paymentId && r.happened) s.payments = s.payments.filter((p) => p.id !== e.paymentId);
      s.journal = s.journal.filter((x) => x.id !== e.id);
    });
    if (e.kind === 'receive' && !r.happened && !e.paymentId && e.token) added += await wallet.receiveToken(e.token);
  }
  return added;
}

/**
 * Rebuilds an empty wallet from recovery words: they become this browser's words, every keyset
 * of the mint is scanned from counter 0 (NUT-09), the unspent proofs are the balance, and the
 * counters continue after the last one the mint signed. Returns the sats found.
 */
export function restoreFromWords(wallet: BrowserWallet, words: string): Promise<number> {
  return withWalletLock(async () => {
    const s = loadState(wallet.mint);
    if (s.proofs.length > 0 || s.payments.length > 0 || s.journal.length > 0) throw new Error('restore works on an empty wallet: withdraw first');
    replaceWords(words);
    wallet.forgetCashuWallet();
    const w = await wallet.cashu();
    const found: Proof[] = [];
    const counters: Record<string, number> = {};
    for (const k of w.keyChain.getKeysets()) {
      const { proofs, lastCounterWithSignature } = await w.batchRestore(RESTORE_GAP, RESTORE_BATCH, 0, k.id);
      found.push(...proofs);
      if (lastCounterWithSignature !== undefined) counters[k.id] = lastCounterWithSignature + 1;
    }
    const proofs = plainAll(await unspent(w, found));
    updateState(wallet.mint, (st) => {
      for (const [id, next] of Object.entries(counters)) st.counters[id] = Math.max(st.counters[id] ?? 0, next);
      addNew(st.proofs, proofs);
    });
    return sumProofs(proofs);
  });
}
