// NUT-13 counters kept in the wallet's localStorage record. A reservation is written before
// cashu-ts builds the outputs, so a counter is never used twice (the mint would refuse outputs it
// signed before), and the range is added to the journal entry of the operation running, so a tab
// that dies mid-request knows which outputs to restore.
import type { CounterRange as CashuCounterRange, CounterSource } from '@cashu/cashu-ts';
import { loadState, updateState } from './store.js';

export class StoredCounters implements CounterSource {
  /** The journal entry of the operation in progress (operations run one at a time, under the wallet lock). */
  active: string | undefined;

  constructor(private readonly mint: string) {}

  async reserve(keysetId: string, n: number): Promise<CashuCounterRange> {
    if (n === 0) return { start: loadState(this.mint).counters[keysetId] ?? 0, count: 0 };
    let start = 0;
    updateState(this.mint, (s) => {
      start = s.counters[keysetId] ?? 0;
      s.counters[keysetId] = start + n;
      const entry = s.journal.find((e) => e.id === this.active);
      if (entry) entry.ranges.push({ keysetId, start, count: n });
    });
    return { start, count: n };
  }

  async reserveAt(keysetId: string, start: number, count: number): Promise<CashuCounterRange> {
    const next = loadState(this.mint).counters[keysetId] ?? 0;
    if (start < next) throw new Error(`counter ${start} of keyset ${keysetId} was already used`);
    await this.advanceToAtLeast(keysetId, start);
    return this.reserve(keysetId, count);
  }

  async advanceToAtLeast(keysetId: string, minNext: number): Promise<void> {
    updateState(this.mint, (s) => {
      if ((s.counters[keysetId] ?? 0) < minNext) s.counters[keysetId] = minNext;
    });
  }

  async snapshot(): Promise<Record<string, number>> {
    return { ...loadState(this.mint).counters };
  }

  async setNext(keysetId: string, next: number): Promise<void> {
    updateState(this.mint, (s) => (s.counters[keysetId] = next));
  }
}
