// Blindings (secret, r, B_) made ahead of time, so a claim does not pay ~2 ms of CPU per output
// on the request path. A blinding does not depend on the mint, keyset or amount, so one pool
// serves every claim.
//
// MUST hold: a blinding is handed out at most once (take() removes it) and is never put back
// once it may have been written to the store or sent — not even when the claim that took it
// fails. Only blindings that provably went nowhere come back (putBack: outputs made before a
// transaction that then stored nothing). Pooled blindings live only in this process's memory;
// losing them (crash, close) loses nothing, they were never sent.

import { createBlinding, type Blinding } from './bdhke.js';

export class BlindingPool {
  private readonly items: Blinding[] = [];

  /** target: how many blindings refill() keeps ready. */
  constructor(readonly target: number) {}

  get size(): number {
    return this.items.length;
  }

  /** n blindings: pooled ones first, the rest made now (synchronously). */
  take(n: number): Blinding[] {
    const out = this.items.splice(0, Math.min(n, this.items.length));
    while (out.length < n) out.push(createBlinding());
    return out;
  }

  /** Blindings taken but never stored nor sent (see the file header); the pool stays ≤ target. */
  putBack(blindings: readonly Blinding[]): void {
    for (const b of blindings) if (this.items.length < this.target) this.items.push(b);
  }

  /** Makes one blinding if below target; false when there was nothing to do. */
  refillOne(): boolean {
    if (this.items.length >= this.target) return false;
    this.items.push(createBlinding());
    return true;
  }

  /** Forgets every pooled blinding. */
  clear(): void {
    this.items.length = 0;
  }
}
