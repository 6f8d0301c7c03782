// Small statistics helpers.

/** The p-th percentile (0..100) by linear interpolation between closest ranks; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function signed(n: number, digits = 2, unit = ''): string {
  if (!Number.isFinite(n)) return 'n/a';
  return `${n >= 0 ? '+' : '−'}${fmt(Math.abs(n), digits)}${unit}`;
}

export const mb = (bytes: number): number => bytes / (1024 * 1024);
