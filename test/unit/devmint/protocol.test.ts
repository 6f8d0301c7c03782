// Protocol-level checks over raw HTTP: NUT-00 error shapes and codes, input validation, NUT-01/02/06
// listings, CORS like real mints.
import assert from 'node:assert/strict';
import { deriveKeysetId } from '@cashu/cashu-ts';
import { blind, fund, get, isNutError, post, startMint, wire, type Running } from './helpers.js';

describe('devmint: protocol and errors', () => {
  let m: Running;
  before(async () => {
    m = await startMint();
  });
  after(async () => {
    await m.close();
  });

  it('serves NUT-06 info that advertises bolt11 mint/melt, 7, 8, 9, 12 and says it is not real money', async () => {
    const r = await get(m.url, '/v1/info');
    assert.equal(r.status, 200);
    assert.match(r.body.motd, /NOT real money/i);
    assert.match(r.body.pubkey, /^0[23][0-9a-f]{64}$/);
    assert.deepEqual(r.body.nuts['4'].methods[0].method, 'bolt11');
    assert.deepEqual(r.body.nuts['5'].methods[0].unit, 'sat');
    for (const n of ['7', '8', '9', '12']) assert.equal(r.body.nuts[n].supported, true, `NUT-${n}`);
  });

  it('serves NUT-01/02 keys and keysets whose id derives from the keys (v2, 01…)', async () => {
    const keys = await get(m.url, '/v1/keys');
    const sets = await get(m.url, '/v1/keysets');
    const one = await get(m.url, `/v1/keys/${m.mint.keysetId}`);
    assert.equal(keys.body.keysets.length, 1);
    const ks = keys.body.keysets[0];
    assert.deepEqual(one.body.keysets[0], ks);
    assert.equal(Object.keys(ks.keys).length, 32);
    assert.equal(ks.keys[String(2 ** 31)].length, 66);
    assert.deepEqual(sets.body.keysets, [{ id: ks.id, unit: 'sat', active: true, input_fee_ppk: 0 }]);
    assert.equal(deriveKeysetId(ks.keys, { unit: 'sat', input_fee_ppk: 0 }), ks.id);
    assert.ok(isNutError(await get(m.url, `/v1/keys/01${'ab'.repeat(32)}`), 12001));
  });

  it('answers protocol errors as HTTP 400 {"detail","code"}', async () => {
    const keyset = m.wallet.getKeyset();
    const proofs = await fund(m.wallet, 8);
    const swap = (inputs: unknown, outputs: unknown) => post(m.url, '/v1/swap', { inputs, outputs });
    const [p] = wire(proofs);
    assert.ok(p);
    // unbalanced
    assert.ok(isNutError(await swap([p], blind(4, keyset).wire), 11005));
    // bad signature: a valid point that is not k·Y, and a string that is no point at all
    assert.ok(isNutError(await swap([{ ...p, C: keyset.keys['8'] }], blind(8, keyset).wire), 10001));
    assert.ok(isNutError(await swap([{ ...p, C: `02${'f'.repeat(64)}` }], blind(8, keyset).wire), 10001));
    const tampered = { ...p, secret: `${p.secret}x` };
    assert.ok(isNutError(await swap([tampered], blind(8, keyset).wire), 10001));
    // amount with no key in the keyset, or not the amount signed
    assert.ok(isNutError(await swap([{ ...p, amount: 3 }], blind(3, keyset, [1, 2]).wire), 10001));
    // unknown keyset on inputs and outputs
    assert.ok(isNutError(await swap([{ ...p, id: `01${'cd'.repeat(32)}` }], blind(8, keyset).wire), 12001));
    const foreign = blind(8, keyset).wire.map((o) => ({ ...o, id: '009a1f293253e41e' }));
    assert.ok(isNutError(await swap([p], foreign), 12001));
    // duplicates
    assert.ok(isNutError(await swap([p, p], blind(16, keyset).wire), 11007));
    const out = blind(4, keyset, [4]).wire[0]!;
    assert.ok(isNutError(await swap([p], [out, out]), 11008));
    // still unspent after all those refusals
    const ok = await swap([p], blind(8, keyset).wire);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.signatures.length, 1);
  });

  it('refuses outputs that were signed before (11003), and keeps the inputs unspent', async () => {
    const keyset = m.wallet.getKeyset();
    const a = wire(await fund(m.wallet, 4));
    const b = wire(await fund(m.wallet, 4));
    const outs = blind(4, keyset, [4]).wire;
    assert.equal((await post(m.url, '/v1/swap', { inputs: a, outputs: outs })).status, 200);
    assert.ok(isNutError(await post(m.url, '/v1/swap', { inputs: b, outputs: outs }), 11003));
    assert.equal((await post(m.url, '/v1/swap', { inputs: b, outputs: blind(4, keyset).wire })).status, 200);
  });

  it('accepts inputs with the short (8-byte) form of a v2 keyset id, as V4 tokens carry it', async () => {
    const keyset = m.wallet.getKeyset();
    const short = wire(await fund(m.wallet, 4)).map((p) => ({ ...p, id: p.id.slice(0, 16) }));
    assert.equal((await post(m.url, '/v1/swap', { inputs: short, outputs: blind(4, keyset).wire })).status, 200);
    const outs = blind(4, keyset).wire.map((o) => ({ ...o, id: o.id.slice(0, 16) }));
    assert.ok(isNutError(await post(m.url, '/v1/swap', { inputs: wire(await fund(m.wallet, 4)), outputs: outs }), 12001));
  });

  it('rejects amounts that are not positive safe integers', async () => {
    const keyset = m.wallet.getKeyset();
    const [p] = wire(await fund(m.wallet, 2));
    assert.ok(p);
    for (const amount of [1.5, -2, '2', 2 ** 60, 0, null]) {
      const r = await post(m.url, '/v1/swap', { inputs: [{ ...p, amount }], outputs: blind(2, keyset).wire });
      assert.equal(r.status, 400, String(amount));
      assert.equal(typeof r.body.code, 'number');
      const o = await post(m.url, '/v1/swap', { inputs: [p], outputs: [{ ...blind(2, keyset).wire[0], amount }] });
      assert.equal(o.status, 400, `output ${String(amount)}`);
    }
    for (const amount of [0, -1, 1.5, '10', 2 ** 32]) {
      const q = await post(m.url, '/v1/mint/quote/bolt11', { amount, unit: 'sat' });
      assert.equal(q.status, 400, `quote ${String(amount)}`);
    }
    assert.ok(isNutError(await post(m.url, '/v1/mint/quote/bolt11', { amount: 2 ** 32, unit: 'sat' }), 11006));
    assert.ok(isNutError(await post(m.url, '/v1/mint/quote/bolt11', { amount: 10, unit: 'usd' }), 11013));
  });

  it('enforces NUT-04 quote states: outputs must match, a quote is issued once', async () => {
    const keyset = m.wallet.getKeyset();
    const q = await post(m.url, '/v1/mint/quote/bolt11', { amount: 10, unit: 'sat' });
    assert.equal(q.body.state, 'PAID');
    assert.ok(isNutError(await post(m.url, '/v1/mint/bolt11', { quote: q.body.quote, outputs: blind(12, keyset).wire }), 11005));
    assert.equal((await post(m.url, '/v1/mint/bolt11', { quote: q.body.quote, outputs: blind(10, keyset).wire })).status, 200);
    assert.ok(isNutError(await post(m.url, '/v1/mint/bolt11', { quote: q.body.quote, outputs: blind(10, keyset).wire }), 20002));
    assert.equal((await get(m.url, `/v1/mint/quote/bolt11/${q.body.quote}`)).body.state, 'ISSUED');
    assert.equal((await get(m.url, '/v1/mint/quote/bolt11/nope')).status, 400);
  });

  it('answers NUT-07 checkstate by Y in request order', async () => {
    const proofs = await fund(m.wallet, 3); // 2 + 1
    const before = await m.wallet.checkProofsStates(proofs);
    assert.deepEqual(before.map((s) => s.state), ['UNSPENT', 'UNSPENT']);
    const [two] = wire(proofs.filter((p) => p.amount.toNumber() === 2));
    await post(m.url, '/v1/swap', { inputs: [two], outputs: blind(2, m.wallet.getKeyset()).wire });
    const r = await post(m.url, '/v1/checkstate', { Ys: before.map((s) => s.Y).reverse() });
    assert.deepEqual(r.body.states.map((s: { Y: string }) => s.Y), before.map((s) => s.Y).reverse());
    const spent = await m.wallet.checkProofsStates(proofs);
    assert.deepEqual(spent.map((s) => s.state), proofs.map((p) => (p.amount.toNumber() === 2 ? 'SPENT' : 'UNSPENT')));
    assert.ok(isNutError(await post(m.url, '/v1/checkstate', { Ys: ['zz'] }), 10000));
  });

  it('answers bad JSON, unknown paths and wrong methods', async () => {
    assert.ok(isNutError(await post(m.url, '/v1/swap', undefined, '{not json'), 10000));
    assert.equal((await get(m.url, '/v1/nope')).status, 404);
    assert.equal((await get(m.url, '/v1/swap')).status, 405);
    assert.ok(isNutError(await post(m.url, '/v1/swap', [1, 2]), 10000));
  });

  it('answers CORS like real mints: preflight and Access-Control-Allow-Origin on every answer', async () => {
    const pre = await fetch(`${m.url}/v1/swap`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://chat.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /content-type/i);
    const info = await fetch(`${m.url}/v1/info`, { headers: { Origin: 'http://chat.example' } });
    assert.equal(info.headers.get('access-control-allow-origin'), '*');
    const err = await post(m.url, '/v1/swap', {});
    assert.equal(err.headers.get('access-control-allow-origin'), '*');
  });
});
