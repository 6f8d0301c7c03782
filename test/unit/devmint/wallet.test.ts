// The development mint driven by the real cashu-ts 4.8 Wallet: mint, send, receive, double spends,
// concurrent spends, NUT-07 states, NUT-12 DLEQ on every signature.
import assert from 'node:assert/strict';
import {
  CheckStateEnum,
  Wallet,
  getDecodedToken,
  getEncodedToken,
  hasValidDleq,
  isMintOperationError,
  type Proof,
} from '@cashu/cashu-ts';
import { encodeTokenV3, mintToken } from '../../../src/devmint/index.js';
import { blind, fund, isNutError, post, startMint, total, wire, type Running } from './helpers.js';

describe('devmint: wallet flows (cashu-ts 4.8)', () => {
  let m: Running;
  beforeEach(async () => {
    m = await startMint();
  });
  afterEach(async () => {
    await m.close();
  });

  it('logs loudly at start that its sats are not real money', () => {
    assert.ok(m.logs.some((l) => /NOT real money/i.test(l)), m.logs.join('\n'));
  });

  it('binds the wallet to its v2 keyset and mints 100 sats with a PAID quote', async () => {
    assert.equal(m.wallet.keysetId, m.mint.keysetId);
    assert.match(m.mint.keysetId, /^01[0-9a-f]{64}$/);
    const quote = await m.wallet.createMintQuoteBolt11(100);
    assert.equal(quote.state, 'PAID');
    assert.match(quote.request, /^lnbcrt1u1/);
    const proofs = await m.wallet.mintProofsBolt11(100, quote);
    assert.equal(total(proofs), 100);
    const after = await m.wallet.checkMintQuoteBolt11(quote.quote);
    assert.equal(after.state, 'ISSUED');
    await assert.rejects(m.wallet.mintProofsBolt11(100, quote), (e: unknown) => isMintOperationError(e) && e.code === 20002);
  });

  it('mint 100 → send 30 → receive: balances add up', async () => {
    const proofs = await fund(m.wallet, 100);
    const { keep, send } = await m.wallet.send(30, proofs);
    assert.equal(total(send), 30);
    assert.equal(total(keep), 70);
    const token = getEncodedToken({ mint: m.url, proofs: send, unit: 'sat' });
    const bob = new Wallet(m.url);
    await bob.loadMint();
    const received = await bob.receive(token);
    assert.equal(total(received), 30);
    assert.equal(total(keep) + total(received), 100);
    const kept = new Set(keep.map((p) => p.secret));
    const swapped = proofs.filter((p) => !kept.has(p.secret)); // the wallet swaps only what it must
    assert.ok(swapped.length > 0);
    const states = await m.wallet.checkProofsStates([...swapped, ...send]);
    assert.ok(states.every((s) => s.state === CheckStateEnum.SPENT));
    const fresh = await m.wallet.checkProofsStates([...keep, ...received]);
    assert.ok(fresh.every((s) => s.state === CheckStateEnum.UNSPENT));
  });

  it('V3 and V4 token strings of minted sats are both redeemable', async () => {
    const v4 = await mintToken(m.url, 21, { wallet: m.wallet });
    const v3 = await mintToken(m.url, 13, { wallet: m.wallet, version: 3 });
    assert.match(v4.token, /^cashuB/);
    assert.match(v3.token, /^cashuA/);
    const ids = m.wallet.keyChain.getAllKeysetIds();
    assert.equal(total(getDecodedToken(v3.token, ids).proofs), 13);
    assert.equal(total(await m.wallet.receive(v4.token)), 21);
    assert.equal(total(await m.wallet.receive(v3.token)), 13);
    assert.equal(encodeTokenV3({ mint: m.url, proofs: v3.proofs, unit: 'sat' }), v3.token);
  });

  it('a double spend is refused with 11001', async () => {
    const proofs = await fund(m.wallet, 16);
    const token = getEncodedToken({ mint: m.url, proofs, unit: 'sat' });
    await m.wallet.receive(token);
    await assert.rejects(m.wallet.receive(token), (e: unknown) => isMintOperationError(e) && e.code === 11001);
    const keyset = m.wallet.getKeyset();
    const r = await post(m.url, '/v1/swap', { inputs: wire(proofs), outputs: blind(16, keyset).wire });
    assert.ok(isNutError(r, 11001), JSON.stringify(r.body));
  });

  it('two concurrent swaps of one proof: exactly one succeeds, the other gets 11001', async () => {
    const proofs = await fund(m.wallet, 64);
    const keyset = m.wallet.getKeyset();
    const attempts = await Promise.all(
      Array.from({ length: 8 }, () => post(m.url, '/v1/swap', { inputs: wire(proofs), outputs: blind(64, keyset).wire })),
    );
    assert.equal(attempts.filter((r) => r.status === 200).length, 1);
    assert.ok(attempts.filter((r) => r.status !== 200).every((r) => isNutError(r, 11001)));
    // and through two wallets at once
    const more = await fund(m.wallet, 32);
    const token = getEncodedToken({ mint: m.url, proofs: more, unit: 'sat' });
    const [a, b] = [new Wallet(m.url), new Wallet(m.url)];
    await Promise.all([a.loadMint(), b.loadMint()]);
    const settled = await Promise.allSettled([a.receive(token), b.receive(token)]);
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 1);
    const lost = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.ok(lost && isMintOperationError(lost.reason) && lost.reason.code === 11001);
  });

  it('puts a NUT-12 DLEQ proof on every signature, and the wallet verifies it', async () => {
    const strict = new Wallet(m.url, { requireSigDleq: true });
    await strict.loadMint();
    assert.equal(strict.getMintInfo().isSupported(12).supported, true);
    const proofs = await fund(strict, 50);
    const { keep, send } = await strict.send(7, proofs);
    const keyset = strict.getKeyset();
    for (const p of [...proofs, ...keep, ...send]) {
      assert.ok(p.dleq?.e && p.dleq.s && p.dleq.r, 'dleq with blinding factor');
      assert.equal(hasValidDleq(p, keyset), true);
    }
    const received = await strict.receive(getEncodedToken({ mint: m.url, proofs: send, unit: 'sat' }), { requireDleq: true });
    assert.ok(received.every((p: Proof) => hasValidDleq(p, keyset)));
  });

  it('counts mint round trips per "METHOD /path"', async () => {
    const before = m.mint.counters.get('POST /v1/swap') ?? 0;
    const proofs = await fund(m.wallet, 8);
    await m.wallet.receive(getEncodedToken({ mint: m.url, proofs, unit: 'sat' }));
    assert.equal(m.mint.counters.get('POST /v1/swap'), before + 1);
    assert.equal(m.mint.counters.get('POST /v1/mint/bolt11'), 1);
    assert.ok((m.mint.counters.get('GET /v1/keysets') ?? 0) >= 1);
  });

  it('down = true destroys every connection; false serves again', async () => {
    m.mint.down = true;
    await assert.rejects(fetch(`${m.url}/v1/info`));
    m.mint.down = false;
    assert.equal((await fetch(`${m.url}/v1/info`)).status, 200);
  });
});
