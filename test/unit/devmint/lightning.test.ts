// The fake Lightning backend's BOLT-11 invoices: valid bech32, amounts in the human-readable part
// as cashu-ts reads them, signed by the fake node (recoverable), preimage known to the mint.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as cashu from '@cashu/cashu-ts';
import { bech32Decode, bech32Encode } from '../../../src/devmint/bech32.js';
import { FAKE_NODE_PUBKEY, createFakeInvoice, createFakeInvoiceDetailed, decodeInvoice } from '../../../src/devmint/lightning.js';

// A 20u (2000 sat) invoice signed by the BOLT-11 example node key 03e7156a…, payment hash 0001…0102,
// as decoded in the README of bitcoinjs/bolt11.
const BOLT11_EXAMPLE =
  'lnbc20u1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppqw508d6qejxtdg4y5r3zarvary0c5xw7kxqrrsssp5m6kmam774klwlh4dhmhaatd7al02m0h0m6kmam774klwlh4dhmhs9qypqqqcqpf3cwux5979a8j28d4ydwahx00saa68wq3az7v9jdgzkghtxnkf3z5t7q5suyq2dl9tqwsap8j0wptc82cpyvey9gf6zyylzrm60qtcqsq7egtsq';
const EXAMPLE_PAYEE = '03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad';

// cashu-ts reads invoice amounts with this (exported at runtime, not in its public types).
const bolt11AmountMsat = (cashu as unknown as Record<string, (s: string) => bigint | null>).bolt11AmountMsat!;

describe('devmint: fake Lightning invoices (BOLT-11)', () => {
  it('decodes the BOLT-11 example: amount, payment hash, and the payee recovered from the signature', () => {
    const d = decodeInvoice(BOLT11_EXAMPLE);
    assert.ok(d);
    assert.equal(d.amountMsat, 2_000_000n);
    assert.equal(d.paymentHash, '0001020304050607080900010203040506070809000102030405060708090102');
    assert.equal(d.payee, EXAMPLE_PAYEE);
    assert.equal(d.preimage, undefined, 'not one of ours');
  });

  it('encodes amounts in the human-readable part exactly as cashu-ts reads them', () => {
    for (const sats of [1, 2, 21, 100, 999, 1000, 1234, 100_000, 2_100_000_000, 2 ** 40]) {
      const invoice = createFakeInvoice(sats);
      assert.match(invoice, /^lnbcrt\d+[munp]?1/);
      assert.equal(bolt11AmountMsat(invoice), BigInt(sats) * 1000n, String(sats));
      assert.equal(decodeInvoice(invoice)?.amountMsat, BigInt(sats) * 1000n);
    }
    assert.match(createFakeInvoice(100), /^lnbcrt1u1/);
    assert.throws(() => createFakeInvoice(0));
    assert.throws(() => createFakeInvoice(1.5));
  });

  it('signs with the fake node key and derives a preimage that settles the payment hash', () => {
    const { invoice, paymentHash } = createFakeInvoiceDetailed(42, 'coffee');
    const d = decodeInvoice(invoice);
    assert.ok(d);
    assert.equal(d.payee, FAKE_NODE_PUBKEY);
    assert.equal(d.paymentHash, paymentHash);
    assert.ok(d.preimage);
    assert.equal(createHash('sha256').update(Buffer.from(d.preimage, 'hex')).digest('hex'), paymentHash);
    assert.notEqual(createFakeInvoice(42), createFakeInvoice(42), 'every invoice has its own payment hash');
  });

  it('is valid bech32: a changed character breaks the checksum', () => {
    const invoice = createFakeInvoice(10);
    assert.ok(bech32Decode(invoice));
    assert.ok(bech32Decode(invoice.toUpperCase()), 'upper case (QR codes) is valid too');
    const i = invoice.length - 10;
    const flipped = invoice.slice(0, i) + (invoice[i] === 'q' ? 'p' : 'q') + invoice.slice(i + 1);
    assert.equal(decodeInvoice(flipped), undefined);
    assert.equal(decodeInvoice('lnbc1qqqq'), undefined);
    assert.equal(decodeInvoice('not an invoice'), undefined);
  });

  it('reports amountless invoices as amountMsat null', () => {
    const dec = bech32Decode(createFakeInvoice(10))!;
    const amountless = bech32Encode('lnbcrt', dec.words);
    assert.equal(decodeInvoice(amountless)?.amountMsat, null);
  });
});
