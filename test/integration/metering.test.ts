import assert from 'node:assert/strict';
import { PaymentRequest } from '@cashu/cashu-ts';
import { completionText } from '../helpers/simulators/index.js';
import { PaidEnv } from '../helpers/paid-env.js';
import {
  assertMoney,
  chatBody,
  contentEvents,
  fromEvent,
  fromHeaders,
  jobRow,
  post,
  readNdjson,
  readSse,
  streamedText,
} from '../helpers/paid-stream.js';

// Prices (TEST_PRICING): a completion token 1 sat, a prompt token 0.1 sat, at least 2 sats a job.
// The gateway's prompt estimate of chatBody() ("Say hello" in one user message) is 9 tokens
// (3 per conversation + 4 per message + 2), of a bare prompt "Say hello" 2 tokens: a payment of
// P sats buys floor(P − 0.9) (chat) or floor(P − 0.2) (prompt) completion tokens.

type Body = Record<string, unknown>;
const backendBody = (env: PaidEnv, i = 0): Body => env.sim.requests[i]!.body as Body;

describe('metering: the bill follows what the backend produced', function () {
  let env: PaidEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  describe('exact bills for reported usage, on every backend kind and route', () => {
    it('vLLM chat stream: bills the usage it asked for, caps max_tokens to the payment, hides the usage chunk', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30, promptTokens: 20 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(100) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const { data, change } = await readSse(res);
      assert.equal(data[data.length - 1], '[DONE]', 'the change event comes after [DONE]');
      assert.equal(streamedText(data), completionText(30));
      assert.ok(!data.some((d) => d.includes('"choices":[]')), 'the usage chunk the gateway asked for is not forwarded');
      const sent = backendBody(env);
      assert.equal(sent.max_tokens, 99, 'the cap is what 100 sats buy after the prompt');
      assert.deepEqual(sent.stream_options, { include_usage: true });
      // 20 × 0.1 + 30 × 1 = 32 sats
      await assertMoney(env, 100, fromEvent(res, change), { cost: 32 });
      const row = await jobRow(env, fromEvent(res, change).receipt);
      assert.equal(row.token_source, 'backend');
      assert.equal(row.provider_sats, 29);
      assert.equal(row.gateway_sats, 3);
    });

    it('vLLM chat, not streamed: bill and change in headers', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 17, promptTokens: 33 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env), { 'x-cashu': await env.token(64) });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
      assert.equal(body.choices[0]!.message.content, completionText(17));
      assert.equal(body.usage.completion_tokens, 17, 'the backend usage reaches the client untouched');
      const sent = backendBody(env);
      assert.equal(sent.max_tokens, 63);
      assert.equal(sent.stream_options, undefined, 'no stream_options on a non-streaming request (vLLM rejects them)');
      // 3.3 + 17 = 20.3 → 21 sats
      await assertMoney(env, 64, fromHeaders(res), { cost: 21 });
    });

    it('vLLM /v1/completions stream: bills the usage, caps max_tokens', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 10, promptTokens: 30 } });
      const res = await post(env, '/v1/completions', { model: env.model, prompt: 'Say hello', stream: true }, { 'x-cashu': await env.token(40) });
      assert.equal(res.status, 200);
      const { data, change } = await readSse(res);
      assert.equal(data[data.length - 1], '[DONE]');
      assert.equal(streamedText(data), completionText(10));
      assert.ok(!data.some((d) => d.includes('"choices":[]')));
      assert.equal(backendBody(env).max_tokens, 39);
      // 3 + 10 = 13 sats
      await assertMoney(env, 40, fromEvent(res, change), { cost: 13 });
    });

    it('Ollama /api/chat stream: bills eval counts; the change is its own NDJSON line after the done line', async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 12, promptTokens: 25 } });
      const res = await post(env, '/api/chat', chatBody(env), { 'x-cashu': await env.token(50) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      const { lines, change } = await readNdjson(res);
      const last = lines[lines.length - 1]!;
      assert.equal(last.done, true, 'the line before the change is the backend done line');
      assert.equal(last.eval_count, 12);
      assert.equal(lines.filter((l) => l.done === false).map((l) => (l.message as { content: string }).content).join(''), completionText(12));
      assert.equal((backendBody(env).options as Body).num_predict, 49, 'options.num_predict is what 50 sats buy');
      // 2.5 + 12 = 14.5 → 15 sats
      await assertMoney(env, 50, fromEvent(res, change), { cost: 15 });
    });

    it('Ollama /api/generate, streamed and not: bills eval counts', async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 8, promptTokens: 40 } });
      const r1 = await post(env, '/api/generate', { model: env.model, prompt: 'Say hello' }, { 'x-cashu': await env.token(30) });
      assert.equal(r1.status, 200);
      const { lines, change } = await readNdjson(r1);
      assert.equal(lines[lines.length - 1]!.done, true);
      assert.equal(lines.filter((l) => l.done === false).map((l) => l.response).join(''), completionText(8));
      assert.equal((backendBody(env).options as Body).num_predict, 29);
      // 4 + 8 = 12 sats
      await assertMoney(env, 30, fromEvent(r1, change), { cost: 12 });

      const r2 = await post(env, '/api/generate', { model: env.model, prompt: 'Say hello', stream: false }, { 'x-cashu': await env.token(30) });
      assert.equal(r2.status, 200);
      const body = (await r2.json()) as { response: string; done: boolean };
      assert.equal(body.response, completionText(8));
      assert.equal(body.done, true);
      assert.equal((backendBody(env, 1).options as Body).num_predict, 29);
      await assertMoney(env, 30, fromHeaders(r2), { cost: 12 });
    });

    it('Ollama /v1/chat/completions stream: bills the usage it asked for, caps with max_tokens', async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 9, promptTokens: 11 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(32) });
      assert.equal(res.status, 200);
      const { data, change } = await readSse(res);
      assert.equal(data[data.length - 1], '[DONE]');
      assert.equal(streamedText(data), completionText(9));
      assert.ok(!data.some((d) => d.includes('"choices":[]')));
      const sent = backendBody(env);
      assert.equal(sent.max_tokens, 31);
      assert.equal(sent.max_completion_tokens, undefined);
      assert.deepEqual(sent.stream_options, { include_usage: true });
      // 1.1 + 9 = 10.1 → 11 sats
      await assertMoney(env, 32, fromEvent(res, change), { cost: 11 });
      assert.equal((await jobRow(env, fromEvent(res, change).receipt)).token_source, 'backend');
    });

    it('Ollama /v1/completions stream (no usage on that route): bills the estimate of the delivered text', async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 14, promptTokens: 7 } });
      const res = await post(env, '/v1/completions', { model: env.model, prompt: 'Say hello', stream: true }, { 'x-cashu': await env.token(20) });
      assert.equal(res.status, 200);
      const { data, change } = await readSse(res);
      assert.equal(data[data.length - 1], '[DONE]');
      assert.equal(streamedText(data), completionText(14));
      assert.equal(backendBody(env).stream_options, undefined, 'not asked: Ollama would put a zero usage on every chunk');
      assert.equal(backendBody(env).max_tokens, 19);
      // estimated: 2 prompt tokens (0.2) + 14 words = 14.2 → 15 sats
      await assertMoney(env, 20, fromEvent(res, change), { cost: 15 });
      assert.equal((await jobRow(env, fromEvent(res, change).receipt)).token_source, 'estimated');
    });

    it('llama.cpp chat stream: bills the include_usage chunk, then hides it', async () => {
      env = await PaidEnv.start({ sim: { kind: 'llamacpp', tokens: 15, promptTokens: 50 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(40) });
      assert.equal(res.status, 200);
      const { data, change } = await readSse(res);
      assert.equal(data[data.length - 1], '[DONE]');
      assert.equal(streamedText(data), completionText(15));
      assert.ok(!data.some((d) => d.includes('"choices":[]')));
      assert.equal(backendBody(env).max_tokens, 39);
      // 5 + 15 = 20 sats
      await assertMoney(env, 40, fromEvent(res, change), { cost: 20 });
    });

    it('llama.cpp chat stream with no usage and no timings: bills the estimate of the delivered text', async () => {
      env = await PaidEnv.start({ sim: { kind: 'llamacpp', tokens: 15, promptTokens: 50, reportUsage: false } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(40) });
      const { data, change } = await readSse(res);
      assert.ok(!data.some((d) => d.includes('"usage"') || d.includes('"timings"')), 'the simulator sent no counts');
      // estimated: 9 prompt tokens (0.9) + 15 words = 15.9 → 16 sats
      await assertMoney(env, 40, fromEvent(res, change), { cost: 16 });
      assert.equal((await jobRow(env, fromEvent(res, change).receipt)).token_source, 'estimated');
    });
  });

  describe('the usage chunk', () => {
    it('is kept in the stream when the client asked for it (stream_options.include_usage)', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 10, promptTokens: 10 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true, stream_options: { include_usage: true } }), { 'x-cashu': await env.token(20) });
      const { data, change } = await readSse(res);
      const usage = data.filter((d) => d.includes('"choices":[]')).map((d) => JSON.parse(d) as { usage: Record<string, number> });
      assert.equal(usage.length, 1, 'the client gets the usage chunk it asked for');
      assert.equal(usage[0]!.usage.completion_tokens, 10);
      assert.equal(data[data.length - 1], '[DONE]');
      assert.deepEqual(backendBody(env).stream_options, { include_usage: true });
      // 1 + 10 = 11 sats
      await assertMoney(env, 20, fromEvent(res, change), { cost: 11 });
    });
  });

  describe('estimated bills when the backend reports no usage', () => {
    it('bills a vLLM stream close to the delivered words (> 0)', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 25, reportUsage: false } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(50) });
      const { data, change } = await readSse(res);
      assert.equal(contentEvents(data), 25);
      assert.ok(change.cost_sats >= 25 && change.cost_sats <= 27, `cost ${change.cost_sats} ≈ 25 words + a 9-token prompt estimate`);
      await assertMoney(env, 50, fromEvent(res, change), { cost: 26 });
    });

    it('bills a non-streamed vLLM answer close to its words (> 0)', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 25, reportUsage: false } });
      const res = await post(env, '/v1/chat/completions', chatBody(env), { 'x-cashu': await env.token(50) });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Body;
      assert.equal(body.usage, undefined);
      const s = fromHeaders(res);
      assert.ok(s.cost >= 25 && s.cost <= 27, `cost ${s.cost}`);
      await assertMoney(env, 50, s, { cost: 26 });
    });

    it('bills an Ollama /api/chat stream without eval counts close to its words (> 0)', async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 20, reportUsage: false } });
      const res = await post(env, '/api/chat', chatBody(env), { 'x-cashu': await env.token(40) });
      const { lines, change } = await readNdjson(res);
      assert.equal(lines[lines.length - 1]!.eval_count, undefined);
      assert.ok(change.cost_sats >= 20 && change.cost_sats <= 22, `cost ${change.cost_sats}`);
      await assertMoney(env, 40, fromEvent(res, change), { cost: 21 });
    });
  });

  describe('the output cap', () => {
    it("keeps a client's smaller max_completion_tokens (vLLM)", async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30, promptTokens: 20 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true, max_completion_tokens: 6 }), { 'x-cashu': await env.token(50) });
      const { data, change } = await readSse(res);
      assert.equal(contentEvents(data), 6);
      const sent = backendBody(env);
      assert.equal(sent.max_completion_tokens, 6);
      assert.equal(sent.max_tokens, undefined, 'nothing added beside the client cap that already binds');
      // 2 + 6 = 8 sats
      await assertMoney(env, 50, fromEvent(res, change), { cost: 8 });
    });

    it('caps a larger client max_tokens down to what the payment buys (vLLM)', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30, promptTokens: 20 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { max_tokens: 500 }), { 'x-cashu': await env.token(12) });
      assert.equal(res.status, 200);
      await res.json();
      assert.equal(backendBody(env).max_tokens, 11);
      // the backend honours 11: 2 + 11 = 13 sats, more than the 12 paid: billed 12, never more
      await assertMoney(env, 12, fromHeaders(res), { cost: 12 });
    });

    it("keeps a client's smaller options.num_predict (Ollama native)", async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 30, promptTokens: 10 } });
      const res = await post(env, '/api/chat', chatBody(env, { options: { num_predict: 4, temperature: 0 } }), { 'x-cashu': await env.token(20) });
      const { lines, change } = await readNdjson(res);
      assert.equal(lines.filter((l) => l.done === false).length, 4);
      assert.deepEqual(backendBody(env).options, { num_predict: 4, temperature: 0 });
      // 1 + 4 = 5 sats
      await assertMoney(env, 20, fromEvent(res, change), { cost: 5 });
    });

    it("turns a client's max_completion_tokens into max_tokens for Ollama /v1 (which reads only max_tokens)", async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 30, promptTokens: 10 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { max_completion_tokens: 5 }), { 'x-cashu': await env.token(20) });
      assert.equal(res.status, 200);
      await res.json();
      const sent = backendBody(env);
      assert.equal(sent.max_tokens, 5);
      assert.equal(sent.max_completion_tokens, undefined);
      // 1 + 5 = 6 sats
      await assertMoney(env, 20, fromHeaders(res), { cost: 6 });
    });

    it('caps a request whose client set max_tokens and max_completion_tokens to null (vLLM)', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 200, promptTokens: 10 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { max_tokens: null, max_completion_tokens: null }), { 'x-cashu': await env.token(20) });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { usage: { completion_tokens: number } };
      assert.equal(backendBody(env).max_tokens, 19);
      assert.equal(body.usage.completion_tokens, 19, 'the backend generated only what was paid for');
      // 1 + 19 = 20 sats
      await assertMoney(env, 20, fromHeaders(res), { cost: 20 });
    });

    it("caps a llama.cpp request whose client asked for unlimited output (n_predict: -1, which llama.cpp prefers to max_tokens)", async () => {
      env = await PaidEnv.start({ sim: { kind: 'llamacpp', tokens: 200, promptTokens: 10 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { n_predict: -1 }), { 'x-cashu': await env.token(20) });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { usage: { completion_tokens: number } };
      assert.equal(backendBody(env).n_predict, 19);
      assert.equal(body.usage.completion_tokens, 19);
      await assertMoney(env, 20, fromHeaders(res), { cost: 20 });
    });

    it('shares the budget between the n choices a client asks for (vLLM generates up to the cap for each)', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 200, promptTokens: 10 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { n: 2 }), { 'x-cashu': await env.token(21) });
      assert.equal(res.status, 200);
      await res.json();
      assert.equal(backendBody(env).max_tokens, 10, '20 paid tokens over 2 choices');
      // (the simulator answers one choice) 1 + 10 = 11 sats
      await assertMoney(env, 21, fromHeaders(res), { cost: 11 });
    });

    it('cuts an SSE stream whose backend ignores the cap at the paid budget: [DONE], then the change', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 2000, tokenDelayMs: 5, ignoreMaxTokens: true } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(25) });
      const { data, change } = await readSse(res);
      assert.equal(backendBody(env).max_tokens, 24);
      assert.equal(contentEvents(data), 24, 'exactly the 24 paid tokens reach the client');
      assert.equal(data[data.length - 1], '[DONE]', 'the gateway ends the cut stream with [DONE] before the change');
      await env.sim.waitForRequests(1);
      const rec = env.sim.requests[0]!;
      assert.ok(rec.aborted, 'the upstream request was aborted (the GPU stops)');
      assert.ok(rec.tokensSent < 2000);
      // 0.9 + 24 = 24.9 → 25 sats: everything paid was used
      await assertMoney(env, 25, fromEvent(res, change), { cost: 25 });
      assert.equal((await jobRow(env, fromEvent(res, change).receipt)).outcome, 'cut');
    });

    it('cuts an NDJSON stream whose backend ignores the cap: a done line, then the change line', async () => {
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 2000, tokenDelayMs: 5, ignoreMaxTokens: true } });
      const res = await post(env, '/api/chat', chatBody(env), { 'x-cashu': await env.token(15) });
      const { lines, change } = await readNdjson(res);
      assert.equal((backendBody(env).options as Body).num_predict, 14);
      const content = lines.filter((l) => l.done === false);
      assert.equal(content.length, 14);
      const done = lines[lines.length - 1]!;
      assert.equal(done.done, true, 'the gateway closes the cut stream with a done line');
      assert.equal(done.done_reason, 'length');
      assert.equal(lines.length, 15);
      await env.sim.waitForRequests(1);
      assert.ok(env.sim.requests[0]!.aborted);
      await assertMoney(env, 15, fromEvent(res, change), { cost: 15 });
    });
  });

  describe('a payment that cannot cover the prompt', () => {
    it('answers 402 cashu_amount_too_low before any claim; the token stays spendable', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 5 } });
      const token = await env.token(10);
      const swaps = env.swaps();
      const prompt = Array.from({ length: 600 }, (_, i) => `word${i % 50}`).join(' ');
      const res = await post(env, '/v1/chat/completions', chatBody(env, { messages: [{ role: 'user', content: prompt }] }), { 'x-cashu': token });
      assert.equal(res.status, 402);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'cashu_amount_too_low');
      assert.equal(res.headers.get('x-cashu-change'), token, 'the untouched token is echoed back');
      const req = PaymentRequest.fromEncodedRequest(res.headers.get('x-cashu')!);
      assert.ok(Number(req.amount) > 10, `the payment request asks for what the prompt costs (${req.amount})`);
      assert.equal(env.swaps(), swaps, 'nothing was claimed');
      assert.equal(env.sim.requests.length, 0);
      assert.equal(await env.spendable(token), true);
      assert.deepEqual(await env.assertBooksBalance(), { held: 0, gateway: 0, providers: 0, pending: 0 });
    });
  });
});
