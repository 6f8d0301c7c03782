// Self-test of the backend simulators: each kind replays its server's wire shapes and honours the knobs.
import assert from 'node:assert/strict';
import http from 'node:http';
import { startSimulator, type SimOptions, type Simulator } from '../helpers/simulators/index.js';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body ended cleanly (not cut by a dead socket). */
  complete: boolean;
}

/** POST (or GET) with node:http so a cut body is visible as complete=false. */
function call(sim: Simulator, path: string, body?: unknown, abortAfterBytes?: number): Promise<Got> {
  return new Promise((resolve, reject) => {
    const u = new URL(sim.url);
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          if (abortAfterBytes !== undefined && text.length >= abortAfterBytes) req.destroy();
        });
        res.on('error', () => undefined);
        res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, complete: res.complete }));
      },
    );
    req.on('error', (err) => (abortAfterBytes === undefined ? reject(err) : undefined));
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

/** The data fields of an SSE body, JSON-parsed except the literal [DONE]. */
function events(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => (e === 'data: [DONE]' ? '[DONE]' : (JSON.parse(e.slice(6)) as unknown)));
}

// Loose access into parsed bodies; the assertions check the shapes.
type Obj = Record<string, any>;

const chat = (extra: Obj = {}): Obj => ({ messages: [{ role: 'user', content: 'Hello, world!' }], ...extra });

