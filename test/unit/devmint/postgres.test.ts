// The development mint on PostgreSQL (several gateway replicas share one store), on the server
// test/helpers/postgres.ts names; a scratch database is created and dropped per test.
import assert from 'node:assert/strict';
import { getEncodedToken } from '@cashu/cashu-ts';
import { openDb } from '../../../src/store/open.js';
import { createFakeInvoice } from '../../../src/devmint/index.js';
import { scratchDatabase, TEST_POSTGRES_URL } from '../../helpers/postgres.js';
import { blind, fund, isNutError, post, startMint, total, wire } from './helpers.js';

const pgUrl = TEST_POSTGRES_URL;

(pgUrl ? describe : describe.skip)('devmint on PostgreSQL', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let dbUrl: string;

  beforeEach(async () => {
    scratch = await scratchDatabase('owlrun_devmint');
    dbUrl = scratch.url;
  });
  afterEach(() => scratch.drop());

  it('two replicas on one store: one keyset, one spent set, exactly one of concurrent swaps wins', async () => {
    const [dbA, dbB] = [await openDb(dbUrl), await openDb(dbUrl)];
    const [a, b] = await Promise.all([startMint({ db: dbA }), startMint({ db: dbB })]);
    try {
      assert.equal(a.mint.keysetId, b.mint.keysetId, 'the seed is created once and shared');
      const proofs = wire(await fund(a.wallet, 64));
      const keyset = a.wallet.getKeyset();
      const attempts = await Promise.all(
        Array.from({ length: 6 }, (_, i) => post(i % 2 ? a.url : b.url, '/v1/swap', { inputs: proofs, outputs: blind(64, keyset).wire })),
      );
      assert.equal(attempts.filter((r) => r.status === 200).length, 1, JSON.stringify(attempts.map((r) => r.body)));
      assert.ok(attempts.filter((r) => r.status !== 200).every((r) => isNutError(r, 11001)));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('restart keeps keys and spent set; mint, melt with change and restore work', async () => {
    const first = await startMint({ dbUrl });
    const proofs = await fund(first.wallet, 100);
    const { keep, send } = await first.wallet.send(30, proofs);
    const token = getEncodedToken({ mint: first.url, proofs: send, unit: 'sat' });
    assert.equal(total(await first.wallet.receive(token)), 30);
    const quote = await first.wallet.createMeltQuoteBolt11(createFakeInvoice(20));
    const melt = await first.wallet.meltProofsBolt11(quote, keep);
    assert.equal(melt.quote.state, 'PAID');
    assert.equal(total(melt.change), total(keep) - 20);
    const id = first.mint.keysetId;
    await first.close();

    const second = await startMint({ dbUrl });
    try {
      assert.equal(second.mint.keysetId, id);
      assert.ok(isNutError(await post(second.url, '/v1/swap', { inputs: wire(send), outputs: blind(30, second.wallet.getKeyset()).wire }), 11001));
      assert.equal(total(await second.wallet.receive(melt.change)), total(melt.change));
      const r = await post(second.url, '/v1/restore', { outputs: [] });
      assert.deepEqual(r.body, { outputs: [], signatures: [], promises: [] });
    } finally {
      await second.close();
    }
  });
});
