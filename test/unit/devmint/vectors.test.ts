// Official NUT test vectors (copied to test/fixtures/nuts/*.json; each file names its source in
// cashubtc/nuts) checked against the development mint's keys and primitives.
import assert from 'node:assert/strict';
import {
  blindMessage,
  deriveKeysetId,
  getDecodedToken,
  getDecodedTokenBinary,
  getEncodedToken,
  getPubKeyFromPrivKey,
  hash_e,
  hasValidDleq,
  pointFromHex,
  verifyDLEQProof,
  type Proof,
  type Token,
} from '@cashu/cashu-ts';
import { hashToCurveHex, parsePoint, signBlinded } from '../../../src/devmint/crypto.js';
import { deriveKeyset } from '../../../src/devmint/keys.js';
import { encodeTokenV3 } from '../../../src/devmint/tokens.js';
import { fixture } from './helpers.js';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
/** A decoded cashu-ts token as plain JSON (Amount → number) for comparisons. */
const plain = (t: Token): unknown => JSON.parse(JSON.stringify({ ...t, proofs: t.proofs.map((p) => ({ ...p, amount: Number(String(p.amount)) })) }));

describe('devmint: NUT-00 vectors', () => {
  const v = fixture('nut00.json');

  it('hash_to_curve', () => {
    for (const t of v.hash_to_curve) assert.equal(hashToCurveHex(hex(t.message)), t.point);
  });

  it('blinded messages B_ = Y + rG', () => {
    for (const t of v.blinded_messages) assert.equal(blindMessage(hex(t.x), BigInt(`0x${t.r}`)).B_.toHex(true), t.B_);
  });

  it('blinded signatures C_ = kB_ (the mint signing path), with a DLEQ proof that verifies', () => {
    for (const t of v.blinded_signatures) {
      const B_ = parsePoint(t.B_);
      assert.ok(B_);
      const sig = signBlinded(B_, hex(t.k), '00882760bfa2eb41', 1);
      assert.equal(sig.C_, t.C_);
      const A = pointFromHex(Buffer.from(getPubKeyFromPrivKey(hex(t.k))).toString('hex'));
      assert.equal(verifyDLEQProof({ e: hex(sig.dleq.e), s: hex(sig.dleq.s) }, B_, pointFromHex(sig.C_), A), true);
    }
  });

  it('token V3: serializes byte for byte and decodes, padded or not; bad prefixes are refused', () => {
    const json = v.token_v3.json;
    const token: Token = { mint: json.token[0].mint, proofs: json.token[0].proofs, unit: json.unit, memo: json.memo };
    assert.equal(encodeTokenV3(token), v.token_v3.serialized);
    assert.deepEqual(plain(getDecodedToken(v.token_v3.serialized, [])), plain({ ...token, proofs: token.proofs as Proof[] }));
    for (const bad of v.token_v3.invalid) assert.throws(() => getDecodedToken(bad, []));
    const { padded, unpadded, memo } = v.token_v3.padding_variants;
    assert.equal(getDecodedToken(padded, []).memo, memo);
    assert.equal(getDecodedToken(unpadded, []).memo, memo);
  });

  it('token V4: decodes the vectors (string and raw binary) and round-trips through cashu-ts', () => {
    for (const t of v.token_v4) {
      const ids = t.json.t.map((e: { i: string }) => e.i);
      const want = {
        mint: t.json.m, unit: t.json.u, ...(t.json.d ? { memo: t.json.d } : {}),
        proofs: t.json.t.flatMap((e: { i: string; p: Array<{ a: number; s: string; c: string }>; }) =>
          e.p.map((p) => ({ secret: p.s, C: p.c, amount: p.a, id: e.i }))),
      };
      const decoded = getDecodedToken(t.serialized, ids);
      assert.deepEqual(plain(decoded), want, t.name);
      assert.deepEqual(plain(getDecodedToken(getEncodedToken(decoded), ids)), want, `${t.name} round trip`);
      if (t.raw) assert.deepEqual(plain(getDecodedTokenBinary(hex(t.raw))), want, `${t.name} raw`);
    }
  });
});

