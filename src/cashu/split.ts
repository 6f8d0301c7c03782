// Denominations for a claim, and exact selection of change from them. Integers only.
//
// Contract: for every n ≥ 0 and every 0 ≤ a ≤ n, selectExact(claimDenominations(n), a) succeeds.
// Proof: every part p of claimDenominations(n) is a power of two 2^k ≤ 2^(m−1), and the ladder
// alone holds 1..2^(k−1), so the parts strictly smaller than p sum to ≥ p − 1. Greedy keeps
// "rest ≤ sum of the parts not yet looked at": taking p keeps it; skipping p means rest < p, so
// rest ≤ p − 1 ≤ the strictly smaller parts. It ends with rest = 0. (Checked exhaustively for
// n ≤ 2000 and for random large n in test/unit/cashu/split.test.ts.)

/** Largest amount the gateway ever splits (2^40 sats, ~11,000 BTC); keeps every sum a safe integer. */
export const MAX_SPLIT_AMOUNT = 2 ** 40;

function assertAmount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_SPLIT_AMOUNT) {
    throw new RangeError(`${what} must be an integer in 0..2^40, got ${n}`);
  }
}

/** Powers of two whose sum is n, ascending (the binary digits of n). */
export function binaryParts(n: number): number[] {
  assertAmount(n, 'amount');
  const out: number[] = [];
  for (let bit = 1, rest = n; rest > 0; bit *= 2) {
    if (rest % (bit * 2) !== 0) {
      out.push(bit);
      rest -= bit;
    }
  }
  return out;
}

/**
 * The outputs of a claim of n sats: the full ladder 1,2,4,…,2^(m−1) with m = floor(log2(n+1)),
 * then the remainder r = n − (2^m − 1) in powers of two. m + popcount(r) parts, summing to n,
 * ascending. n = 0 → [].
 */
export function claimDenominations(n: number): number[] {
  assertAmount(n, 'amount');
  const ladder: number[] = [];
  let ladderSum = 0;
  // Grow the ladder while the next power still fits: ends with ladderSum = 2^m − 1 ≤ n.
  for (let p = 1; ladderSum + p <= n; p *= 2) {
    ladder.push(p);
    ladderSum += p;
  }
  return [...ladder, ...binaryParts(n - ladderSum)].sort((a, b) => a - b);
}

/**
 * Items whose amounts sum to exactly `amount`, chosen greedily: the largest amount that still
 * fits, repeatedly. Returns null when greedy cannot hit the amount (never for claimDenominations).
 * Stable: among equal amounts, earlier items are taken first.
 */
export function selectExactItems<T>(items: readonly T[], amount: number, amountOf: (item: T) => number): T[] | null {
  assertAmount(amount, 'amount');
  const order = items.map((item, i) => ({ item, i, a: amountOf(item) }));
  for (const o of order) {
    if (!Number.isSafeInteger(o.a) || o.a <= 0) throw new RangeError(`part amounts must be positive integers, got ${o.a}`);
  }
  order.sort((x, y) => y.a - x.a || x.i - y.i);
  // One pass over the parts, largest first, is the same as "take the largest that fits, repeat":
  // the remainder only shrinks, so a part skipped once never fits later.
  const chosen: T[] = [];
  let rest = amount;
  for (const o of order) {
    if (rest === 0) break;
    if (o.a <= rest) {
      chosen.push(o.item);
      rest -= o.a;
    }
  }
  return rest === 0 ? chosen : null;
}

/** Parts (amounts) summing to exactly `amount`; null when impossible greedily. */
export function selectExact(parts: readonly number[], amount: number): number[] | null {
  return selectExactItems(parts, amount, (p) => p);
}
