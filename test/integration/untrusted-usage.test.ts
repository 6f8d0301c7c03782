import assert from 'node:assert/strict';
import { completionText, startSimulator, type SimOptions } from '../helpers/simulators/index.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { assertMoney, chatBody, fromEvent, fromHeaders, jobRow, post, readNdjson, readSse, streamedText } from '../helpers/paid-stream.js';

// Prices (TEST_PRICING): a completion token 1 sat, a prompt token 0.1 sat, at least 2 sats.
// chatBody() ("Say hello", one user message): the gateway's own prompt estimate is 9 tokens
// (tolerance 4: at most 13 billed); the simulator's words are one o200k token each, so the
// gateway's own count of N delivered words is N (tolerance max(4, N/10)).

const LIAR = { prompt: 1_000_000, completion: 1_000_000 };

async function disputes(env: PaidEnv, node: string, kind: 'prompt' | 'completion'): Promise<number> {
  const m = await env.gw.metrics.usageDisputes.get();
  return m.values.find((v) => v.labels.node === node && v.labels.kind === kind)?.value ?? 0;
}

describe('untrusted usage: a node that lies about its tokens is paid for what it delivered', function () {
  let env: PaidEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  const start = async (sim: SimOptions, trustUsage: boolean) => (env = await PaidEnv.start({ sim, node: { trustUsage } }));

  it('max_tokens 5, a reported million: billed 5 completion tokens and the estimated prompt; the dispute is counted', async () => {
    const e = await start({ kind: 'vllm', tokens: 30, reportUsageAs: LIAR }, false);
    const res = await post(e, '/v1/chat/completions', chatBody(e, { stream: true, max_tokens: 5 }), { 'x-cashu': await e.token(500) });
    assert.equal(res.status, 200);
    const { data, change } = await readSse(res);
    assert.equal(streamedText(data), completionText(5));
    // prompt ≤ 9 + 4 = 13 → 1.3 sats; completion ≤ max_tokens 5 → 5 sats: 6.3 → 7 sats (the node took 400)
    await assertMoney(e, 500, fromEvent(res, change), { cost: 7 });
    const row = await jobRow(e, fromEvent(res, change).receipt);
    assert.equal(row.completion_tokens, 5);
    assert.equal(row.prompt_tokens, 13);
    assert.equal(await disputes(e, 'node-1', 'completion'), 1);
    assert.equal(await disputes(e, 'node-1', 'prompt'), 1);
    const text = await (await fetch(e.gw.url + '/metrics')).text();
    assert.match(text, /owlrun_usage_disputes_total\{node="node-1",kind="completion"\} 1/);
  });

  it('no max_tokens: billed the own count plus the tolerance, never the report; a trusted backend is billed its report', async () => {
    const e = await start({ kind: 'vllm', tokens: 20, reportUsageAs: { completion: 1_000_000 } }, false);
    const res = await post(e, '/v1/chat/completions', chatBody(e, { stream: true }), { 'x-cashu': await e.token(100) });
    const { data, change } = await readSse(res);
    assert.equal(streamedText(data), completionText(20));
    // real prompt report 2 (honest), completion ≤ 20 + 4 → 0.2 + 24 = 24.2 → 25 sats
    await assertMoney(e, 100, fromEvent(res, change), { cost: 25 });
    assert.equal(await disputes(e, 'node-1', 'completion'), 1);
    assert.equal(await disputes(e, 'node-1', 'prompt'), 0);
    await e.close();

    env = await start({ kind: 'vllm', tokens: 20, reportUsageAs: { completion: 1_000_000 } }, true);
    const trusted = await post(env, '/v1/chat/completions', chatBody(env), { 'x-cashu': await env.token(100) });
    assert.equal(trusted.status, 200);
    // trustUsage: true (the operator's own backend): its report stands, up to what 100 sats buy (99 tokens)
    await assertMoney(env, 100, fromHeaders(trusted), { cost: 100 });
    assert.equal(await disputes(env, 'node-1', 'completion'), 0);
  });

  it('an honest untrusted node is billed its own report, with no dispute', async () => {
    const e = await start({ kind: 'vllm', tokens: 20, promptTokens: 11 }, false);
    const res = await post(e, '/v1/chat/completions', chatBody(e, { stream: true }), { 'x-cashu': await e.token(100) });
    const { change } = await readSse(res);
    // 1.1 + 20 = 21.1 → 22
    await assertMoney(e, 100, fromEvent(res, change), { cost: 22 });
    assert.equal(await disputes(e, 'node-1', 'completion'), 0);
    assert.equal(await disputes(e, 'node-1', 'prompt'), 0);
  });

  it('a node reporting zero is billed what the gateway counted (nothing delivered is never free output)', async () => {
    const e = await start({ kind: 'vllm', tokens: 20, reportUsageAs: { prompt: 0, completion: 0 } }, false);
    const res = await post(e, '/v1/chat/completions', chatBody(e, { stream: true }), { 'x-cashu': await e.token(100) });
    const { change } = await readSse(res);
    // no usage: the estimate, 9 × 0.1 + 20 = 20.9 → 21
    await assertMoney(e, 100, fromEvent(res, change), { cost: 21 });
    assert.equal(await disputes(e, 'node-1', 'completion'), 0);
  });

  it('an absurd prompt count alone is clamped to the estimate plus tolerance', async () => {
    const e = await start({ kind: 'vllm', tokens: 10, reportUsageAs: { prompt: 1_000_000 } }, false);
    const res = await post(e, '/v1/chat/completions', chatBody(e), { 'x-cashu': await e.token(100) });
    assert.equal(res.status, 200);
    // 13 × 0.1 + 10 = 11.3 → 12
    await assertMoney(e, 100, fromHeaders(res), { cost: 12 });
    assert.equal(await disputes(e, 'node-1', 'prompt'), 1);
    assert.equal(await disputes(e, 'node-1', 'completion'), 0);
  });

  it('continuous usage of a million on every chunk neither cuts the stream nor is billed', async () => {
    const e = await start({ kind: 'vllm', tokens: 20, reportUsageAs: LIAR }, false);
    const res = await post(e, '/v1/chat/completions', chatBody(e, { stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }), { 'x-cashu': await e.token(100) });
    const { data, change } = await readSse(res);
    assert.equal(streamedText(data), completionText(20), 'the whole answer arrives');
    // 13 × 0.1 + 24 = 25.3 → 26
    await assertMoney(e, 100, fromEvent(res, change), { cost: 26 });
  });

  it('Ollama native eval_count of a million: billed the delivered words', async () => {
    const e = await start({ kind: 'ollama', tokens: 12, reportUsageAs: LIAR }, false);
    const res = await post(e, '/api/chat', chatBody(e, { options: { num_predict: 6 } }), { 'x-cashu': await e.token(50) });
    const { lines, change } = await readNdjson(res);
    assert.equal(lines.filter((l) => l.done === false).map((l) => (l.message as { content: string }).content).join(''), completionText(6));
    // 1.3 + 6 (num_predict) = 7.3 → 8
    await assertMoney(e, 50, fromEvent(res, change), { cost: 8 });
    assert.equal(await disputes(e, 'node-1', 'completion'), 1);
  });

  it('a node registered by URL is never trusted: billed the delivered words, its provider credited for them only', async () => {
    const e = (env = await PaidEnv.start({ config: { providers: [{ id: 'alice', key: 'alice-key' }, { id: 'bob', key: 'bob-key' }], nodes: { allowPrivateAddresses: true } } }));
    const liar = await startSimulator({ kind: 'ollama', tokens: 30, models: ['sim-reg'], reportUsageAs: LIAR });
    try {
      const reg = await fetch(e.gw.url + '/v1/gateway/register', {
        method: 'POST',
        headers: { authorization: 'Bearer bob-key', 'content-type': 'application/json' },
        body: JSON.stringify({ url: liar.url, kind: 'ollama', name: 'liar' }),
      });
      assert.equal(reg.status, 201, await reg.text());
      const res = await post(e, '/v1/chat/completions', { model: 'sim-reg', messages: [{ role: 'user', content: 'Say hello' }], stream: true, max_tokens: 5 }, { 'x-cashu': await e.token(500) });
      const { data, change } = await readSse(res);
      assert.equal(streamedText(data), completionText(5));
      await assertMoney(e, 500, fromEvent(res, change), { cost: 7 });
      const bob = await fetch(e.gw.url + '/v1/provider/balance', { headers: { authorization: 'Bearer bob-key' } });
      assert.equal(((await bob.json()) as { balance_sats: number }).balance_sats, 6, 'the provider share of 7 sats');
      assert.equal(await disputes(e, 'bob/liar', 'completion'), 1);
    } finally {
      await liar.close();
    }
  });
});
