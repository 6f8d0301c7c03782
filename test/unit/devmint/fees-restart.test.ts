// NUT-02 input fees (input_fee_ppk in the keyset id and in every balance check) and persistence:
// a new DevMint on the same SQLite file keeps keys and the spent set.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet, deriveKeysetId, getEncodedToken, isMintOperationError } from '@cashu/cashu-ts';
import { blind, fund, get, isNutError, post, startMint, total, wire } from './helpers.js';

describe('devmint: input fees (NUT-02)', () => {
  it('inputFeePpk 100: the keyset id commits to the fee and the wallet pays fees correctly', async () => {
    const m = await startMint({ inputFeePpk: 100 });
    try {
      const sets = await get(m.url, '/v1/keysets');
      assert.deepEqual(sets.body.keysets, [{ id: m.mint.keysetId, unit: 'sat', active: true, input_fee_ppk: 100 }]);
      const keys = (await get(m.url, '/v1/keys')).body.keysets[0].keys;
      assert.equal(deriveKeysetId(keys, { unit: 'sat', input_fee_ppk: 100 }), m.mint.keysetId);
      assert.notEqual(deriveKeysetId(keys, { unit: 'sat' }), m.mint.keysetId);
      assert.equal(m.wallet.keysetId, m.mint.keysetId); // the wallet verified the id against the keys

      const proofs = await fund(m.wallet, 100);
      const fee = m.wallet.getFeesForProofs(proofs).toNumber();
      assert.equal(fee, Math.ceil((proofs.length * 100) / 1000));
      const { keep, send } = await m.wallet.send(30, proofs, { includeFees: true });
      const bob = new Wallet(m.url);
      await bob.loadMint();
      const received = await bob.receive(getEncodedToken({ mint: m.url, proofs: send, unit: 'sat' }));
      assert.equal(total(received), 30, 'the receiver nets exactly 30: the sender paid the receive fee');
      const kept = new Set(keep.map((p) => p.secret));
      const swapFee = Math.ceil((proofs.filter((p) => !kept.has(p.secret)).length * 100) / 1000);
      const receiveFee = Math.ceil((send.length * 100) / 1000);
      assert.equal(total(keep) + total(received), 100 - swapFee - receiveFee, 'every sat is accounted for');

      // a swap that ignores the fee is unbalanced; one that pays it is accepted
      const keyset = m.wallet.getKeyset();
      const four = wire(await fund(m.wallet, 4));
      assert.ok(isNutError(await post(m.url, '/v1/swap', { inputs: four, outputs: blind(4, keyset).wire }), 11005));
      assert.equal((await post(m.url, '/v1/swap', { inputs: four, outputs: blind(3, keyset).wire })).status, 200);
    } finally {
      await m.close();
    }
  });
});

describe('devmint: persistence across restarts', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'devmint-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a new DevMint on the same SQLite file keeps keys and the spent set', async () => {
    const dbUrl = `sqlite:${join(dir, 'store.db')}`;
    const first = await startMint({ dbUrl });
    const proofs = await fund(first.wallet, 64);
    const { keep, send } = await first.wallet.send(10, proofs);
    const spent = wire(await fund(first.wallet, 8));
    const keyset = first.wallet.getKeyset();
    assert.equal((await post(first.url, '/v1/swap', { inputs: spent, outputs: blind(8, keyset).wire })).status, 200);
    const keysBefore = (await get(first.url, '/v1/keys')).body;
    const id = first.mint.keysetId;
    await first.close();

    const second = await startMint({ dbUrl });
    try {
      assert.equal(second.mint.keysetId, id);
      assert.deepEqual((await get(second.url, '/v1/keys')).body, keysBefore);
      // (the new mint listens on another port, so the proofs go in as such rather than as a token)
      const received = await second.wallet.receive(send); // old proofs: spendable…
      assert.equal(total(received), 10);
      await assert.rejects(second.wallet.receive(send), (e: unknown) => isMintOperationError(e) && e.code === 11001); // …once
      assert.ok(isNutError(await post(second.url, '/v1/swap', { inputs: spent, outputs: blind(8, keyset).wire }), 11001));
      const states = await second.wallet.checkProofsStates([...keep, ...send]);
      assert.deepEqual(states.map((s) => s.state), [...keep.map(() => 'UNSPENT'), ...send.map(() => 'SPENT')]);
    } finally {
      await second.close();
    }
  });

  it('a changed inputFeePpk activates a new keyset; proofs of the old one stay spendable', async () => {
    const dbUrl = `sqlite:${join(dir, 'store.db')}`;
    const first = await startMint({ dbUrl });
    const old = wire(await fund(first.wallet, 16));
    const oldId = first.mint.keysetId;
    await first.close();

    const second = await startMint({ dbUrl, inputFeePpk: 200 });
    try {
      assert.notEqual(second.mint.keysetId, oldId);
      const sets = (await get(second.url, '/v1/keysets')).body.keysets as Array<{ id: string; active: boolean; input_fee_ppk: number }>;
      assert.deepEqual(sets.map((k) => [k.id, k.active, k.input_fee_ppk]).sort(), [[oldId, false, 0], [second.mint.keysetId, true, 200]].sort());
      assert.equal((await get(second.url, '/v1/keys')).body.keysets.length, 1, 'only active keysets under /v1/keys');
      assert.equal((await get(second.url, `/v1/keys/${oldId}`)).status, 200);
      const active = second.wallet.getKeyset();
      const stale = blind(16, active).wire.map((o) => ({ ...o, id: oldId }));
      assert.ok(isNutError(await post(second.url, '/v1/swap', { inputs: old, outputs: stale }), 12002));
      const ok = await post(second.url, '/v1/swap', { inputs: old, outputs: blind(16, active).wire }); // fee of old keyset: 0
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    } finally {
      await second.close();
    }
  });

  it('the same seed gives the same keyset on any store; a fresh store without seed gets its own', async () => {
    const seed = 'ab'.repeat(32);
    const a = await startMint({ seed });
    const b = await startMint({ seed });
    const c = await startMint();
    try {
      assert.equal(a.mint.keysetId, b.mint.keysetId);
      assert.notEqual(a.mint.keysetId, c.mint.keysetId);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
