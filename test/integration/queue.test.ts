import assert from 'node:assert/strict';
import type { Gateway } from '../../src/gateway.js';
import type { Slot } from '../../src/queue/admission.js';
import { startTestGateway } from '../helpers/gateway.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

const chat = (url: string, model: string, content: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    signal,
  });

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

/** Resolves once `cond` holds (polled; the test's own timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** Occupies the node's only place through the queue itself, as a running job would. */
async function occupy(gw: Gateway, model: string): Promise<Slot> {
  const a = await gw.queue.admit(model, new AbortController().signal);
  assert.ok(a.ok, 'the first place is free');
  return a.slot;
}

describe('admission queue: requests wait for a free node instead of being refused', () => {
  describe('free mode', () => {
    let gw: Gateway | undefined;
    let sim: Simulator | undefined;
    afterEach(async () => {
      await gw?.shutdown(0);
      await sim?.close();
      gw = sim = undefined;
    });

    it('serves waiting requests first come, first served, one at a time on a node of maxConcurrent 1', async () => {
      sim = await startSimulator({ kind: 'vllm', models: ['m'], tokens: 3 });
      gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: sim.url, models: ['m'], maxConcurrent: 1 }] });
      const slot = await occupy(gw, 'm');
      const answers: Promise<Response>[] = [];
      for (const name of ['first', 'second', 'third']) {
        const depth = gw.queue.depth;
        answers.push(chat(gw.url, 'm', name));
        await until(() => gw!.queue.depth === depth + 1);
      }
      assert.equal(sim.requests.length, 0, 'nothing reaches the node while it is full');
      slot.release();
      const responses = await Promise.all(answers);
      for (const r of responses) {
        assert.equal(r.status, 200);
        assert.match(r.headers.get('server-timing') ?? '', /^queue;dur=\d+(\.\d)?$/);
        await r.json();
      }
      const order = sim.requests.map((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content);
      assert.deepEqual(order, ['first', 'second', 'third']);
      assert.equal(gw.queue.depth, 0);
      assert.equal(gw.pool.get('a')!.inFlight, 0);
      const metrics = await (await fetch(gw.url + '/metrics')).text();
      assert.match(metrics, /owlrun_queue_wait_seconds_count\{outcome="admitted"\} 3/);
      assert.match(metrics, /owlrun_queue_depth 0/);
    });

    it('answers 503 backend_unavailable past queue.maxWaitMs, and at once when the queue is full', async () => {
      sim = await startSimulator({ kind: 'vllm', models: ['m'] });
      gw = await startTestGateway({
        backends: [{ id: 'a', kind: 'vllm', url: sim.url, models: ['m'], maxConcurrent: 1 }],
        queue: { maxWaitMs: 200, maxLength: 1 },
      });
      const slot = await occupy(gw, 'm');
      const waiting = chat(gw.url, 'm', 'waits');
      await until(() => gw!.queue.depth === 1);
      const full = await chat(gw.url, 'm', 'no room in the queue');
      assert.equal(full.status, 503);
      assert.equal(await errorCode(full), 'backend_unavailable');
      const timedOut = await waiting;
      assert.equal(timedOut.status, 503);
      assert.equal(await errorCode(timedOut), 'backend_unavailable');
      assert.equal(sim.requests.length, 0);
      slot.release();
      assert.equal(gw.pool.get('a')!.inFlight, 0);
      const metrics = await (await fetch(gw.url + '/metrics')).text();
      assert.match(metrics, /owlrun_queue_wait_seconds_count\{outcome="timeout"\} 1/);
      assert.match(metrics, /owlrun_queue_refusals_total 1/);
    });

    it('a client that leaves while waiting leaves the queue; the next one gets the node', async () => {
      sim = await startSimulator({ kind: 'vllm', models: ['m'] });
      gw = await startTestGateway({ backends: [{ id: 'a', kind: 'vllm', url: sim.url, models: ['m'], maxConcurrent: 1 }] });
      const slot = await occupy(gw, 'm');
      const leaving = new AbortController();
      const gone = chat(gw.url, 'm', 'gone', {}, leaving.signal).catch(() => undefined);
      await until(() => gw!.queue.depth === 1);
      const stays = chat(gw.url, 'm', 'stays');
      await until(() => gw!.queue.depth === 2);
      leaving.abort();
      await gone;
      await until(() => gw!.queue.depth === 1);
      slot.release();
      const r = await stays;
      assert.equal(r.status, 200);
      await r.json();
      assert.deepEqual(sim.requests.map((q) => (q.body as { messages: { content: string }[] }).messages[0]!.content), ['stays']);
      assert.equal(gw.pool.get('a')!.inFlight, 0);
    });

    it('fills every node before anyone waits, and refuses at once when no healthy node serves the model', async () => {
      sim = await startSimulator({ kind: 'vllm', models: ['m'], tokens: 2 });
      const down = await startSimulator({ kind: 'vllm', models: ['d'], healthy: false });
      try {
        gw = await startTestGateway({
          backends: [
            { id: 'a', kind: 'vllm', url: sim.url, models: ['m'], maxConcurrent: 2 },
            { id: 'b', kind: 'vllm', url: down.url, models: ['d'] },
          ],
        });
        const slot = await occupy(gw, 'm');
        const r = await chat(gw.url, 'm', 'second place is free');
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('server-timing'), null, 'did not wait');
        await r.json();
        const d = await chat(gw.url, 'd', 'node down');
        assert.equal(d.status, 503);
        assert.equal(await errorCode(d), 'backend_unavailable');
        assert.equal(gw.queue.depth, 0);
        slot.release();
      } finally {
        await down.close();
      }
    });

    it('maxConcurrent defaults to what each server kind runs at once', async () => {
      sim = await startSimulator({ kind: 'vllm', models: ['m'] });
      gw = await startTestGateway({
        backends: [
          { id: 'v', kind: 'vllm', url: sim.url, models: ['m'] },
          { id: 'l', kind: 'llamacpp', url: sim.url, models: ['m'] },
          { id: 'o', kind: 'ollama', url: sim.url, models: ['m'] },
          { id: 'x', kind: 'openai', url: sim.url, models: ['m'] },
        ],
      });
      assert.deepEqual(
        ['v', 'l', 'o', 'x'].map((id) => gw!.pool.get(id)!.maxConcurrent),
        [256, 4, 4, 8],
      );
    });
  });

  describe('paid', () => {
    let env: PaidEnv | undefined;
    afterEach(async () => {
      await env?.close();
      env = undefined;
    });

    it('claims nothing while waiting, then claims once and serves when the node frees up; the books add up', async () => {
      env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 5, promptTokens: 10 } });
      env.gw.pool.get('node-1')!.maxConcurrent = 1;
      const token = await env.token(40);
      const slot = await occupy(env.gw, env.model);
      const swaps = env.swaps();
      const answer = chat(env.gw.url, env.model, 'hello', { 'x-cashu': token });
      await until(() => env!.gw.queue.depth === 1);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(env.swaps(), swaps, 'no claim while waiting');
      assert.equal(await env.spendable(token), true, 'the buyer still holds the token');
      assert.equal((await env.books()).pending, 0);
      slot.release();
      const res = await answer;
      assert.equal(res.status, 200);
      await res.json();
      assert.equal(env.swaps(), swaps + 1);
      // 10 prompt tokens × 0.1 + 5 completion tokens × 1 = 6 sats
      assert.equal(res.headers.get('x-cashu-cost-sats'), '6');
      assert.equal(await env.redeem(res.headers.get('x-cashu-change')!), 34);
      assert.deepEqual(await env.assertBooksBalance(), { held: 6, gateway: 1, providers: 5, pending: 0 });
      assert.equal(env.gw.pool.get('node-1')!.inFlight, 0);
    });

    it('a wait that times out is 503 with the untouched token in X-Cashu-Change, redeemable in full', async () => {
      env = await PaidEnv.start({ config: { queue: { maxWaitMs: 150, maxLength: 10 } } });
      env.gw.pool.get('node-1')!.maxConcurrent = 1;
      const token = await env.token(20);
      const slot = await occupy(env.gw, env.model);
      const swaps = env.swaps();
      const res = await chat(env.gw.url, env.model, 'hello', { 'x-cashu': token });
      assert.equal(res.status, 503);
      assert.equal(await errorCode(res), 'backend_unavailable');
      assert.equal(res.headers.get('x-cashu-change'), token);
      assert.equal(env.swaps(), swaps);
      slot.release();
      assert.equal(await env.redeem(token), 20);
      assert.deepEqual(await env.assertBooksBalance(), { held: 0, gateway: 0, providers: 0, pending: 0 });
    });

    it('a paying buyer who leaves while waiting is never claimed', async () => {
      env = await PaidEnv.start();
      env.gw.pool.get('node-1')!.maxConcurrent = 1;
      const token = await env.token(20);
      const slot = await occupy(env.gw, env.model);
      const swaps = env.swaps();
      const leaving = new AbortController();
      const gone = chat(env.gw.url, env.model, 'hello', { 'x-cashu': token }, leaving.signal).catch(() => undefined);
      await until(() => env!.gw.queue.depth === 1);
      leaving.abort();
      await gone;
      await until(() => env!.gw.queue.depth === 0);
      slot.release();
      await until(() => env!.gw.inFlight === 0);
      assert.equal(env.swaps(), swaps);
      assert.equal(env.sim.requests.length, 0);
      assert.equal(await env.redeem(token), 20);
      assert.deepEqual(await env.assertBooksBalance(), { held: 0, gateway: 0, providers: 0, pending: 0 });
    });
  });
});
