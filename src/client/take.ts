// Taking a token of an exact amount out of the balance: the proofs for a payment or a send.
import type { Proof } from '@cashu/cashu-ts';
import { WalletError } from './errors.js';
import { inUse } from './live.js';
import { addProofs, asProofs, stored, type MintSession } from './mint-ops.js';
import { sumOf, type StoredProof, type WalletState, type WalletStore } from './state.js';

/** Records where the taken proofs go, in the same write that takes them. */
export type Place = (s: WalletState, proofs: StoredProof[]) => void;

/**
 * Takes a token of exactly `sats` (plus the mint's input fee for whoever spends it) out of the
 * balance: an exact subset when one exists, else ONE swap. `place` records where the proofs go,
 * in the same write that takes them.
 */
export async function takeExact(store: WalletStore, session: MintSession, sats: number, place: Place): Promise<StoredProof[]> {
  // Proofs inside a running swap come back in a moment (as change): wait for them rather than fail.
  for (const deadline = Date.now() + 60_000; ; ) {
    try {
      return await takeNow(store, session, sats, place);
    } catch (err) {
      if (!(err instanceof FundsInFlight) || Date.now() > deadline) throw err instanceof FundsInFlight ? err.insufficient : err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

async function takeNow(store: WalletStore, session: MintSession, sats: number, place: Place): Promise<StoredProof[]> {
  const cashu = session.cashu;
  const remove = (s: WalletState, ps: readonly Proof[] | readonly StoredProof[]) => {
    const gone = new Set(ps.map((p) => p.secret));
    s.proofs = s.proofs.filter((p) => !gone.has(p.secret));
  };
  const exact = await store.update((s) => {
    let sel: Proof[] = [];
    try {
      sel = cashu.selectProofsToSend(asProofs(s.proofs), sats, true, true).send;
    } catch {
      sel = [];
    }
    if (sel.length === 0) return undefined;
    const ps = sel.map(stored);
    remove(s, ps);
    place(s, ps);
    return ps;
  });
  if (exact) return exact;
  const out = await session.run(
    (s) => {
      const have = sumOf(s.proofs);
      let inputs: Proof[] = [];
      try {
        inputs = cashu.selectProofsToSend(asProofs(s.proofs), sats, true, false).send;
      } catch {
        inputs = [];
      }
      if (inputs.length === 0) {
        const insufficient = new WalletError('insufficient_balance', `not enough sats: ${sats} needed (plus mint fees), ${have} in the wallet`);
        const moving = sumOf(s.ops.filter((o) => o.kind !== 'mint' && inUse(o)).flatMap((o) => o.inputs));
        throw have + moving >= sats ? new FundsInFlight(insufficient) : insufficient;
      }
      remove(s, inputs);
      return { kind: 'swap', inputs: inputs.map(stored) };
    },
    async (w, op) => {
      const r = await w.send(sats, asProofs(op.inputs), { includeFees: true });
      return { keep: r.keep, send: r.send };
    },
    (s, r) => {
      addProofs(s, r.keep.map(stored));
      const ps = (r.send ?? []).map(stored);
      place(s, ps);
      return ps;
    },
  );
  return out!;
}

/** Not enough spendable now, but enough once the swaps under way are done. */
class FundsInFlight extends Error {
  constructor(readonly insufficient: WalletError) {
    super(insufficient.message);
  }
}
