import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { completionText } from '../helpers/simulators/index.js';
import { PaidEnv } from '../helpers/paid-env.js';
import {
  assertMoney,
  chatBody,
  contentEvents,
  fromEvent,
  fromHeaders,
  getReceipt,
  jobRow,
  post,
  readNdjson,
  readSse,
  receiptOf,
  sseData,
  streamedText,
  waitFor,
  type Settled,
} from '../helpers/paid-stream.js';

// Prices (TEST_PRICING): a completion token 1 sat, a prompt token 0.1 sat, at least 2 sats a job.
// chatBody()'s prompt is estimated at 9 tokens (0.9 sat) when the backend reports no usage.

/** The settled figures by receipt, once the job has settled. */
async function settledByReceipt(env: PaidEnv, receipt: string): Promise<Settled> {
  let body: Record<string, unknown> = {};
  await waitFor(async () => {
    const r = await getReceipt(env, receipt);
    assert.equal(r.status, 200);
    body = r.body;
    return body.status === 'settled';
  }, 'the job to settle');
  return { cost: body.cost_sats as number, change: body.change_sats as number, token: body.token as string, receipt };
}

describe('settlement: every job settles once, and the client gets its change', function () {
  let env: PaidEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it('the stock openai SDK streams a paid chat without error and gets its change by receipt', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 12, promptTokens: 10 } });
    const client = new OpenAI({ baseURL: env.gw.url + '/v1', apiKey: 'x', defaultHeaders: { 'X-Cashu': await env.token(40) }, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions
      .create({ model: env.model, messages: [{ role: 'user', content: 'Say hello' }], stream: true })
      .withResponse();
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.ok(chunks > 0);
    assert.equal(text, completionText(12));
    const receipt = response.headers.get('x-cashu-receipt');
    assert.ok(receipt, 'the SDK exposes X-Cashu-Receipt');
    const s = await settledByReceipt(env, receipt);
    // 1 + 12 = 13 sats
    await assertMoney(env, 40, s, { cost: 13 });
  });

  it('a client that disconnects mid-stream stops the backend, is billed for what was delivered, and redeems its change by receipt', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 2000, tokenDelayMs: 5 } });
    const abort = new AbortController();
    const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(100) }, abort.signal);
    assert.equal(res.status, 200);
    const receipt = receiptOf(res);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (contentEvents(sseData(text.slice(0, text.lastIndexOf('\n\n') + 2))) < 5) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream went on');
      text += decoder.decode(value, { stream: true });
    }
    const seen = contentEvents(sseData(text.slice(0, text.lastIndexOf('\n\n') + 2)));
    abort.abort();
    await reader.cancel().catch(() => undefined);

    await env.sim.waitForRequests(1);
    const rec = env.sim.requests[0]!;
    assert.ok(rec.aborted, 'the upstream request was aborted');
    assert.ok(rec.tokensSent < 2000);
    const s = await settledByReceipt(env, receipt);
    const row = await jobRow(env, receipt);
    assert.equal(row.outcome, 'client_gone');
    assert.ok(row.completion_tokens! >= seen, `billed ${row.completion_tokens} tokens, the client saw ${seen}`);
    assert.ok(row.completion_tokens! <= rec.tokensSent, `billed ${row.completion_tokens} tokens, the backend sent ${rec.tokensSent}`);
    assert.equal(s.cost, Math.ceil(0.9 + row.completion_tokens!));
    assert.ok(s.cost <= 100);
    await assertMoney(env, 100, s);
  });

  for (const stream of [true, false]) {
    it(`a client that leaves before the backend's first byte (${stream ? 'stream' : 'not streamed'}) is not billed, and its output is not generated for nobody`, async () => {
      // Ollama sends its response headers with the first token: the client gives up during "prompt processing".
      env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 300, tokenDelayMs: 5, firstTokenDelayMs: 2000 } });
      const abort = new AbortController();
      const pending = post(env, '/api/chat', chatBody(env, { stream }), { 'x-cashu': await env.token(400) }, abort.signal).catch((err: unknown) => err);
      const sim = env.sim;
      await waitFor(() => sim.requests.length === 1, 'the request to reach the backend');
      abort.abort();
      assert.ok((await pending) instanceof Error, 'the client gave up before any response');
      await env.sim.waitForRequests(1);
      if (stream) {
        assert.ok(env.sim.requests[0]!.aborted, 'the upstream was aborted at its first byte');
        assert.ok(env.sim.requests[0]!.tokensSent < 300);
      }
      const gw = env.gw;
      await waitFor(async () => (await gw.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'settled'`))!.n === 1, 'the job to settle');
      const row = (await gw.db.get<{ outcome: string; cost_sats: number; change_sats: number; change_token: string }>(`SELECT * FROM jobs`))!;
      assert.equal(row.outcome, 'client_gone');
      assert.equal(row.cost_sats, 0, 'nothing was delivered, nothing is charged');
      assert.equal(row.change_sats, 400);
      assert.equal(await env.redeem(row.change_token), 400, 'the refund is real money');
      assert.deepEqual(await env.assertBooksBalance(), { held: 0, gateway: 0, providers: 0, pending: 0 });
    });
  }

  it('a backend that dies mid-stream: the stream still ends with [DONE] and the change; billed for the delivered tokens', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30, dieAfterTokens: 7 } });
    const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(50) });
    assert.equal(res.status, 200);
    const { data, change } = await readSse(res);
    assert.equal(data[data.length - 1], '[DONE]', 'the gateway supplies the [DONE] the backend never sent');
    assert.equal(streamedText(data), completionText(7));
    assert.equal(env.sim.requests[0]!.died, true);
    // 0.9 + 7 = 7.9 → 8 sats
    await assertMoney(env, 50, fromEvent(res, change), { cost: 8 });
    assert.equal((await jobRow(env, receiptOf(res))).outcome, 'backend_failed');
  });

  it('a backend that dies mid-stream on Ollama native: the change line still ends the NDJSON stream', async () => {
    env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 30, dieAfterTokens: 6 } });
    const res = await post(env, '/api/chat', chatBody(env), { 'x-cashu': await env.token(50) });
    const { lines, change } = await readNdjson(res);
    assert.equal(lines.length, 6);
    // 0.9 + 6 = 6.9 → 7 sats
    await assertMoney(env, 50, fromEvent(res, change), { cost: 7 });
  });

  for (const kind of ['vllm', 'llamacpp'] as const) {
    it(`a ${kind} in-stream error: the client sees it, the stream ends with [DONE] and the change; billed for the delivered tokens`, async () => {
      env = await PaidEnv.start({ sim: { kind, tokens: 30, errorAfterTokens: 5 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(50) });
      assert.equal(res.status, 200);
      const { data, change } = await readSse(res);
      assert.equal(data[data.length - 1], '[DONE]');
      assert.ok(data.some((d) => d.startsWith('{"error"')), "the backend's error event is forwarded");
      assert.equal(streamedText(data.filter((d) => !d.startsWith('{"error"'))), completionText(5));
      // 0.9 + 5 = 5.9 → 6 sats
      await assertMoney(env, 50, fromEvent(res, change), { cost: 6 });
    });
  }

  it('an Ollama /v1 stream that breaks (no [DONE]): the gateway ends it with [DONE] and the change', async () => {
    env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 30, errorAfterTokens: 5 } });
    const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(50) });
    assert.equal(res.status, 200);
    const { data, change } = await readSse(res);
    assert.equal(data[data.length - 1], '[DONE]');
    assert.equal(streamedText(data), completionText(5));
    await assertMoney(env, 50, fromEvent(res, change), { cost: 6 });
  });

  it('an Ollama native error line mid-stream: the client sees it, then the change line; billed for the delivered tokens', async () => {
    env = await PaidEnv.start({ sim: { kind: 'ollama', tokens: 30, errorAfterTokens: 5 } });
    const res = await post(env, '/api/chat', chatBody(env), { 'x-cashu': await env.token(50) });
    const { lines, change } = await readNdjson(res);
    assert.equal(lines.length, 6);
    assert.equal(typeof lines[5]!.error, 'string');
    await assertMoney(env, 50, fromEvent(res, change), { cost: 6 });
  });

  it('a vLLM in-stream error before the first token (headers already sent): full refund in the change event', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30, errorAfterTokens: 0 } });
    const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(30) });
    assert.equal(res.status, 200);
    const { data, change } = await readSse(res);
    assert.equal(contentEvents(data), 0);
    assert.equal(data[data.length - 1], '[DONE]');
    await assertMoney(env, 30, fromEvent(res, change), { cost: 0 });
    assert.deepEqual(await env.assertBooksBalance(), { held: 0, gateway: 0, providers: 0, pending: 0 });
  });

  it('a backend 5xx before the first token refunds everything in X-Cashu-Change, for a streaming request too', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', failStatus: 500 } });
    const res = await post(env, '/v1/chat/completions', chatBody(env, { stream: true }), { 'x-cashu': await env.token(30) });
    assert.equal(res.status, 500);
    const body = (await res.json()) as { error: unknown };
    assert.ok(body.error, "the backend's own error body reaches the client");
    const s = fromHeaders(res);
    assert.notEqual(s.token, '');
    await assertMoney(env, 30, s, { cost: 0 });
    assert.deepEqual(await env.assertBooksBalance(), { held: 0, gateway: 0, providers: 0, pending: 0 });
  });

  it('an Ollama native 5xx before the first token refunds everything (NDJSON stream requested)', async () => {
    env = await PaidEnv.start({ sim: { kind: 'ollama', failStatus: 500 } });
    const res = await post(env, '/api/chat', chatBody(env), { 'x-cashu': await env.token(25, 3) });
    assert.equal(res.status, 500);
    await res.arrayBuffer();
    const s = fromHeaders(res);
    assert.match(s.token, /^cashuA/, 'refunded in the format paid with');
    await assertMoney(env, 25, s, { cost: 0 });
  });

  it('concurrent paid streams each settle once with their own exact change', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 40, promptTokens: 10, tokenDelayMs: 2 } });
    const e = env;
    const caps = [1, 4, 7, 10, 13, 16, 19, 22];
    const tokens = await Promise.all(caps.map((_, i) => e.token(30, i % 2 === 0 ? 4 : 3)));
    const results = await Promise.all(
      caps.map(async (cap, i) => {
        const res = await post(e, '/v1/chat/completions', chatBody(e, { stream: true, max_tokens: cap }), { 'x-cashu': tokens[i]! });
        const { data, change } = await readSse(res);
        assert.equal(contentEvents(data), cap);
        return fromEvent(res, change);
      }),
    );
    for (const [i, s] of results.entries()) {
      // 1 + cap sats, at least 2
      await assertMoney(e, 30, s, { cost: Math.max(2, 1 + caps[i]!) });
      assert.match(s.token, i % 2 === 0 ? /^cashuB/ : /^cashuA/);
    }
    const books = await e.assertBooksBalance();
    assert.equal(books.held, caps.reduce((n, c) => n + Math.max(2, 1 + c), 0));
    assert.equal(books.pending, 0);
  });

  describe('receipts', () => {
    it('answers 404 receipt_not_found for an unknown receipt', async () => {
      env = await PaidEnv.start();
      const r = await getReceipt(env, 'A'.repeat(32));
      assert.equal(r.status, 404);
      assert.equal((r.body as { error: { code: string } }).error.code, 'receipt_not_found');
    });

    it('returns the settled figures and the same change token as the response', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 10, promptTokens: 10 } });
      const res = await post(env, '/v1/chat/completions', chatBody(env), { 'x-cashu': await env.token(20) });
      await res.json();
      const s = fromHeaders(res);
      const r = await getReceipt(env, s.receipt);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { status: 'settled', token: s.token, change_sats: 9, cost_sats: 11 });
      await assertMoney(env, 20, s, { cost: 11 });
    });
  });
});