describe('devmint: NUT-01 vectors', () => {
  const v = fixture('nut01.json');

  it('refuses keysets with malformed keys and accepts the valid ones (up to amount 2^63)', () => {
    for (const bad of v.invalid_keysets) {
      assert.ok(Object.values(bad.keys as Record<string, string>).some((k) => parsePoint(k) === undefined), bad.reason);
    }
    for (const good of v.valid_keysets) {
      assert.ok(Object.values(good as Record<string, string>).every((k) => parsePoint(k) !== undefined));
    }
  });
});

describe('devmint: NUT-02 vectors', () => {
  const v = fixture('nut02.json');

  it('derives version 00 keyset ids', () => {
    for (const t of v.v1) assert.equal(deriveKeysetId(t.keys, { versionByte: 0 }), t.id);
  });

  it('derives version 01 (v2) keyset ids from keys, unit, input_fee_ppk and final_expiry', () => {
    for (const t of v.v2) {
      const opts = { unit: t.unit, input_fee_ppk: t.input_fee_ppk, ...(t.final_expiry ? { expiry: t.final_expiry } : {}) };
      assert.equal(deriveKeysetId(t.keys, opts), t.id);
    }
  });

  it('the mint keyset id is the v2 id of its own keys, unit and fee', () => {
    const seed = hex('00'.repeat(32));
    for (const inputFeePpk of [0, 100, 1000]) {
      const k = deriveKeyset(seed, { unit: 'sat', inputFeePpk, maxOrder: 32 }, true);
      assert.equal(k.id, deriveKeysetId({ ...k.pubkeys }, { unit: 'sat', input_fee_ppk: inputFeePpk }));
      assert.match(k.id, /^01[0-9a-f]{64}$/);
    }
    const a = deriveKeyset(seed, { unit: 'sat', inputFeePpk: 0, maxOrder: 8 }, true);
    const b = deriveKeyset(seed, { unit: 'sat', inputFeePpk: 1, maxOrder: 8 }, true);
    assert.notEqual(a.pubkeys['1'], b.pubkeys['1'], 'distinct keysets never share keys');
  });
});

describe('devmint: NUT-12 vectors', () => {
  const v = fixture('nut12.json');

  it('hash_e', () => {
    const { R1, R2, K, C_, hash } = v.hash_e;
    assert.equal(Buffer.from(hash_e([R1, R2, K, C_].map((p: string) => pointFromHex(p)))).toString('hex'), hash);
  });

  it('verifies the DLEQ of a BlindSignature and of a Proof', () => {
    const { A, B_, signature } = v.blind_signature;
    const dleq = { e: hex(signature.dleq.e), s: hex(signature.dleq.s) };
    assert.equal(verifyDLEQProof(dleq, pointFromHex(B_), pointFromHex(signature.C_), pointFromHex(A)), true);
    const wrong = { ...dleq, s: hex('01'.repeat(32)) };
    assert.equal(verifyDLEQProof(wrong, pointFromHex(B_), pointFromHex(signature.C_), pointFromHex(A)), false);
    const p = v.proof.proof;
    assert.equal(hasValidDleq(p, { id: p.id, keys: { [String(p.amount)]: v.proof.A } }), true);
  });

  it('the mint DLEQ proofs verify for every amount of a keyset', () => {
    const k = deriveKeyset(hex('11'.repeat(32)), { unit: 'sat', inputFeePpk: 0, maxOrder: 6 }, true);
    const B_ = blindMessage(hex('22'.repeat(32))).B_;
    for (const [amount, priv] of k.privkeys) {
      const sig = signBlinded(B_, priv, k.id, amount);
      const A = pointFromHex(k.pubkeys[String(amount)]!);
      assert.equal(verifyDLEQProof({ e: hex(sig.dleq.e), s: hex(sig.dleq.s) }, B_, pointFromHex(sig.C_), A), true);
    }
  });
});
