import assert from 'node:assert/strict';
import { PaidEnv } from '../helpers/paid-env.js';

/** A V3 token (cashuA) with arbitrary JSON: how a hostile client builds one. */
const v3 = (json: unknown) => `cashuA${Buffer.from(JSON.stringify(json)).toString('base64url')}`;

interface WireProof {
  id: string;
  amount: number;
  secret: string;
  C: string;
}

describe('hostile X-Cashu headers', () => {
  let env: PaidEnv;
  let proofs: WireProof[];
  before(async () => {
    env = await PaidEnv.start();
    const token = await env.token(40, 3);
    const decoded = JSON.parse(Buffer.from(token.slice(6), 'base64url').toString()) as { token: [{ proofs: WireProof[] }] };
    proofs = decoded.token[0].proofs;
  });
  after(async () => {
    await env.close();
  });

  const send = (header: string) =>
    fetch(env.gw.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'x-cashu': header },
      body: JSON.stringify({ model: env.model, messages: [{ role: 'user', content: 'hi' }] }),
    });

  const cases: [string, () => string, number, string][] = [
    ['not base64 at all', () => 'cashuA!!!!', 400, 'cashu_token_invalid'],
    ['malformed CBOR', () => 'cashuB' + Buffer.from([0xa3, 0xff, 0x00, 0x13]).toString('base64url'), 400, 'cashu_token_invalid'],
    ['JSON that is not a token', () => v3({ hello: 'world' }), 400, 'cashu_token_invalid'],
    ['a negative amount', () => v3({ token: [{ mint: env.mintUrl, proofs: [{ ...proofs[0], amount: -8 }] }], unit: 'sat' }), 402, 'cashu_amount_invalid'],
    ['an absurd amount', () => v3({ token: [{ mint: env.mintUrl, proofs: [{ ...proofs[0], amount: 2 ** 60 }] }], unit: 'sat' }), 402, 'cashu_amount_invalid'],
    ['a fractional amount', () => v3({ token: [{ mint: env.mintUrl, proofs: [{ ...proofs[0], amount: 1.5 }] }], unit: 'sat' }), 402, 'cashu_amount_invalid'],
    ['the same proof twice', () => v3({ token: [{ mint: env.mintUrl, proofs: [proofs[0], proofs[0]] }], unit: 'sat' }), 400, 'cashu_token_duplicate_proofs'],
    ['another unit', () => v3({ token: [{ mint: env.mintUrl, proofs }], unit: 'usd' }), 402, 'cashu_unit_unsupported'],
    ['an unknown keyset', () => v3({ token: [{ mint: env.mintUrl, proofs: proofs.map((p) => ({ ...p, id: '00ffffffffffffff' })) }], unit: 'sat' }), 402, 'cashu_keyset_unknown'],
    ['an untrusted mint', () => v3({ token: [{ mint: 'http://127.0.0.1:9', proofs }], unit: 'sat' }), 402, 'cashu_mint_untrusted'],
    ['a forged signature', () => v3({ token: [{ mint: env.mintUrl, proofs: proofs.map((p) => ({ ...p, C: '02' + '11'.repeat(32) })) }], unit: 'sat' }), 402, 'cashu_proofs_invalid'],
    ['a header of 60 000 characters', () => 'cashuA' + 'A'.repeat(60_000), 400, 'cashu_token_invalid'],
  ];

  for (const [what, header, status, code] of cases) {
    it(`${what} → ${status} ${code}, nothing runs, the real proofs stay spendable`, async () => {
      const swaps = env.swaps();
      const res = await send(header());
      const body = (await res.json()) as { error: { code: string; type: string; message: string } };
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(body.error.code, code);
      assert.equal(env.sim.requests.length, 0);
      if (code !== 'cashu_proofs_invalid') assert.equal(env.swaps(), swaps, 'no claim was attempted');
      assert.equal(await env.spendable(v3({ token: [{ mint: env.mintUrl, proofs }], unit: 'sat' })), true);
      await env.assertBooksBalance();
    });
  }
});
