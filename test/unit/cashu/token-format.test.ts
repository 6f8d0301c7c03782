import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Amount, getDecodedToken, getEncodedToken, type Proof } from '@cashu/cashu-ts';
import { GatewayError } from '../../../src/errors.js';
import { checkProofs, decodeTokenProofs, encodeToken, MAX_TOKEN_CHARS, readTokenHeader } from '../../../src/cashu/token-format.js';
import type { WalletProof } from '../../../src/cashu/types.js';

const MINT = 'http://127.0.0.1:3338';
const V1_ID = '009a1f293253e41e';
const V2_ID = '01' + 'ab'.repeat(32);
const hex = (n: number): string => randomBytes(n).toString('hex');
const point = (): string => '02' + hex(32);

function proof(amount: number, id = V1_ID, extra: Partial<WalletProof> = {}): WalletProof {
  return { id, amount, secret: hex(32), C: point(), ...extra };
}

function v3(obj: unknown): string {
  return 'cashuA' + Buffer.from(JSON.stringify(obj)).toString('base64url');
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected GatewayError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('did not throw');
}

describe('cashu/token-format', () => {
  describe('readTokenHeader', () => {
    it('rejects missing, garbage, wrong prefix and oversized values as cashu_token_invalid', () => {
      assert.equal(code(() => readTokenHeader(undefined)), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader('')), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader('hello')), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader('cashuCabc')), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader('cashuAnot-base64-json!!')), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader('cashuBxyz')), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader('creqAabc')), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader('cashuA' + 'A'.repeat(MAX_TOKEN_CHARS))), 'cashu_token_invalid');
      assert.equal(code(() => readTokenHeader(v3({ token: [] }))), 'cashu_token_invalid');
    });

    it('reads mint, unit and format; trims whitespace', () => {
      const b = encodeToken('B', MINT, [proof(2)]);
      const h = readTokenHeader(`  ${b}\t`);
      assert.deepEqual([h.format, h.mint, h.unit, h.raw], ['B', MINT, 'sat', b]);
      assert.match(h.hash, /^[0-9a-f]{12}$/);
      const a = readTokenHeader(encodeToken('A', MINT, [proof(4)], 'usd'));
      assert.deepEqual([a.format, a.unit], ['A', 'usd']);
    });

    it('a V3 token with several mint entries is not accepted', () => {
      const t = v3({ token: [{ mint: MINT, proofs: [proof(1)] }, { mint: 'http://other', proofs: [proof(1)] }], unit: 'sat' });
      assert.equal(code(() => readTokenHeader(t)), 'cashu_token_invalid');
    });

    it('negative, fractional or huge amounts in the token → cashu_amount_invalid', () => {
      for (const amount of [-1, 1.5, 1e30]) {
        const t = v3({ token: [{ mint: MINT, proofs: [{ ...proof(1), amount }] }], unit: 'sat' });
        assert.equal(code(() => readTokenHeader(t)), 'cashu_amount_invalid', `amount ${amount}`);
      }
    });
  });

  describe('checkProofs', () => {
    const asCts = (ps: WalletProof[]): Proof[] => ps.map((p) => ({ ...p, amount: Amount.from(p.amount) }));

    it('sums positive amounts and keeps witness, drops dleq', () => {
      const w = JSON.stringify({ signatures: ['00'] });
      const out = checkProofs(asCts([proof(1), proof(8, V1_ID, { witness: w, dleq: { e: '00', s: '00', r: '00' } })]));
      assert.equal(out.amount, 9);
      assert.equal(out.proofs[1]!.witness, w);
      assert.equal('dleq' in out.proofs[1]!, false);
    });

    it('duplicate secrets → cashu_token_duplicate_proofs', () => {
      const p = proof(2);
      assert.equal(code(() => checkProofs(asCts([p, { ...p, C: point() }]))), 'cashu_token_duplicate_proofs');
    });

    it('zero amount, no proofs, or a total over 2^40 → cashu_amount_invalid', () => {
      assert.equal(code(() => checkProofs(asCts([proof(0)]))), 'cashu_amount_invalid');
      assert.equal(code(() => checkProofs([])), 'cashu_amount_invalid');
      assert.equal(code(() => checkProofs(asCts([proof(2 ** 40), proof(1)]))), 'cashu_amount_invalid');
      assert.equal(checkProofs(asCts([proof(2 ** 39), proof(2 ** 39)])).amount, 2 ** 40);
    });

    it('malformed C or empty secret → cashu_token_malformed_proofs', () => {
      assert.equal(code(() => checkProofs(asCts([{ ...proof(1), C: 'zz' }]))), 'cashu_token_malformed_proofs');
      assert.equal(code(() => checkProofs(asCts([{ ...proof(1), secret: '' }]))), 'cashu_token_malformed_proofs');
    });
  });

  describe('encodeToken', () => {
    const dleq = { e: hex(32), s: hex(32), r: hex(32) };
    const proofs = [proof(1), proof(2, V1_ID, { dleq }), proof(4, V1_ID, { witness: '{"x":1}' }), proof(8, V1_ID, { dleq: { e: hex(32), s: hex(32) } })];

    function roundTrip(format: 'A' | 'B', ps: WalletProof[], ids: string[]): void {
      const t = encodeToken(format, MINT, ps);
      assert.ok(t.startsWith(format === 'A' ? 'cashuA' : 'cashuB'));
      const back = getDecodedToken(t, ids);
      assert.equal(back.mint, MINT);
      assert.equal(back.unit, 'sat');
      assert.equal(back.proofs.length, ps.length);
      back.proofs.forEach((p, i) => {
        const src = ps[i]!;
        assert.equal(p.id, src.id);
        assert.equal(p.amount.toNumber(), src.amount);
        assert.equal(p.secret, src.secret);
        assert.equal(p.C, src.C);
        assert.equal(p.witness, undefined, 'change never carries a witness');
        // dleq only when it has its blinding factor r
        if (src.dleq?.r) assert.deepEqual(p.dleq, src.dleq);
        else assert.equal(p.dleq, undefined);
      });
      // and our own reader agrees
      assert.equal(readTokenHeader(t).format, format);
      assert.equal(decodeTokenProofs(t, ids).length, ps.length);
    }

    it('V4 round trip through cashu-ts', () => roundTrip('B', proofs, [V1_ID]));
    it('V3 round trip through cashu-ts', () => roundTrip('A', proofs, [V1_ID]));
    it('V4 with v2 (long) keyset ids: cashu-ts maps the short id back', () => roundTrip('B', [proof(2, V2_ID), proof(1, V2_ID)], [V2_ID]));
    it('V3 with v2 keyset ids', () => roundTrip('A', [proof(2, V2_ID)], [V2_ID]));

    it('no proofs → empty string', () => {
      assert.equal(encodeToken('A', MINT, []), '');
      assert.equal(encodeToken('B', MINT, []), '');
    });

    it('V3 output is the documented JSON shape, unpadded base64url', () => {
      const p = proof(16);
      const t = encodeToken('A', MINT, [p]);
      assert.doesNotMatch(t, /[=+/]/);
      assert.deepEqual(JSON.parse(Buffer.from(t.slice(6), 'base64url').toString()), {
        token: [{ mint: MINT, proofs: [{ id: p.id, amount: 16, secret: p.secret, C: p.C }] }], unit: 'sat',
      });
    });

    it('V4 equals what cashu-ts itself encodes for the same proofs (no dleq)', () => {
      const ps = [proof(1), proof(32)];
      const ours = encodeToken('B', MINT, ps);
      const theirs = getEncodedToken({ mint: MINT, unit: 'sat', proofs: ps.map((p) => ({ ...p, amount: Amount.from(p.amount) })) });
      assert.equal(ours, theirs);
    });

    it('legacy base64 keyset ids fall back to V3', () => {
      const t = encodeToken('B', MINT, [proof(1, 'I2yN+iRYfkzT')]);
      assert.ok(t.startsWith('cashuA'));
      assert.equal(getDecodedToken(t, []).proofs[0]!.id, 'I2yN+iRYfkzT');
    });
  });

  describe('decodeTokenProofs', () => {
    it('a short v2 id that maps to no known keyset → cashu_keyset_unknown', () => {
      const t = encodeToken('B', MINT, [proof(1, V2_ID)]);
      assert.equal(code(() => decodeTokenProofs(t, ['01' + 'cd'.repeat(32)])), 'cashu_keyset_unknown');
      assert.equal(code(() => decodeTokenProofs(t, [])), 'cashu_keyset_unknown');
    });
  });
});
