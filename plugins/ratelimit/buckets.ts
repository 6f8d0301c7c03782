/**
 * Token buckets keyed by client address: each holds up to `burst` requests and gets `perMinute`
 * back per minute. Memory is bounded: full buckets are forgotten (a new one starts full, which
 * is the same), and past `maxKeys` the stalest are dropped first.
 */
export class Buckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    private readonly burst: number,
    perMinute: number,
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one request from `key`'s bucket: 0 when allowed, else the seconds until one is back. */
  take(key: string): number {
    const now = this.now();
    const b = this.refilled(key, now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.delete(key); // re-inserted last: the map stays ordered stalest first
      this.buckets.set(key, b);
      if (this.buckets.size > this.maxKeys) this.sweep();
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
  }

  /** Forgets buckets that have refilled (and the stalest, while over maxKeys). */
  sweep(): void {
    const now = this.now();
    for (const [key] of this.buckets) if (this.refilled(key, now).tokens >= this.burst) this.buckets.delete(key);
    for (const [key] of this.buckets) {
      if (this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }

  private refilled(key: string, now: number): { tokens: number; at: number } {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) * this.perMs);
    b.at = now;
    return b;
  }
}

/** The key of a client address: IPv4 as is (also when IPv4-mapped), IPv6 by its /64 (one host's range). */
export function clientKey(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
}
