import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { openWallet, type Settlement } from '../../src/client/index.js';
import { chat, costsOf, openaiFor, ScratchDir } from '../helpers/client.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { chatBody } from '../helpers/paid-stream.js';

describe('agent wallet (owlrun-gateway/client) paying a gateway', function () {
  this.timeout(120_000);
  let env: PaidEnv;
  const dir = new ScratchDir();

  before(async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30 } });
  });
  after(async () => {
    await env.close();
    dir.remove();
  });

  it('20 calls (stream and not) through the openai SDK: balance = start − Σ cost_sats, to the sat; restore from the seed gives it back', async () => {
    const file = dir.file();
    const wallet = await openWallet({ file, mint: env.mintUrl });
    assert.equal(await wallet.topup(3000), 3000);
    const start = await wallet.balance();
    const client = openaiFor(env, wallet);
    const settled: Settlement[] = [];
    wallet.onSettled((s) => settled.push(s));
    const receipts: string[] = [];
    for (let i = 0; i < 20; i++) {
      const call = await chat(client, env.model, i % 2 === 0, `Question number ${i}`);
      assert.ok(call.text.length > 0, 'the answer came through');
      assert.doesNotMatch(call.text, /cashu/);
      receipts.push(call.receipt);
    }
    const cost = await costsOf(env, receipts);
    assert.ok(cost > 20 * 2);
    assert.equal(await wallet.balance(), start - cost, 'balance right after the last call returns');
    assert.equal(await wallet.pendingSats(), 0);
    assert.equal(settled.length, 20);
    assert.equal(settled.reduce((n, s) => n + (s.costSats ?? 0), 0), cost);
    assert.ok(settled.every((s) => s.status === 'settled' && s.paidSats === s.costSats! + s.changeSats));
    await env.assertBooksBalance();

    const state = JSON.parse(readFileSync(file, 'utf8')) as { payments: unknown[]; ops: unknown[]; mnemonic: string };
    assert.deepEqual([state.payments.length, state.ops.length], [0, 0]);
    assert.equal(statSync(file).mode & 0o077, 0, 'the wallet file is readable by its owner only');

    const restored = await openWallet({ file: dir.file(), mint: env.mintUrl, mnemonic: state.mnemonic });
    assert.equal(await restored.balance(), start - cost, 'restore (NUT-09) from the words into an empty file');
  });

  it('8 concurrent calls from one wallet never spend a proof twice', async () => {
    const wallet = await openWallet({ file: dir.file(), mint: env.mintUrl });
    await wallet.topup(1000);
    const client = openaiFor(env, wallet);
    const calls = await Promise.all(Array.from({ length: 8 }, (_, i) => chat(client, env.model, i % 2 === 1, `Concurrent ${i}`)));
    const cost = await costsOf(env, calls.map((c) => c.receipt));
    assert.equal(await wallet.balance(), 1000 - cost);
    assert.equal(new Set(calls.map((c) => c.receipt)).size, 8);
    await env.assertBooksBalance();
  });

  it('pays with an exact subset when there is one (no swap), with one swap otherwise', async () => {
    const file = dir.file();
    const wallet = await openWallet({ file, mint: env.mintUrl, maxSatsPerRequest: 36 });
    await wallet.topup(100);
    const amounts = () => (JSON.parse(readFileSync(file, 'utf8')) as { proofs: { amount: number }[] }).proofs.map((p) => p.amount).sort((x, y) => x - y);
    assert.deepEqual(amounts(), [4, 32, 64]);
    const client = openaiFor(env, wallet);
    let swaps = env.swaps();
    const a = await chat(client, env.model, false, 'hi', 1000); // 36 = 32 + 4: exact
    const balance = await wallet.balance();
    const costA = await costsOf(env, [a.receipt]);
    assert.equal(balance, 100 - costA);
    // the gateway's claim, and the change swapped into the wallet (if any)
    assert.equal(env.swaps() - swaps, costA === 36 ? 1 : 2, 'no swap to pay');
    swaps = env.swaps();
    assert.ok(!amounts().includes(32), 'no 32 left: no exact 36');
    const b = await chat(client, env.model, true, 'hi', 1000);
    const costB = await costsOf(env, [b.receipt]);
    assert.equal(await wallet.balance(), balance - costB);
    assert.equal(env.swaps() - swaps, 1 + 1 + (costB === 36 ? 0 : 1), 'one swap to pay');
  });

  it('answers a 402 payment request (creqA) by itself when the gateway publishes no terms (a wallet in memory)', async () => {
    // A proxy in front of the gateway that forwards only the API routes: no /v1/payment/info.
    const hidden = (input: RequestInfo | URL, init?: RequestInit) =>
      String(input instanceof Request ? input.url : input).endsWith('/v1/payment/info') ? Promise.resolve(new Response('not found', { status: 404 })) : fetch(input, init);
    const wallet = await openWallet({ mint: env.mintUrl, fetch: hidden }); // no file: in memory, as in a browser
    await wallet.topup(500);
    const res = await wallet.fetch(`${env.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody(env, { max_tokens: 40 })),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { usage: { completion_tokens: number } };
    assert.equal(body.usage.completion_tokens, 30, 'paid for the whole answer, not just the least the challenge named');
    const cost = await costsOf(env, [res.headers.get('x-cashu-receipt')!]);
    assert.equal(await wallet.balance(), 500 - cost);
    await env.assertBooksBalance();
  });

  it('a balance too low is a 402 from the wallet itself (the SDK shows why and does not retry); nothing is sent or lost', async () => {
    const wallet = await openWallet({ file: dir.file(), mint: env.mintUrl });
    await wallet.topup(10);
    const seen = env.sim.requests.length;
    const err = await chat(openaiFor(env, wallet), env.model, true, 'hi', 100).then(
      () => assert.fail('paid with too little'),
      (e: unknown) => e as { status?: number; code?: string; message: string },
    );
    assert.equal(err.status, 402);
    assert.equal(err.code, 'wallet_insufficient_balance');
    assert.match(err.message, /not enough sats/);
    assert.equal(env.sim.requests.length, seen, 'no request reached the backend');
    assert.equal(await wallet.balance(), 10);
  });

  it('leaves requests that are not to a gateway route alone, and a request that pays by itself', async () => {
    const wallet = await openWallet({ file: dir.file(), mint: env.mintUrl });
    const models = await wallet.fetch(`${env.gw.url}/v1/models`);
    assert.equal(models.status, 200);
    const token = await env.token(100);
    const res = await wallet.fetch(`${env.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cashu': token },
      body: JSON.stringify(chatBody(env)),
    });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('x-cashu-change'), 'the change of a self-paid call stays the caller’s');
    assert.equal(await wallet.balance(), 0);
  });
});
