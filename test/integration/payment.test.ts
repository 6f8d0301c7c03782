import assert from 'node:assert/strict';
import { PaymentRequest, getDecodedToken } from '@cashu/cashu-ts';
import { receiptOf } from '../../plugins/payment/receipt.js';
import { createDevMint } from '../../src/devmint/index.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { PaidEnv } from '../helpers/paid-env.js';

const chat = (env: PaidEnv, headers: Record<string, string>, body: Record<string, unknown> = {}) =>
  fetch(env.gw.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: env.model, messages: [{ role: 'user', content: 'Say hello' }], ...body }),
  });

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('payment: X-Cashu claimed in one swap', () => {
  let env: PaidEnv;
  afterEach(async () => {
    await env?.close();
  });

  it('serves a cashuB payment; X-Cashu-Change redeems for exactly the change; cost + change = paid', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30, promptTokens: 20 } });
    const token = await env.token(100);
    const swapsBefore = env.swaps();
    const res = await chat(env, { 'x-cashu': token });
    assert.equal(res.status, 200);
    await res.json();
    assert.equal(env.swaps() - swapsBefore, 1, 'exactly one mint round trip per paid job');
    // 20 prompt tokens × 0.1 sat + 30 completion tokens × 1 sat = 32 sats
    assert.equal(res.headers.get('x-cashu-cost-sats'), '32');
    assert.equal(res.headers.get('x-cashu-change-sats'), '68');
    const change = res.headers.get('x-cashu-change')!;
    assert.match(change, /^cashuB/);
    assert.match(res.headers.get('x-cashu-receipt') ?? '', /^[A-Za-z0-9_-]{32,}$/);
    assert.equal(await env.redeem(change), 68);
    const books = await env.assertBooksBalance();
    assert.deepEqual(books, { held: 32, gateway: 3, providers: 29, pending: 0 });
  });

  it('streams a cashuA payment and sends the change, in cashuA, as the last event', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 10, promptTokens: 10 } });
    const token = await env.token(50, 3);
    const res = await chat(env, { 'x-cashu': token }, { stream: true });
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    const last = events[events.length - 1]!;
    assert.equal(events[events.length - 2], 'data: [DONE]');
    const change = JSON.parse(last.slice('data: '.length)) as { type: string; token: string; change_sats: number; cost_sats: number };
    assert.equal(change.type, 'cashu_change');
    assert.equal(change.cost_sats, 11);
    assert.equal(change.change_sats, 39);
    assert.match(change.token, /^cashuA/);
    // the usage chunk the gateway asked for is not in the client's stream
    assert.ok(!text.includes('"choices":[],'), 'injected usage chunk was stripped');
    // the receipt returns the same change
    const byReceipt = (await (await fetch(`${env.gw.url}/v1/change/${res.headers.get('x-cashu-receipt')}`)).json()) as { status: string; token: string; change_sats: number };
    assert.equal(byReceipt.status, 'settled');
    assert.equal(byReceipt.token, change.token);
    assert.equal(await env.redeem(change.token), 39);
    await env.assertBooksBalance();
  });

  it('answers 402 with a decodable creqA when no token is sent', async () => {
    env = await PaidEnv.start();
    const res = await chat(env, {});
    assert.equal(res.status, 402);
    assert.equal(await errorCode(res), 'cashu_payment_required');
    const creq = res.headers.get('x-cashu')!;
    assert.match(creq, /^creqA/);
    const req = PaymentRequest.fromEncodedRequest(creq);
    assert.equal(req.unit, 'sat');
    assert.deepEqual(req.mints, [env.mintUrl]);
    assert.ok(Number(req.amount) >= 2);
    assert.equal(env.sim.requests.length, 0);
  });

  it('answers 400 for garbage and 402 for a spent token, and never runs the job', async () => {
    env = await PaidEnv.start();
    const r1 = await chat(env, { 'x-cashu': 'cashuBnotatoken' });
    assert.equal(r1.status, 400);
    assert.equal(await errorCode(r1), 'cashu_token_invalid');
    const token = await env.token(20);
    await env.redeem(token); // spent by the client itself
    const r2 = await chat(env, { 'x-cashu': token });
    assert.equal(r2.status, 402);
    assert.equal(await errorCode(r2), 'cashu_token_spent');
    assert.equal(env.sim.requests.length, 0);
    await env.assertBooksBalance();
  });

  it('serves exactly one of 8 concurrent requests paying with the same token', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 5 } });
    const token = await env.token(40);
    const results = await Promise.all(Array.from({ length: 8 }, () => chat(env, { 'x-cashu': token }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    assert.equal(results.filter((r) => r.status === 200).length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.equal(results.filter((r) => r.status === 402).length, 7);
    assert.equal(env.sim.requests.length, 1);
    await env.assertBooksBalance();
  });

  it('a token that already paid answers 402 with its job\'s receipt, which the client can also derive from the token', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 5, promptTokens: 10 } });
    const token = await env.token(30);
    const first = await chat(env, { 'x-cashu': token });
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    const receipt = first.headers.get('x-cashu-receipt')!;
    const secrets = getDecodedToken(token, env.client.keyChain.getAllKeysetIds()).proofs.map((p) => ({ secret: p.secret }));
    assert.equal(receiptOf({ proofs: secrets as never }), receipt, 'the receipt is derivable from the token');
    const swaps = env.swaps();
    const again = await chat(env, { 'x-cashu': token });
    assert.equal(again.status, 402);
    assert.equal(await errorCode(again), 'cashu_token_spent');
    assert.equal(again.headers.get('x-cashu-receipt'), receipt);
    assert.equal(env.swaps(), swaps, 'no mint call for a token this gateway already claimed');
    const change = (await (await fetch(`${env.gw.url}/v1/change/${receipt}`)).json()) as { status: string; change_sats: number; token: string };
    assert.equal(change.status, 'settled');
    assert.equal(await env.redeem(change.token), change.change_sats);
    assert.equal(env.sim.requests.length, 1);
  });

  it('refuses an untrusted mint and a token below the minimum with 402, echoing the token, still spendable', async () => {
    env = await PaidEnv.start();
    const other = await createDevMint({ db: new SqliteDb(':memory:'), log: () => undefined });
    const otherUrl = await other.listen(0);
    try {
      const { mintToken } = await import('../../src/devmint/index.js');
      const foreign = (await mintToken(otherUrl, 50)).token;
      const r1 = await chat(env, { 'x-cashu': foreign });
      assert.equal(r1.status, 402);
      assert.equal(await errorCode(r1), 'cashu_mint_untrusted');
      assert.equal(r1.headers.get('x-cashu-change'), foreign);
      assert.equal(other.counters.get('POST /v1/swap') ?? 0, 0);
    } finally {
      await other.close();
    }
    const small = await env.token(1);
    const swaps = env.swaps();
    const r2 = await chat(env, { 'x-cashu': small });
    assert.equal(r2.status, 402);
    assert.equal(await errorCode(r2), 'cashu_amount_too_low');
    assert.equal(r2.headers.get('x-cashu-change'), small);
    assert.match(r2.headers.get('x-cashu') ?? '', /^creqA/);
    assert.equal(env.swaps(), swaps);
    assert.equal(await env.spendable(small), true);
  });

  it('answers 401 before touching the token when API keys are required', async () => {
    env = await PaidEnv.start({ config: { auth: { required: true, apiKeys: [{ id: 'demo', key: 'k1' }] } } });
    const token = await env.token(20);
    const swaps = env.swaps();
    const r1 = await chat(env, { 'x-cashu': token });
    assert.equal(r1.status, 401);
    assert.equal(await errorCode(r1), 'auth_missing_key');
    const r2 = await chat(env, { 'x-cashu': token, authorization: 'Bearer wrong' });
    assert.equal(r2.status, 401);
    assert.equal(await errorCode(r2), 'auth_invalid_key');
    assert.equal(env.swaps(), swaps);
    assert.equal(await env.spendable(token), true);
    const r3 = await chat(env, { 'x-cashu': token, authorization: 'Bearer k1' });
    assert.equal(r3.status, 200);
    await r3.arrayBuffer();
  });

  it('refunds with 404 (unknown model) and 503 (node down) before claiming: the untouched token comes back', async () => {
    env = await PaidEnv.start();
    const token = await env.token(20);
    const swaps = env.swaps();
    const r1 = await chat(env, { 'x-cashu': token }, { model: 'no-such-model' });
    assert.equal(r1.status, 404);
    assert.equal(await errorCode(r1), 'no_backend_for_model');
    assert.equal(r1.headers.get('x-cashu-change'), token);
    env.gw.pool.get('node-1')!.healthy = false;
    const r2 = await chat(env, { 'x-cashu': token });
    assert.equal(r2.status, 503);
    assert.equal(await errorCode(r2), 'backend_unavailable');
    assert.equal(r2.headers.get('x-cashu-change'), token);
    assert.equal(env.swaps(), swaps);
    assert.equal(await env.redeem(token), 20);
  });

  it('refunds in full, in fresh proofs, when the node fails before inference after the claim', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', failStatus: 500 } });
    const token = await env.token(30);
    const res = await chat(env, { 'x-cashu': token });
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    assert.equal(res.headers.get('x-cashu-cost-sats'), '0');
    assert.equal(res.headers.get('x-cashu-change-sats'), '30');
    const change = res.headers.get('x-cashu-change')!;
    assert.notEqual(change, token);
    assert.equal(await env.redeem(change), 30);
    assert.deepEqual(await env.assertBooksBalance(), { held: 0, gateway: 0, providers: 0, pending: 0 });
  });

  it('answers 503 when the mint is down, leaving the token untouched', async () => {
    env = await PaidEnv.start();
    const token = await env.token(20);
    env.mint.down = true;
    const res = await chat(env, { 'x-cashu': token });
    env.mint.down = false;
    assert.equal(res.status, 503);
    assert.equal(await errorCode(res), 'cashu_mint_unreachable');
    assert.equal(await env.spendable(token), true);
    assert.equal(env.sim.requests.length, 0);
  });

  it('handles mint input fees: the client pays them, change is exact', async () => {
    env = await PaidEnv.start({ inputFeePpk: 100, sim: { kind: 'vllm', tokens: 10, promptTokens: 10 } });
    const token = await env.token(64);
    const res = await chat(env, { 'x-cashu': token });
    assert.equal(res.status, 200);
    await res.json();
    const cost = Number(res.headers.get('x-cashu-cost-sats'));
    const change = Number(res.headers.get('x-cashu-change-sats'));
    assert.equal(cost, 11);
    // one 64-sat proof in: 1 sat of input fee (ceil(100/1000)) is the client's
    assert.equal(cost + change + 1, 64);
    const received = await env.redeem(res.headers.get('x-cashu-change')!);
    assert.ok(received <= change && received >= change - 8, `received ${received} of ${change} after the client's own input fees`);
    await env.assertBooksBalance();
  });
});
