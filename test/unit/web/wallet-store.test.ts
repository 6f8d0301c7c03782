import assert from 'node:assert/strict';
import { StoredCounters } from '../../../src/web/client/counters.js';
import { addNew, fewestProofs, without } from '../../../src/web/client/proofs.js';
import { normalizeWords, validWords } from '../../../src/web/client/seed.js';
import { loadState, updateState } from '../../../src/web/client/store.js';

// The chat page wallet's pure parts, in Node (localStorage is a Map here).

class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, v);
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
}

const MINT = 'http://127.0.0.1:3338';
const p = (amount: number, secret: string) => ({ id: '00ad', amount, secret, C: '02' });

describe('chat page wallet store (src/web/client)', () => {
  before(() => {
    (globalThis as { localStorage?: unknown }).localStorage = new MemoryStorage();
  });
  after(() => {
    delete (globalThis as { localStorage?: unknown }).localStorage;
  });

  it('counters: reserved ranges never overlap, persist, and are written into the running journal entry', async () => {
    const c = new StoredCounters(MINT);
    updateState(MINT, (s) => s.journal.push({ id: 'op', kind: 'swap', inputs: [], ranges: [], createdAt: 0 }));
    assert.deepEqual(await c.reserve('k1', 3), { start: 0, count: 3 }); // not journaled: no operation is running
    c.active = 'op';
    assert.deepEqual(await c.reserve('k1', 2), { start: 3, count: 2 });
    assert.deepEqual(await c.reserve('k1', 0), { start: 5, count: 0 }, 'a peek changes nothing');
    c.active = undefined;
    assert.deepEqual(loadState(MINT).journal[0]?.ranges, [{ keysetId: 'k1', start: 3, count: 2 }]);
    assert.deepEqual(await new StoredCounters(MINT).snapshot(), { k1: 5 }, 'another tab sees the same counters');
    await c.advanceToAtLeast('k1', 4);
    assert.equal((await c.snapshot()).k1, 5, 'counters never go back');
    await assert.rejects(c.reserveAt('k1', 2, 1), /already used/);
    assert.deepEqual(await c.reserveAt('k1', 9, 2), { start: 9, count: 2 });
  });

  it('fewest proofs: no two of one amount', () => {
    assert.equal(fewestProofs([p(1, 'a'), p(4, 'b'), p(16, 'c')]), true);
    assert.equal(fewestProofs([p(4, 'a'), p(4, 'b')]), false);
  });

  it('adds proofs once, removes by secret', () => {
    const list = [p(1, 'a'), p(2, 'b')];
    addNew(list, [p(2, 'b'), p(8, 'c')]);
    assert.deepEqual(list.map((x) => x.secret), ['a', 'b', 'c']);
    assert.deepEqual(without(list, [{ secret: 'b' }]).map((x) => x.secret), ['a', 'c']);
  });

  it('recovery words: 12 or 24 English words with a valid checksum, any case and spacing', () => {
    const words = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
    assert.equal(validWords(`  ${words.toUpperCase().replace(/ /g, '\n ')} `), true);
    assert.equal(normalizeWords(' A  b\nC '), 'a b c');
    assert.equal(validWords(words.replace(/about$/, 'abandon')), false, 'bad checksum');
    assert.equal(validWords(words.split(' ').slice(0, 11).join(' ')), false);
  });
});
