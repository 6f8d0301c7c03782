// Proofs as the page stores them (plain numbers) and as cashu-ts wants them (Amount objects).
import { Amount, type Proof, type ProofLike } from '@cashu/cashu-ts';
import { sumProofs, type StoredProof } from './store.js';

export function plain(p: ProofLike): StoredProof {
  const out: StoredProof = { id: p.id, amount: Amount.from(p.amount).toNumber(), secret: p.secret, C: p.C };
  if (p.dleq) out.dleq = { e: p.dleq.e, s: p.dleq.s, ...(p.dleq.r ? { r: p.dleq.r } : {}) };
  if (p.witness !== undefined) out.witness = p.witness;
  return out;
}

export function plainAll(ps: ProofLike[]): StoredProof[] {
  return ps.map(plain);
}

export function asProofs(ps: StoredProof[]): Proof[] {
  return ps.map((p) => ({ ...p, amount: Amount.from(p.amount) }) as Proof);
}

export function total(ps: ProofLike[]): number {
  return sumProofs(plainAll(ps));
}

/** Adds proofs to a list, skipping any whose secret is already there. */
export function addNew(list: StoredProof[], more: StoredProof[]): void {
  const have = new Set(list.map((p) => p.secret));
  for (const p of more) if (!have.has(p.secret)) (have.add(p.secret), list.push(p));
}

/** Removes the proofs with these secrets from a list. */
export function without(list: StoredProof[], gone: Iterable<{ secret: string }>): StoredProof[] {
  const secrets = new Set([...gone].map((p) => p.secret));
  return list.filter((p) => !secrets.has(p.secret));
}

/** The fewest proofs for their sum: one per set bit, i.e. no two of the same amount. */
export function fewestProofs(ps: { amount: number }[]): boolean {
  return new Set(ps.map((p) => p.amount)).size === ps.length;
}
