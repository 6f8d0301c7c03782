// NUT-05 melt over the fake Lightning backend with NUT-08 change, and NUT-09 restore.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Wallet, hasValidDleq, isMintOperationError } from '@cashu/cashu-ts';
import { bech32Decode, bech32Encode } from '../../../src/devmint/bech32.js';
import { createFakeInvoice, decodeInvoice } from '../../../src/devmint/index.js';
import { blind, fund, get, isNutError, post, startMint, total, wire, type Running } from './helpers.js';

// A foreign 20u (2000 sat) invoice of the BOLT-11 example node (README of bitcoinjs/bolt11).
const BOLT11_EXAMPLE =
  'lnbc20u1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppqw508d6qejxtdg4y5r3zarvary0c5xw7kxqrrsssp5m6kmam774klwlh4dhmhaatd7al02m0h0m6kmam774klwlh4dhmhs9qypqqqcqpf3cwux5979a8j28d4ydwahx00saa68wq3az7v9jdgzkghtxnkf3z5t7q5suyq2dl9tqwsap8j0wptc82cpyvey9gf6zyylzrm60qtcqsq7egtsq';

describe('devmint: melt (NUT-05) with change (NUT-08)', () => {
  let m: Running;
  beforeEach(async () => {
    m = await startMint();
  });
  afterEach(async () => {
    await m.close();
  });

  it('melts a fake invoice: PAID at once, Lightning fee 0, the whole fee reserve back as change', async () => {
    const proofs = await fund(m.wallet, 100);
    const invoice = createFakeInvoice(20);
    const quote = await m.wallet.createMeltQuoteBolt11(invoice);
    assert.equal(quote.amount.toNumber(), 20);
    assert.equal(quote.fee_reserve.toNumber(), 2); // max(2 sat, 1%)
    assert.equal(quote.state, 'UNPAID');
    const { keep, send } = await m.wallet.send(22, proofs, { includeFees: true });
    const res = await m.wallet.meltProofsBolt11(quote, send);
    assert.equal(res.quote.state, 'PAID');
    assert.equal(total(res.change), total(send) - 20, 'all of the overpayment comes back');
    assert.ok(res.change.length > 0 && res.change.every((p) => hasValidDleq(p, m.wallet.getKeyset())));
    const preimage = res.quote.payment_preimage;
    assert.ok(preimage);
    assert.equal(createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex'), decodeInvoice(invoice)?.paymentHash);
    const again = await m.wallet.checkMeltQuoteBolt11(quote.quote);
    assert.equal(again.state, 'PAID');
    assert.equal(total(keep) + total(res.change), 80);
    // the change is spendable, the melted inputs are spent
    assert.equal(total(await m.wallet.receive(res.change)), total(res.change));
    assert.ok((await m.wallet.checkProofsStates(send)).every((s) => s.state === 'SPENT'));
    // a quote is paid once
    const more = await fund(m.wallet, 32);
    await assert.rejects(m.wallet.meltProofsBolt11(quote, more), (e: unknown) => isMintOperationError(e) && e.code === 20006);
  });

  it('returns a large overpayment as change on the blank outputs the wallet sized', async () => {
    const proofs = await fund(m.wallet, 64);
    const quote = await m.wallet.createMeltQuoteBolt11(createFakeInvoice(5));
    const res = await m.wallet.meltProofsBolt11(quote, proofs);
    assert.equal(total(res.change), 64 - 5);
  });

  it('refuses inputs that do not cover amount + fee reserve (11005), keeping them unspent', async () => {
    const proofs = await fund(m.wallet, 21);
    const quote = await post(m.url, '/v1/melt/quote/bolt11', { request: createFakeInvoice(20), unit: 'sat' });
    assert.equal(quote.body.fee_reserve, 2);
    const r = await post(m.url, '/v1/melt/bolt11', { quote: quote.body.quote, inputs: wire(proofs), outputs: [] });
    assert.ok(isNutError(r, 11005), JSON.stringify(r.body));
    assert.ok((await m.wallet.checkProofsStates(proofs)).every((s) => s.state === 'UNSPENT'));
    assert.equal((await get(m.url, `/v1/melt/quote/bolt11/${quote.body.quote}`)).body.state, 'UNPAID');
  });

  it('quotes any bolt11 by its amount, and refuses amountless invoices with 11011', async () => {
    const foreign = await post(m.url, '/v1/melt/quote/bolt11', { request: BOLT11_EXAMPLE, unit: 'sat' });
    assert.equal(foreign.body.amount, 2000);
    assert.equal(foreign.body.fee_reserve, 20);
    assert.equal(foreign.body.request, BOLT11_EXAMPLE);
    const dec = bech32Decode(createFakeInvoice(10))!;
    const amountless = bech32Encode(dec.hrp.replace(/\d+[munp]?$/, ''), dec.words);
    assert.ok(isNutError(await post(m.url, '/v1/melt/quote/bolt11', { request: amountless, unit: 'sat' }), 11011));
    assert.ok(isNutError(await post(m.url, '/v1/melt/quote/bolt11', { request: 'lnbc1garbage', unit: 'sat' }), 10000));
    assert.ok(isNutError(await post(m.url, '/v1/melt/quote/bolt11', { request: createFakeInvoice(10), unit: 'eur' }), 11013));
  });

  it('takes the fee reserve from the options', async () => {
    const custom = await startMint({ meltFeeReserve: { minSats: 5, ppk: 0 } });
    try {
      const q = await post(custom.url, '/v1/melt/quote/bolt11', { request: createFakeInvoice(1000), unit: 'sat' });
      assert.equal(q.body.fee_reserve, 5);
    } finally {
      await custom.close();
    }
  });
});

describe('devmint: restore (NUT-09)', () => {
  it('a wallet with the same seed recovers its proofs from the stored signatures', async () => {
    const m = await startMint();
    try {
      const seed = new Uint8Array(randomBytes(64));
      const alice = new Wallet(m.url, { bip39seed: seed });
      await alice.loadMint();
      const minted = await fund(alice, 77);
      const { send } = await alice.send(20, minted);

      const again = new Wallet(m.url, { bip39seed: seed });
      await again.loadMint();
      const { proofs, lastCounterWithSignature } = await again.batchRestore(20, 10);
      assert.ok(lastCounterWithSignature !== undefined);
      const secrets = new Set(proofs.map((p) => p.secret));
      assert.ok(minted.every((p) => secrets.has(p.secret)), 'every minted proof is recovered');
      assert.ok(send.every((p) => secrets.has(p.secret)));
      assert.ok(proofs.every((p) => hasValidDleq(p, again.getKeyset())));
      const states = await again.checkProofsStates(proofs);
      const unspent = proofs.filter((_, i) => states[i]?.state === 'UNSPENT');
      assert.equal(total(unspent), 77);
    } finally {
      await m.close();
    }
  });

  it('answers /v1/restore with only the outputs it signed, signature at the same index', async () => {
    const m = await startMint();
    try {
      const keyset = m.wallet.getKeyset();
      const known = blind(8, keyset, [8]).wire;
      const [p] = wire(await fund(m.wallet, 8));
      const swapped = await post(m.url, '/v1/swap', { inputs: [p], outputs: known });
      const unknown = blind(4, keyset).wire;
      const r = await post(m.url, '/v1/restore', { outputs: [...unknown, ...known] });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.outputs, known);
      assert.deepEqual(r.body.signatures, swapped.body.signatures);
    } finally {
      await m.close();
    }
  });
});
