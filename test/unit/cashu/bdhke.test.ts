// The wallet's own unblinding and DLEQ check against cashu-ts (the reference), without a mint.
import assert from 'node:assert/strict';
import { Amount, OutputData, createBlindSignature, createDLEQProof, createRandomSecretKey, hashToCurve, pointFromHex } from '@cashu/cashu-ts';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { BackgroundRunner } from '../../../src/cashu/background.js';
import { createBlinding, InvalidSignatureError, keyPoint, unblindSignature, type Blinding, type SignedOutput } from '../../../src/cashu/bdhke.js';
import { BlindingPool } from '../../../src/cashu/pool.js';

const G = secp256k1.Point.BASE;
const KEYSET = '00ad268c4d1f5826';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface MintKey { k: Uint8Array; K: string }
const mintKey = (): MintKey => {
  const k = createRandomSecretKey();
  return { k, K: G.multiply(secp256k1.Point.Fn.fromBytes(k)).toHex(true) };
};

/** What a mint answers for a blinded output: C_ = k·B_ and its NUT-12 proof. */
function sign(b: Blinding, key: MintKey): { C_: string; dleq: { e: string; s: string } } {
  const B_ = pointFromHex(b.B_);
  const d = createDLEQProof(B_, key.k);
  return { C_: createBlindSignature(B_, key.k, KEYSET).C_.toHex(true), dleq: { e: hex(d.e), s: hex(d.s) } };
}

function signed(b: Blinding, amount: number, key: MintKey, sig = sign(b, key)): SignedOutput {
  return { keysetId: KEYSET, amount, secret: b.secret, r: b.r, B_: b.B_, C_: sig.C_, dleq: sig.dleq, K: key.K };
}

/** cashu-ts OutputData.toProof for the same output: the reference result. */
function reference(o: SignedOutput) {
  const data = new OutputData({ amount: Amount.from(o.amount), id: o.keysetId, B_: o.B_ }, BigInt('0x' + o.r), new TextEncoder().encode(o.secret));
  const p = data.toProof({ id: o.keysetId, amount: Amount.from(o.amount), C_: o.C_, ...(o.dleq && { dleq: { e: o.dleq.e, s: o.dleq.s } }) }, { id: o.keysetId, keys: { [String(o.amount)]: o.K } });
  return { id: p.id, amount: Number(p.amount), secret: p.secret, C: p.C, ...(p.dleq && { dleq: { e: p.dleq.e, s: p.dleq.s, r: p.dleq.r } }) };
}

describe('cashu/bdhke', () => {
  it('a blinding is B_ = hash_to_curve(secret) + r·G with a fresh 32-byte hex secret', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const b = createBlinding();
      assert.match(b.secret, /^[0-9a-f]{64}$/);
      assert.match(b.r, /^[0-9a-f]{64}$/);
      const expected = hashToCurve(new TextEncoder().encode(b.secret)).add(G.multiply(BigInt('0x' + b.r)));
      assert.equal(b.B_, expected.toHex(true));
      assert.ok(!seen.has(b.secret));
      seen.add(b.secret);
    }
  });

  it('unblindSignature equals cashu-ts toProof (with and without DLEQ), and C = k·Y', () => {
    const keys = [mintKey(), mintKey()];
    for (let i = 0; i < 6; i++) {
      const key = keys[i % 2]!;
      const o = signed(createBlinding(), 2 ** i, key);
      const mine = unblindSignature(o);
      assert.deepEqual(mine, reference(o));
      const Y = hashToCurve(new TextEncoder().encode(o.secret));
      assert.equal(mine.C, Y.multiply(secp256k1.Point.Fn.fromBytes(key.k)).toHex(true));
      const bare = { ...o, dleq: null };
      assert.deepEqual(unblindSignature(bare), reference({ ...o, dleq: undefined }));
    }
  });

  it('a signature that does not verify is refused: wrong C_, wrong key, tampered e or s, malformed', () => {
    const key = mintKey();
    const b = createBlinding();
    const good = signed(b, 8, key);
    const other = signed(createBlinding(), 8, key); // a valid signature, of another output
    const flip = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
    const bad: Array<[string, SignedOutput]> = [
      ['C_ of another output', { ...good, C_: other.C_ }],
      ['C_ signed with another key', { ...good, C_: sign(b, mintKey()).C_ }],
      ['DLEQ of another output', { ...good, dleq: other.dleq }],
      ['e tampered', { ...good, dleq: { ...good.dleq!, e: flip(good.dleq!.e) } }],
      ['s tampered', { ...good, dleq: { ...good.dleq!, s: flip(good.dleq!.s) } }],
      ['K of another mint', { ...good, K: mintKey().K }],
      ['C_ not a point', { ...good, C_: '02' + 'ff'.repeat(32) }],
      ['C_ malformed', { ...good, C_: 'zz' }],
      ['e malformed', { ...good, dleq: { e: 'abc', s: good.dleq!.s } }],
      ['s ≥ n', { ...good, dleq: { e: good.dleq!.e, s: 'ff'.repeat(32) } }],
    ];
    for (const [what, o] of bad) {
      assert.throws(() => unblindSignature(o), InvalidSignatureError, what);
      // the reference agrees that each of these is bad
      assert.throws(() => reference(o), what);
    }
    assert.deepEqual(unblindSignature(good), reference(good));
  });

  it('keyPoint caches one decompressed point per key', () => {
    const { K } = mintKey();
    assert.equal(keyPoint(K), keyPoint(K.toUpperCase()));
    assert.equal(keyPoint(K).toHex(true), K);
    assert.throws(() => keyPoint('04' + 'aa'.repeat(32)));
  });
});

describe('cashu/pool', () => {
  it('hands each blinding out once and refills to its target', () => {
    const pool = new BlindingPool(4);
    assert.equal(pool.size, 0);
    let made = 0;
    while (pool.refillOne()) made++;
    assert.equal(made, 4);
    assert.equal(pool.size, 4);
    const a = pool.take(3);
    assert.equal(pool.size, 1);
    const b = pool.take(3); // 1 pooled + 2 made on the spot
    assert.equal(pool.size, 0);
    const all = [...a, ...b].map((x) => x.secret);
    assert.equal(new Set(all).size, 6, 'never the same blinding twice');
    assert.equal(new Set([...a, ...b].map((x) => x.B_)).size, 6);
    pool.refillOne();
    pool.clear();
    assert.equal(pool.size, 0);
  });
});

describe('cashu/background', () => {
  it('runs tasks in turns, one step per event-loop turn, until idle; stop() ends it', async () => {
    const log: string[] = [];
    let a = 3;
    let b = 2;
    const runner = new BackgroundRunner([() => (a > 0 ? (log.push(`a${a--}`), true) : false), async () => (b > 0 ? (log.push(`b${b--}`), true) : false)], () => undefined);
    runner.kick();
    assert.deepEqual(log, [], 'nothing runs synchronously');
    await runner.idle();
    assert.deepEqual(log, ['a3', 'b2', 'a2', 'b1', 'a1']);
    let c = 100;
    const stopping = new BackgroundRunner([() => (c-- > 0)], () => undefined);
    stopping.kick();
    await new Promise((r) => setImmediate(r));
    stopping.stop();
    await stopping.idle();
    const left = c;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(c, left, 'no step after stop()');
    assert.ok(c > 50);
  });

  it('a failing step is reported and not retried in a loop', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const runner = new BackgroundRunner([() => { calls++; throw new Error('boom'); }], (e) => errors.push(e));
    runner.kick();
    await runner.idle();
    assert.equal(calls, 1);
    assert.equal(errors.length, 1);
  });
});