describe('backend simulators', () => {
  const sims: Simulator[] = [];
  const start = async (opts: SimOptions): Promise<Simulator> => {
    const sim = await startSimulator(opts);
    sims.push(sim);
    return sim;
  };
  afterEach(async () => {
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  describe('ollama', () => {
    it('streams NDJSON by default and ends with a done:true line carrying the counts', async () => {
      const sim = await start({ kind: 'ollama' });
      const got = await call(sim, '/api/chat', chat({ model: 'sim-ollama' }));
      assert.equal(got.headers['content-type'], 'application/x-ndjson');
      assert.ok(got.text.endsWith('}\n'));
      const lines = got.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Obj);
      assert.equal(lines.length, 6);
      const last = lines.at(-1) as Obj;
      assert.equal(last.done, true);
      assert.equal(last.done_reason, 'stop');
      assert.equal(last.eval_count, 5);
      assert.equal(last.prompt_eval_count, 4);
      assert.equal(lines.slice(0, 5).map((l) => l.message.content).join(''), ' alpha delta echo golf hotel');
    });

    it('caps with options.num_predict, omits counts when usage is off, answers stream:false without newline', async () => {
      const sim = await start({ kind: 'ollama', reportUsage: false });
      const got = await call(sim, '/api/generate', { model: 'sim-ollama', prompt: 'Hi', stream: false, options: { num_predict: 2 } });
      assert.equal(got.headers['content-type'], 'application/json; charset=utf-8');
      assert.ok(got.text.endsWith('}'));
      const body = JSON.parse(got.text) as Obj;
      assert.equal(body.response, ' alpha delta');
      assert.equal(body.done_reason, 'length');
      assert.equal('eval_count' in body || 'prompt_eval_count' in body, false);
    });

    it('/v1 new shape: role on the first chunk, a delta:{} finish chunk, usage chunk, [DONE]; max_completion_tokens ignored', async () => {
      const sim = await start({ kind: 'ollama' });
      const body = chat({ model: 'sim-ollama', stream: true, stream_options: { include_usage: true }, max_completion_tokens: 2 });
      const got = await call(sim, '/v1/chat/completions', body);
      assert.equal(got.headers['content-type'], 'text/event-stream');
      const ev = events(got.text) as Obj[];
      assert.deepEqual(ev[0]?.choices[0].delta, { role: 'assistant', content: ' alpha' });
      assert.deepEqual(ev[1]?.choices[0].delta, { content: ' delta' });
      assert.deepEqual(ev[5]?.choices[0], { index: 0, delta: {}, finish_reason: 'stop' });
      assert.deepEqual(ev[6]?.usage, { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 });
      assert.equal(ev[7], '[DONE]');
      assert.equal(ev.length, 8);
    });

    it('/v1 old shape: role on every chunk, finish on a role chunk; max_tokens caps', async () => {
      const sim = await start({ kind: 'ollama', ollamaShape: 'old' });
      const got = await call(sim, '/v1/chat/completions', chat({ model: 'sim-ollama', stream: true, max_tokens: 2 }));
      const ev = events(got.text) as Obj[];
      assert.deepEqual(ev[1]?.choices[0].delta, { role: 'assistant', content: ' delta' });
      assert.deepEqual(ev[2]?.choices[0], { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'length' });
      assert.equal(ev[3], '[DONE]');
      assert.ok(!got.text.includes('usage'));
    });

    it('turns an error before the first token into HTTP 500, and a later one into an error line', async () => {
      const sim = await start({ kind: 'ollama', errorAfterTokens: 0 });
      const early = await call(sim, '/api/chat', chat({ model: 'sim-ollama' }));
      assert.equal(early.status, 500);
      assert.match(early.text, /^\{"error":"model runner has unexpectedly stopped/);
      sim.options.errorAfterTokens = 1;
      const late = await call(sim, '/api/chat', chat({ model: 'sim-ollama' }));
      assert.equal(late.status, 200);
      const lines = late.text.trimEnd().split('\n').map((l) => JSON.parse(l) as Obj);
      assert.equal(lines.length, 2);
      assert.ok('error' in (lines[1] as Obj));
    });

    it('answers an unknown model with 404 and the native body', async () => {
      const sim = await start({ kind: 'ollama' });
      const got = await call(sim, '/api/chat', chat({ model: 'llama9' }));
      assert.equal(got.status, 404);
      assert.equal(got.text, `{"error":"model 'llama9' not found"}`);
    });
  });

  describe('vllm', () => {
    it('sends a role chunk, carries finish on the last token when capped, and a usage chunk for stream_options:{}', async () => {
      const sim = await start({ kind: 'vllm' });
      const body = chat({ model: 'sim-vllm', stream: true, stream_options: {}, max_tokens: 9, max_completion_tokens: 2 });
      const got = await call(sim, '/v1/chat/completions', body);
      assert.equal(got.headers['content-type'], 'text/event-stream; charset=utf-8');
      const ev = events(got.text) as Obj[];
      assert.deepEqual(ev[0]?.choices[0].delta, { role: 'assistant', content: '' });
      assert.equal(ev[2]?.choices[0].delta.content, ' delta');
      assert.equal(ev[2]?.choices[0].finish_reason, 'length');
      assert.deepEqual(ev[3]?.choices, []);
      assert.deepEqual(ev[3]?.usage, { prompt_tokens: 4, total_tokens: 6, completion_tokens: 2 });
      assert.equal(ev[4], '[DONE]');
      assert.ok(got.text.endsWith('data: [DONE]\n\n'));
    });

    it('has no usage without stream_options, and rejects stream_options without stream', async () => {
      const sim = await start({ kind: 'vllm' });
      const got = await call(sim, '/v1/chat/completions', chat({ model: 'sim-vllm', stream: true }));
      assert.ok(!got.text.includes('usage'));
      const bad = await call(sim, '/v1/chat/completions', chat({ model: 'sim-vllm', stream_options: {} }));
      assert.equal(bad.status, 400);
      assert.equal((JSON.parse(bad.text) as Obj).error.message, 'Stream options can only be defined when `stream=True`.');
    });

    it('reports cumulative usage on every chunk with continuous_usage_stats', async () => {
      const sim = await start({ kind: 'vllm', tokens: 3 });
      const so = { include_usage: true, continuous_usage_stats: true };
      const ev = events((await call(sim, '/v1/completions', { model: 'sim-vllm', prompt: 'Hi', stream: true, stream_options: so })).text) as Obj[];
      assert.deepEqual(ev.slice(0, 4).map((e) => e.usage.completion_tokens), [1, 2, 3, 3]);
      assert.equal(ev[4]?.usage.total_tokens, 4);
    });

    it('ignores the cap when told to, and the openai kind lists owned_by openai', async () => {
      const sim = await start({ kind: 'openai', ignoreMaxTokens: true });
      const got = JSON.parse((await call(sim, '/v1/chat/completions', chat({ model: 'sim-openai', max_tokens: 1 }))).text) as Obj;
      assert.equal(got.usage.completion_tokens, 5);
      assert.equal(got.choices[0].finish_reason, 'stop');
      const models = JSON.parse((await call(sim, '/v1/models')).text) as Obj;
      assert.equal(models.data[0].owned_by, 'openai');
    });
  });

  describe('llamacpp', () => {
    it('puts timings on the finish chunk and no usage without include_usage; n_predict wins', async () => {
      const sim = await start({ kind: 'llamacpp' });
      const got = await call(sim, '/v1/chat/completions', chat({ stream: true, n_predict: 3, max_tokens: 1 }));
      const ev = events(got.text) as Obj[];
      assert.deepEqual(ev[0]?.choices[0].delta, { role: 'assistant', content: null });
      assert.equal(ev[4]?.choices[0].finish_reason, 'length');
      assert.equal(ev[4]?.timings.predicted_n, 3);
      assert.ok(!got.text.includes('usage'));
      assert.equal(ev[5], '[DONE]');
    });

    it('drops usage and timings entirely when usage reporting is off', async () => {
      const sim = await start({ kind: 'llamacpp', reportUsage: false });
      const got = await call(sim, '/v1/chat/completions', chat({ stream: true, stream_options: { include_usage: true } }));
      assert.ok(!got.text.includes('usage') && !got.text.includes('timings'));
      assert.ok(got.text.endsWith('data: [DONE]\n\n'));
    });

    it('ends an in-stream error without [DONE]', async () => {
      const sim = await start({ kind: 'llamacpp', errorAfterTokens: 2 });
      const got = await call(sim, '/v1/chat/completions', chat({ stream: true }));
      const ev = events(got.text) as Obj[];
      assert.equal(ev.at(-1)?.error.type, 'server_error');
      assert.ok(!got.text.includes('[DONE]'));
      assert.equal(got.complete, true);
    });

    it('answers 503 Loading model everywhere while unhealthy', async () => {
      const sim = await start({ kind: 'llamacpp', healthy: false });
      const got = await call(sim, '/health');
      assert.equal(got.status, 503);
      assert.equal(got.text, '{"error":{"message":"Loading model","type":"unavailable_error","code":503}}');
    });
  });

  describe('failures and disconnects', () => {
    for (const kind of ['ollama', 'vllm', 'llamacpp', 'openai'] as const) {
      it(`${kind}: dieAfterTokens cuts the stream after N tokens with no terminal marker`, async () => {
        const sim = await start({ kind, dieAfterTokens: 2 });
        const path = kind === 'ollama' ? '/api/chat' : '/v1/chat/completions';
        const got = await call(sim, path, chat({ model: sim.options.models?.[0], stream: true }));
        assert.equal(got.complete, false);
        assert.ok(!got.text.includes('[DONE]') && !got.text.includes('"done":true'));
        await sim.waitForRequests(1, 2000);
        const rec = sim.requests[0];
        assert.equal(rec?.tokensSent, 2);
        assert.equal(rec?.died, true);
        assert.equal(rec?.aborted, false);
      });
    }

    it('records an abort and stops generating when the client goes away', async () => {
      const sim = await start({ kind: 'vllm', tokens: 200, tokenDelayMs: 5 });
      await call(sim, '/v1/chat/completions', chat({ model: 'sim-vllm', stream: true }), 600);
      await sim.waitForRequests(1, 2000);
      const rec = sim.requests[0];
      assert.equal(rec?.aborted, true);
      assert.ok((rec?.tokensSent ?? 0) < 50, `tokensSent ${rec?.tokensSent}`);
    });

    it('replies failStatus with the kind error body, and options can change at run time', async () => {
      const sim = await start({ kind: 'vllm', failStatus: 503 });
      const got = await call(sim, '/v1/chat/completions', chat({ model: 'sim-vllm' }));
      assert.equal(got.status, 503);
      assert.equal((JSON.parse(got.text) as Obj).error.code, 503);
      sim.options.failStatus = undefined;
      assert.equal((await call(sim, '/v1/chat/completions', chat({ model: 'sim-vllm' }))).status, 200);
    });

    it('serves 32 concurrent 200-token streams completely', async () => {
      const sim = await start({ kind: 'llamacpp', tokens: 200 });
      const all = await Promise.all(Array.from({ length: 32 }, () => call(sim, '/v1/chat/completions', chat({ stream: true }))));
      for (const got of all) assert.equal(events(got.text).length, 203);
      assert.ok(sim.requests.every((r) => r.tokensSent === 200));
    });
  });
});
