import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { EXPOSED_HEADERS } from '../../src/http/cors.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('routing, failover and errors', () => {
  const sims: Simulator[] = [];
  let gw: Gateway | undefined;
  const sim = async (opts: Parameters<typeof startSimulator>[0]) => {
    const s = await startSimulator(opts);
    sims.push(s);
    return s;
  };
  afterEach(async () => {
    await gw?.shutdown(0);
    gw = undefined;
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  it('discovers models and lists those of healthy backends with pricing', async () => {
    const a = await sim({ kind: 'ollama', models: ['qwen2.5:0.5b', 'llama3.2:latest'] });
    const b = await sim({ kind: 'vllm', models: ['Qwen/Qwen2.5-7B-Instruct'], healthy: false });
    gw = await startTestGateway({
      backends: [
        { id: 'a', kind: 'ollama', url: a.url },
        { id: 'b', kind: 'vllm', url: b.url },
      ],
      pricing: { models: { 'qwen2.5:0.5b': { per_m_input_usd: 0.02, per_m_output_usd: 0.06 } } },
    });
    const res = await fetch(gw.url + '/v1/models');
    const body = (await res.json()) as { data: { id: string; pricing: unknown }[] };
    assert.deepEqual(body.data.map((m) => m.id).sort(), ['llama3.2:latest', 'qwen2.5:0.5b']);
    assert.deepEqual(body.data.find((m) => m.id === 'qwen2.5:0.5b')!.pricing, { per_m_input_usd: 0.02, per_m_output_usd: 0.06 });
    assert.deepEqual(body.data.find((m) => m.id === 'llama3.2:latest')!.pricing, { per_m_input_usd: 0.1, per_m_output_usd: 0.3 });
  });

  it('answers 404 no_backend_for_model for a model nobody serves', async () => {
    const a = await sim({ kind: 'vllm' });
    gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: a.url }] });
    const res = await post(gw.url + '/v1/chat/completions', { model: 'gpt-9', messages: [] });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: string; type: string; message: string } };
    assert.equal(body.error.code, 'no_backend_for_model');
    assert.equal(a.requests.length, 0);
  });

  it('answers 503 backend_unavailable when the only node serving the model is down', async () => {
    const a = await sim({ kind: 'vllm', models: ['m'], healthy: false });
    gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: a.url, models: ['m'] }] });
    const res = await post(gw.url + '/v1/chat/completions', { model: 'm', messages: [] });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'backend_unavailable');
  });

  it('fails over to the next node when the first refuses the connection', async () => {
    const dead = await sim({ kind: 'vllm', models: ['m'] });
    const live = await sim({ kind: 'vllm', models: ['m'], tokens: 3 });
    gw = await startTestGateway({
      backends: [
        { id: 'dead', kind: 'vllm', url: dead.url, models: ['m'] },
        { id: 'live', kind: 'vllm', url: live.url, models: ['m'] },
      ],
    });
    await dead.close(); // healthy at the last check, refusing now
    for (let i = 0; i < 3; i++) {
      const res = await post(gw.url + '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(res.status, 200);
      await res.json();
    }
    assert.equal(live.requests.length, 3);
    assert.equal(gw.pool.get('dead')!.healthy, false);
  });

  it('fails over when the first node answers 503 (queue full), and 503s when all do', async () => {
    const busy = await sim({ kind: 'ollama', models: ['m'], failStatus: 503 });
    const free = await sim({ kind: 'ollama', models: ['m'] });
    gw = await startTestGateway({
      backends: [
        { id: 'busy', kind: 'ollama', url: busy.url, models: ['m'], maxConcurrent: 100 },
        { id: 'free', kind: 'ollama', url: free.url, models: ['m'], maxConcurrent: 1 },
      ],
    });
    // whichever node is tried first, the job lands on 'free'
    const res = await post(gw.url + '/api/chat', { model: 'm', messages: [], stream: false });
    assert.equal(res.status, 200);
    await res.json();
    free.options.failStatus = 503;
    const res2 = await post(gw.url + '/api/chat', { model: 'm', messages: [], stream: false });
    assert.equal(res2.status, 503);
  });

  it('retries a request whose pooled keep-alive socket the backend had closed, without failing the node', async () => {
    // A backend that drops every connection after its first request, as an idle timeout does.
    const served = new WeakSet<object>();
    const backend = http.createServer((req, res) => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"object":"list","data":[{"id":"m"}]}');
      }
      if (served.has(req.socket)) return req.socket.destroy();
      served.add(req.socket);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id":"x","choices":[]}');
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(backend.address() as { port: number }).port}`;
      gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url, models: ['m'] }] });
      for (let i = 0; i < 4; i++) {
        const res = await post(gw.url + '/v1/chat/completions', { model: 'm', messages: [] });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      assert.equal(gw.pool.get('a')!.healthy, true);
    } finally {
      backend.closeAllConnections();
      backend.close();
    }
  });

  it('retries a connection reset before any response byte on a fresh connection, then on the next node', async () => {
    const a = await sim({ kind: 'vllm', models: ['m'], tokens: 3 });
    gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: a.url, models: ['m'] }] });
    a.options.resetConnections = 1; // a fresh connection, reset: not a stale pooled socket
    const res = await post(gw.url + '/v1/chat/completions', { model: 'm', messages: [], stream: true });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /data: \[DONE\]/);
    assert.equal(gw.pool.get('a')!.healthy, true, 'one reset does not fail the node');

    // Reset twice in a row: the node is failed and the job moves to the next node.
    const b = await sim({ kind: 'vllm', models: ['m'], tokens: 3 });
    await gw.shutdown(0);
    gw = await startTestGateway({
      backends: [
        { id: 'a', kind: 'vllm', url: a.url, models: ['m'] },
        { id: 'b', kind: 'vllm', url: b.url, models: ['m'] },
      ],
    });
    gw.pool.get('b')!.inFlight = 1; // rank 'a' first
    a.options.resetConnections = 2;
    const res2 = await post(gw.url + '/v1/chat/completions', { model: 'm', messages: [] });
    assert.equal(res2.status, 200);
    await res2.json();
    assert.equal(b.requests.length, 1);
    assert.equal(gw.pool.get('a')!.healthy, false);
    assert.equal(gw.pool.get('a')!.inFlight, 0);
    gw.pool.get('b')!.inFlight = 0;
  });

  it('a client that disconnects mid-stream aborts the upstream request', async () => {
    const s = await sim({ kind: 'vllm', models: ['m'], tokens: 1000, tokenDelayMs: 10 });
    gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: s.url, models: ['m'] }] });
    const url = new URL(gw.url + '/v1/chat/completions');
    await new Promise<void>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let n = 0;
        res.on('data', () => {
          if (++n === 3) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify({ model: 'm', stream: true, messages: [] }));
      setTimeout(() => reject(new Error('no data')), 5000);
    });
    await s.waitForRequests(1);
    const r = s.requests[0]!;
    assert.equal(r.aborted, true);
    assert.ok(r.tokensSent < 1000, `the simulator kept generating: ${r.tokensSent}`);
  });

  it('drains running streams on shutdown before closing', async () => {
    const s = await sim({ kind: 'vllm', models: ['m'], tokens: 20, tokenDelayMs: 20 });
    gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: s.url, models: ['m'] }] });
    const res = await post(gw.url + '/v1/chat/completions', { model: 'm', stream: true, messages: [] });
    assert.equal(res.status, 200);
    const text = res.text();
    await new Promise((r) => setTimeout(r, 50));
    const stopping = gw.shutdown(10_000);
    const body = await text;
    await stopping;
    gw = undefined;
    assert.ok(body.endsWith('data: [DONE]\n\n'));
    assert.equal(s.requests[0]!.tokensSent, 20);
  });

  it('rejects a non-JSON body with 400, an oversized body with 413, an unknown route with 404', async () => {
    const s = await sim({ kind: 'vllm', models: ['m'] });
    gw = await startTestGateway({ server: { host: '127.0.0.1', port: 0, bodyLimit: '1kb' }, backends: [{ id: 'a', kind: 'vllm', url: s.url, models: ['m'] }] });
    const r1 = await post(gw.url + '/v1/chat/completions', '{"model": "m",');
    assert.equal(r1.status, 400);
    assert.equal(((await r1.json()) as { error: { code: string } }).error.code, 'invalid_json');
    const r2 = await post(gw.url + '/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2000) }] });
    assert.equal(r2.status, 413);
    assert.equal(((await r2.json()) as { error: { code: string } }).error.code, 'body_too_large');
    const r3 = await fetch(gw.url + '/v1/nothing');
    assert.equal(r3.status, 404);
    assert.equal(((await r3.json()) as { error: { code: string } }).error.code, 'route_not_found');
    const r4 = await post(gw.url + '/v1/chat/completions', { model: 42 });
    assert.equal(r4.status, 400);
    assert.equal(s.requests.length, 0);
  });

  it('accepts request headers up to server.maxHeaderBytes (64 KiB) and answers 431 beyond', async () => {
    const s = await sim({ kind: 'vllm', models: ['m'] });
    gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: s.url, models: ['m'] }] });
    // a long cashuA token: accepted by the gateway (and never forwarded, so the backend's 16 KiB limit is moot)
    const ok = await post(gw.url + '/v1/chat/completions', { model: 'm', messages: [] }, { 'x-cashu': 'cashuA' + 'a'.repeat(40_000) });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const tooBig = await new Promise<number>((resolve) => {
      const req = http.request(gw!.url + '/healthz', { headers: { 'x-big': 'a'.repeat(70_000) } }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', () => resolve(-1));
      req.end();
    });
    assert.equal(tooBig, 431);
  });

  it('an inference POST on its exact path (direct) and on a path the router matches loosely (Koa) gets the same request id, CORS headers and access-log line', async () => {
    const s = await sim({ kind: 'vllm', tokens: 3 });
    const lines: string[] = [];
    gw = await startTestGateway({ backends: [{ id: 'v', kind: 'vllm', url: s.url, models: [s.model] }] }, { accessLog: { write: (text: string) => lines.push(...text.split('\n').filter(Boolean)) } });
    const body = JSON.stringify({ model: s.model, messages: [{ role: 'user', content: 'hi' }] });
    const seen: Record<string, string | null>[] = [];
    // The trailing slash reaches the backend as sent (the simulator answers it 404).
    for (const [path, status] of [['/v1/chat/completions', 200], ['/v1/chat/completions?x=1', 200], ['/v1/chat/completions/', 404]] as const) {
      const res: Response = await fetch(gw!.url + path, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://agent.example' }, body });
      assert.equal(res.status, status, path);
      if (status === 200) assert.equal(((await res.json()) as { object: string }).object, 'chat.completion');
      else await res.arrayBuffer();
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      seen.push({ origin: res.headers.get('access-control-allow-origin'), vary: res.headers.get('vary'), expose: res.headers.get('access-control-expose-headers') });
    }
    assert.deepEqual(seen[1], seen[0]);
    assert.deepEqual(seen[2], seen[0]);
    assert.deepEqual(seen[0], { origin: 'https://agent.example', vary: 'Origin', expose: EXPOSED_HEADERS });
    gw.flushAccessLog(); // lines are held for one batched write
    assert.equal(lines.length, 3);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [i, l] of logged.entries()) {
      assert.deepEqual(Object.keys(l), ['level', 'time', 'method', 'path', 'status', 'model', 'duration_ms', 'request_id', 'job', 'msg']);
      assert.equal(l.path, '/v1/chat/completions');
      assert.equal(l.status, i < 2 ? 200 : 404);
      assert.equal(l.model, s.model);
    }
  });

  it('a stream\'s response headers reach the client before its first bytes when the backend is slow to send them', async () => {
    // The headers normally ride with the first bytes (one write); a slow prefill must not hold
    // them back: this backend sends nothing after its headers until the client has them.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const backend = http.createServer((req, res) => {
      req.resume();
      if (req.method === 'GET') return void res.end('{"object":"list","data":[{"id":"m","object":"model"}]}'); // health checks
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        void released.then(() => res.end('data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'));
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    try {
      gw = await startTestGateway({ backends: [{ id: 'b', kind: 'vllm', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`, models: ['m'] }] });
      const res = await post(gw.url + '/v1/chat/completions', { model: 'm', stream: true }); // resolves on the headers alone
      assert.equal(res.status, 200);
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      release();
      assert.match(await res.text(), /"hi"[\s\S]*\[DONE\]/);
    } finally {
      release();
      backend.close();
    }
  });

  it('a backend\'s own X-Request-Id and CORS headers never replace the gateway\'s, on the direct path or through Koa', async () => {
    // vLLM echoes a request id of its own (--enable-request-id-headers) and adds CORS headers
    // when its CORS middleware is on: the client MUST get the id its access-log line names, and
    // the exposed payment headers (a browser could not read its change otherwise).
    const backend = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const body = '{"object":"chat.completion","choices":[]}';
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'from-backend', 'access-control-allow-origin': '*', vary: 'Accept-Encoding', 'access-control-expose-headers': 'x-backend' });
        res.end(body);
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    try {
      const lines: string[] = [];
      gw = await startTestGateway({ backends: [{ id: 'b', kind: 'vllm', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`, models: ['m'] }] }, { accessLog: { write: (text: string) => lines.push(...text.split('\n').filter(Boolean)) } });
      // The exact path goes straight to the job; another letter case goes through the Koa router.
      for (const path of ['/v1/chat/completions', '/V1/Chat/Completions']) {
        const res = await post(gw.url + path, { model: 'm' }, { origin: 'https://agent.example' });
        assert.equal(res.status, 200, path);
        await res.arrayBuffer();
        gw!.flushAccessLog(); // lines are held for one batched write
        const logged = JSON.parse(lines.at(-1)!) as { request_id: string };
        assert.equal(res.headers.get('x-request-id'), logged.request_id, path);
        assert.deepEqual(
          { origin: res.headers.get('access-control-allow-origin'), vary: res.headers.get('vary'), expose: res.headers.get('access-control-expose-headers') },
          { origin: 'https://agent.example', vary: 'Origin', expose: EXPOSED_HEADERS },
          path,
        );
      }
    } finally {
      backend.close();
    }
  });

  it('answers CORS preflight and exposes the payment headers', async () => {
    gw = await startTestGateway({});
    const res = await fetch(gw.url + '/v1/chat/completions', { method: 'OPTIONS', headers: { origin: 'https://agent.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-cashu, content-type' } });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://agent.example');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /x-cashu/i);
    const h = await fetch(gw.url + '/healthz', { headers: { origin: 'https://agent.example' } });
    assert.deepEqual(await h.json(), { status: 'ok' });
    assert.match(h.headers.get('access-control-expose-headers') ?? '', /X-Cashu-Receipt/);
  });
});
