import assert from 'node:assert/strict';
import { binaryParts, claimDenominations, MAX_SPLIT_AMOUNT, selectExact, selectExactItems } from '../../../src/cashu/split.js';

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const popcount = (n: number): number => binaryParts(n).length;

/** Deterministic PRNG (mulberry32) so a failure is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkShape(n: number): number[] {
  const parts = claimDenominations(n);
  const m = Math.floor(Math.log2(n + 1));
  assert.equal(sum(parts), n, `sum for ${n}`);
  assert.equal(parts.length, m + popcount(n - (2 ** m - 1)), `count for ${n}`);
  for (const p of parts) assert.ok(Number.isSafeInteger(p) && p > 0 && 2 ** Math.round(Math.log2(p)) === p, `power of two: ${p}`);
  for (let k = 0; k < m; k++) assert.ok(parts.includes(2 ** k), `ladder has 2^${k} for ${n}`);
  return parts;
}

describe('cashu/split', () => {
  it('claimDenominations: small cases', () => {
    assert.deepEqual(claimDenominations(0), []);
    assert.deepEqual(claimDenominations(1), [1]);
    assert.deepEqual(claimDenominations(2), [1, 1]);
    assert.deepEqual(claimDenominations(3), [1, 2]);
    assert.deepEqual(claimDenominations(10), [1, 1, 2, 2, 4]); // m=3 → 1,2,4 + r=3 → 1,2
    assert.deepEqual(claimDenominations(100), [1, 1, 2, 4, 4, 8, 16, 32, 32]); // m=6 → 63, r=37 → 1,4,32
  });

  it('every amount 0..n is selectable exactly, for every n ≤ 2000 (exhaustive)', function () {
    this.timeout(60_000);
    for (let n = 0; n <= 2000; n++) {
      const parts = checkShape(n);
      for (let a = 0; a <= n; a++) {
        const chosen = selectExact(parts, a);
        assert.ok(chosen !== null, `n=${n} a=${a}`);
        assert.equal(sum(chosen), a);
      }
    }
  });

  it('random large n (up to 2^40): shape, and random plus edge amounts selectable', () => {
    const rand = rng(42);
    for (let i = 0; i < 300; i++) {
      const n = i === 0 ? MAX_SPLIT_AMOUNT : Math.floor(rand() * MAX_SPLIT_AMOUNT);
      const parts = checkShape(n);
      const amounts = [0, 1, n, n - 1, Math.floor(n / 2), 2 ** Math.floor(Math.log2(n + 1)) - 1];
      for (let j = 0; j < 50; j++) amounts.push(Math.floor(rand() * (n + 1)));
      for (const a of amounts.filter((x) => x >= 0 && x <= n)) {
        const chosen = selectExact(parts, a);
        assert.ok(chosen !== null, `n=${n} a=${a}`);
        assert.equal(sum(chosen), a);
      }
    }
  });

  it('selectExact takes the largest part that fits first and reports the impossible', () => {
    assert.deepEqual(selectExact([1, 2, 4, 8], 11), [8, 2, 1]);
    assert.equal(selectExact([4, 4], 3), null);
    assert.equal(selectExact([3, 2, 2], 4), null); // greedy takes 3 and is stuck (no backtracking)
    assert.deepEqual(selectExact([], 0), []);
    assert.equal(selectExact([1, 2], 4), null);
  });

  it('selectExactItems keeps items and is stable among equal amounts', () => {
    const items = [{ k: 'a', v: 2 }, { k: 'b', v: 1 }, { k: 'c', v: 2 }];
    assert.deepEqual(selectExactItems(items, 3, (x) => x.v)?.map((x) => x.k), ['a', 'b']);
  });

  it('rejects non-integers, negatives and absurd amounts', () => {
    assert.throws(() => claimDenominations(1.5), RangeError);
    assert.throws(() => claimDenominations(-1), RangeError);
    assert.throws(() => claimDenominations(MAX_SPLIT_AMOUNT + 1), RangeError);
    assert.throws(() => selectExact([1], 0.5), RangeError);
    assert.throws(() => selectExact([0], 0), RangeError);
  });
});
