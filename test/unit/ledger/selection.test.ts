import assert from 'node:assert/strict';
import { selectCovering, selectExactProofs, selectExactWithFee } from '../../../src/cashu/spend.js';

// How withdrawals choose which held proofs to spend (src/cashu/spend.ts).

const rows = (...amounts: number[]) => amounts.map((amount, i) => ({ amount, secret: `s${i}` }));
const sum = (r: readonly { amount: number }[] | null) => (r ?? []).reduce((s, x) => s + x.amount, 0);
const amountOf = (r: { amount: number }) => r.amount;

describe('ledger: selecting held proofs for a withdrawal', () => {
  it('finds an exact subset of powers of two whenever one exists (exhaustive on small multisets)', () => {
    const powers = [1, 2, 4, 8, 16];
    // every multiset with up to 2 of each power
    const counts = (n: number) => powers.map((_, i) => Math.floor(n / 3 ** i) % 3);
    for (let n = 0; n < 3 ** powers.length; n++) {
      const c = counts(n);
      const held = rows(...powers.flatMap((p, i) => Array<number>(c[i]!).fill(p)));
      const reachable = new Set<number>([0]);
      for (const r of held) for (const s of [...reachable]) reachable.add(s + r.amount);
      for (let target = 1; target <= sum(held); target++) {
        const got = selectExactProofs(held, target);
        assert.equal(got !== null, reachable.has(target), `${JSON.stringify(c)} → ${target}`);
        if (got) assert.equal(sum(got), target);
      }
    }
  });

  it('an exact subset with its own input fee: the mint then accepts it as paying the base', () => {
    const held = rows(16, 8, 4, 2, 1);
    const feeOf = (c: readonly unknown[]) => Math.ceil((c.length * 400) / 1000); // 0.4 sat per input
    const s = selectExactWithFee(held, 12, feeOf)!;
    assert.equal(sum(s), 12 + feeOf(s));
    assert.equal(selectExactWithFee(rows(16), 12, feeOf), null);
    assert.deepEqual(selectExactWithFee(held, 12, () => 0)!.map((r) => r.amount), [8, 4]);
  });

  it('covers an amount plus the fee of the inputs: one proof when one suffices, else the largest first', () => {
    const held = rows(1, 1, 4, 8, 16);
    assert.deepEqual(selectCovering(held, 27, amountOf, () => 0)!.map((r) => r.amount), [16, 8, 4]);
    assert.deepEqual(selectCovering(held, 5, amountOf, () => 0)!.map((r) => r.amount), [8], 'the smallest single proof that covers');
    assert.deepEqual(selectCovering(held, 8, amountOf, () => 1)!.map((r) => r.amount), [16], '8 + a fee of 1 needs more than the 8');
    assert.equal(selectCovering(held, 30, amountOf, () => 1), null, 'all of it does not cover 30 + a fee');
    assert.equal(sum(selectCovering(held, 30, amountOf, () => 0)), 30);
  });
});
