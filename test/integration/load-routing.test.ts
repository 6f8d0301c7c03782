import assert from 'node:assert/strict';
import type { Gateway } from '../../src/gateway.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startSimulator, type SimOptions, type Simulator } from '../helpers/simulators/index.js';

const chat = async (gw: Gateway, model: string, stream = false): Promise<void> => {
  const res = await fetch(gw.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream }),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
};

describe('routing by the load each node publishes', () => {
  const sims: Simulator[] = [];
  let gw: Gateway | undefined;
  const sim = async (opts: SimOptions) => {
    const s = await startSimulator(opts);
    sims.push(s);
    return s;
  };
  afterEach(async () => {
    await gw?.shutdown(0);
    gw = undefined;
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  it('a vLLM node reporting a long waiting queue gets at most 20% of the jobs while the other reports none', async () => {
    const queued = await sim({ kind: 'vllm', models: ['m'], tokens: 2, otherLoad: { running: 256, waiting: 40 } });
    const idle = await sim({ kind: 'vllm', models: ['m'], tokens: 2 });
    gw = await startTestGateway({
      backends: [
        { id: 'queued', kind: 'vllm', url: queued.url, models: ['m'] },
        { id: 'idle', kind: 'vllm', url: idle.url, models: ['m'] },
      ],
    });
    assert.equal(gw.pool.get('queued')!.load?.waiting, 40, 'read from its /metrics at the health check');
    for (let round = 0; round < 5; round++) await Promise.all([0, 1, 2, 3].map(() => chat(gw!, 'm', round % 2 === 0)));
    assert.equal(queued.requests.length + idle.requests.length, 20);
    assert.ok(queued.requests.length <= 4, `the queued node got ${queued.requests.length} of 20`);

    // Without the waiting queue both share the work.
    queued.options.otherLoad = undefined;
    await gw.pool.checkAll();
    for (let i = 0; i < 10; i++) await chat(gw, 'm');
    assert.ok(queued.requests.length >= 4, `after its queue drained it got ${queued.requests.length}`);
  });

  it('published load ranks nodes but never lifts the gateway cap; a node with waiting requests still serves when the others are full', async () => {
    const queued = await sim({ kind: 'vllm', models: ['m'], tokens: 20, tokenDelayMs: 10, otherLoad: { waiting: 3 } });
    const idle = await sim({ kind: 'vllm', models: ['m'], tokens: 20, tokenDelayMs: 10 });
    gw = await startTestGateway({
      backends: [
        { id: 'queued', kind: 'vllm', url: queued.url, models: ['m'], maxConcurrent: 2 },
        { id: 'idle', kind: 'vllm', url: idle.url, models: ['m'], maxConcurrent: 2 },
      ],
    });
    let peak = 0;
    const watch = setInterval(() => {
      peak = Math.max(peak, gw!.pool.get('queued')!.inFlight, gw!.pool.get('idle')!.inFlight);
    }, 2);
    try {
      await Promise.all([0, 1, 2, 3, 4, 5].map(() => chat(gw!, 'm', true)));
    } finally {
      clearInterval(watch);
    }
    assert.ok(peak <= 2, `never above maxConcurrent (peak ${peak})`);
    assert.ok(queued.requests.length >= 2, 'served once the idle node was full');
    assert.ok(idle.requests.length >= queued.requests.length);
  });

  it('llama.cpp: reads /metrics when started with --metrics, else /slots; a node with every slot busy ranks last', async () => {
    const busy = await sim({ kind: 'llamacpp', models: ['m'], slots: 4, otherLoad: { running: 4 } });
    const withMetrics = await sim({ kind: 'llamacpp', models: ['m'], slots: 4, metrics: true, otherLoad: { running: 1 } });
    gw = await startTestGateway({
      backends: [
        { id: 'busy', kind: 'llamacpp', url: busy.url, models: ['m'] },
        { id: 'metrics', kind: 'llamacpp', url: withMetrics.url, models: ['m'] },
      ],
    });
    assert.deepEqual({ running: gw.pool.get('busy')!.load?.running, capacity: gw.pool.get('busy')!.load?.capacity }, { running: 4, capacity: 4 });
    assert.deepEqual({ running: gw.pool.get('metrics')!.load?.running, waiting: gw.pool.get('metrics')!.load?.waiting }, { running: 1, waiting: 0 });
    for (let i = 0; i < 6; i++) await chat(gw, 'm');
    assert.equal(busy.requests.length, 0);
    assert.equal(withMetrics.requests.length, 6);
  });

  it('Ollama: a node that has the model resident (/api/ps) is preferred to one that would load it first', async () => {
    const cold = await sim({ kind: 'ollama', models: ['m:latest', 'other:latest'], loadedModels: ['other:latest'] });
    const warm = await sim({ kind: 'ollama', models: ['m:latest'] });
    gw = await startTestGateway({
      backends: [
        { id: 'cold', kind: 'ollama', url: cold.url },
        { id: 'warm', kind: 'ollama', url: warm.url },
      ],
    });
    for (let i = 0; i < 6; i++) await chat(gw, 'm');
    assert.equal(cold.requests.length, 0);
    assert.equal(warm.requests.length, 6);
  });

  it('load published by another transport (e.g. an agent heartbeat) ranks the node the same way', async () => {
    const a = await sim({ kind: 'openai', models: ['m'] });
    const b = await sim({ kind: 'openai', models: ['m'] });
    gw = await startTestGateway({
      backends: [
        { id: 'a', kind: 'openai', url: a.url, models: ['m'] },
        { id: 'b', kind: 'openai', url: b.url, models: ['m'] },
      ],
    });
    assert.equal(gw.pool.get('a')!.load, undefined, 'a generic server publishes nothing');
    gw.pool.get('a')!.publishLoad({ waiting: 5 }, Date.now());
    for (let i = 0; i < 5; i++) await chat(gw, 'm');
    assert.equal(a.requests.length, 0);
    assert.equal(b.requests.length, 5);
  });
});

describe('health checks under load', () => {
  it('one failed check does not take a healthy node out; two in a row do; one success brings it back', async () => {
    const s = await startSimulator({ kind: 'vllm', models: ['m'] });
    const gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: s.url, models: ['m'] }] });
    try {
      const node = gw.pool.get('a')!;
      assert.equal(node.healthy, true);
      s.options.healthy = false;
      await gw.pool.check(node);
      assert.equal(node.healthy, true, 'one slow or failed answer is not an outage');
      await gw.pool.check(node);
      assert.equal(node.healthy, false);
      s.options.healthy = true;
      await gw.pool.check(node);
      assert.equal(node.healthy, true);
    } finally {
      await gw.shutdown(0);
      await s.close();
    }
  });
});
