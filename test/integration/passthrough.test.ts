import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startReplayServer, type ReplayServer } from '../helpers/replay-server.js';

const fixture = (name: string) => readFileSync(`test/fixtures/streams/${name}`);

// Real transcripts (test/fixtures/streams, from wire-formats.md) replayed by a backend must reach
// the client byte for byte when no plugin changes anything: a plain proxy (plugins: []).
const CASES: { name: string; kind: string; path: string; file: string; contentType: string }[] = [
  { name: 'Ollama native chat (NDJSON)', kind: 'ollama', path: '/api/chat', file: 'ollama-native-chat.txt', contentType: 'application/x-ndjson' },
  { name: 'Ollama native generate (NDJSON)', kind: 'ollama', path: '/api/generate', file: 'ollama-native-generate.txt', contentType: 'application/x-ndjson' },
  { name: 'Ollama /v1 chat (SSE)', kind: 'ollama', path: '/v1/chat/completions', file: 'ollama-v1-chat.txt', contentType: 'text/event-stream' },
  { name: 'Ollama /v1 chat before 0.32.6', kind: 'ollama', path: '/v1/chat/completions', file: 'ollama-v1-chat-pre-0.32.6.txt', contentType: 'text/event-stream' },
  { name: 'vLLM chat with usage', kind: 'vllm', path: '/v1/chat/completions', file: 'vllm-chat-usage.txt', contentType: 'text/event-stream; charset=utf-8' },
  { name: 'llama.cpp chat with usage', kind: 'llamacpp', path: '/v1/chat/completions', file: 'llamacpp-chat-usage.txt', contentType: 'text/event-stream' },
  { name: 'llama.cpp b6097 finish chunk with usage', kind: 'llamacpp', path: '/v1/chat/completions', file: 'llamacpp-finish-with-usage-b6097.txt', contentType: 'text/event-stream' },
];

describe('passthrough (plugins: [])', () => {
  let backend: ReplayServer;
  let gw: Gateway;

  before(async () => {
    backend = await startReplayServer();
  });
  after(async () => {
    await backend.close();
  });
  afterEach(async () => {
    await gw?.shutdown(0);
  });

  for (const c of CASES) {
    for (const chunking of ['whole', 'split'] as const) {
      it(`streams ${c.name} byte for byte (${chunking} reads), content type kept`, async () => {
        const body = fixture(c.file);
        backend.set(c.path, { headers: { 'content-type': c.contentType }, body, chunkSizes: chunking === 'split' ? [7, 1, 150, 33] : undefined });
        gw = await startTestGateway({ backends: [{ id: 'b', kind: c.kind, url: backend.url, models: ['replay'] }] });
        const res = await fetch(gw.url + c.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"replay","stream":true}' });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), c.contentType);
        const got = Buffer.from(await res.arrayBuffer());
        assert.equal(got.toString('utf8'), body.toString('utf8'));
        assert.ok(got.equals(body));
      });
    }
  }

  it('passes a non-streaming JSON body and its usage and ids untouched', async () => {
    const body = Buffer.from('{"id":"chatcmpl-417","object":"chat.completion","created":1756807200,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":26,"completion_tokens":6,"total_tokens":32}}\n');
    backend.set('/v1/chat/completions', { headers: { 'content-type': 'application/json' }, body });
    gw = await startTestGateway({ backends: [{ id: 'b', kind: 'ollama', url: backend.url, models: ['replay'] }] });
    const res = await fetch(gw.url + '/v1/chat/completions', { method: 'POST', body: '{"model":"replay"}' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
  });

  it('forwards the request body unchanged, without X-Cashu or the client Authorization', async () => {
    backend.set('/v1/completions', { headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') });
    gw = await startTestGateway({ backends: [{ id: 'b', kind: 'vllm', url: backend.url, models: ['replay'] }] });
    const sent = '{"model":"replay",  "prompt":"hi", "max_tokens": 3}';
    const before = backend.seen.length;
    await fetch(gw.url + '/v1/completions', { method: 'POST', headers: { 'x-cashu': 'cashuBsecret', authorization: 'Bearer client-key', 'x-custom': 'kept' }, body: sent });
    const seen = backend.seen[before]!;
    assert.equal(seen.body, sent);
    assert.equal(seen.headers['x-cashu'], undefined);
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['x-custom'], 'kept');
  });

  it("sends the backend's own apiKey instead of the client's", async () => {
    backend.set('/v1/completions', { headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') });
    gw = await startTestGateway({ backends: [{ id: 'b', kind: 'vllm', url: backend.url, models: ['replay'], apiKey: 'node-key' }] });
    const before = backend.seen.length;
    await fetch(gw.url + '/v1/completions', { method: 'POST', headers: { authorization: 'Bearer client-key' }, body: '{"model":"replay"}' });
    assert.equal(backend.seen[before]!.headers.authorization, 'Bearer node-key');
  });

  it('ends an SSE stream cleanly with [DONE] when the backend dies mid-stream', async () => {
    const body = fixture('vllm-chat-usage.txt');
    backend.set('/v1/chat/completions', { headers: { 'content-type': 'text/event-stream' }, body, dieAfterBytes: 300 });
    gw = await startTestGateway({ backends: [{ id: 'b', kind: 'vllm', url: backend.url, models: ['replay'] }] });
    const res = await fetch(gw.url + '/v1/chat/completions', { method: 'POST', body: '{"model":"replay","stream":true}' });
    const text = await res.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'), text.slice(-80));
  });

  it('answers a backend that sends garbage with a clean end, not a hang', async () => {
    backend.set('/v1/chat/completions', { headers: { 'content-type': 'text/event-stream' }, body: Buffer.from('this is not SSE at all') });
    gw = await startTestGateway({ backends: [{ id: 'b', kind: 'vllm', url: backend.url, models: ['replay'] }] });
    const res = await fetch(gw.url + '/v1/chat/completions', { method: 'POST', body: '{"model":"replay","stream":true}' });
    const text = await res.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'));
  });
});
