import assert from 'node:assert/strict';
import { startTestGateway } from '../helpers/gateway.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

// A paid job's output cap is written in the parameter names of the node that runs it, also when
// the first candidate (another kind of server) refused and the job failed over.
describe('caps on failover', () => {
  let env: PaidEnv | undefined;
  let ollama: Simulator | undefined;
  afterEach(async () => {
    await env?.close();
    await ollama?.close();
    env = ollama = undefined;
  });

  it('regression (issue 11): a job that fails over from vLLM to Ollama is capped with max_tokens, which Ollama reads', async () => {
    ollama = await startSimulator({ kind: 'ollama', models: ['sim-m'], tokens: 200 });
    const e = (env = await PaidEnv.start({ sim: { kind: 'vllm', models: ['sim-m'], failStatus: 503 } }));
    await e.gw.shutdown(0);
    e.gw = await startTestGateway(
      PaidEnv.config(e.sim, e.mintUrl, {
        backends: [
          { id: 'vllm-1', kind: 'vllm', url: e.sim.url, provider: 'alice' },
          { id: 'ollama-1', kind: 'ollama', url: ollama.url, provider: 'alice' },
        ],
      }),
    );
    for (let i = 0; i < 2; i++) {
      const res: Response = await fetch(e.gw.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cashu': await e.token(20) },
        body: JSON.stringify({ model: 'sim-m', max_completion_tokens: 5000, messages: [{ role: 'user', content: 'Hello' }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.ok(e.sim.requests.length >= 1, 'vLLM refused at least one job first (equal load is rotated)');
    assert.equal(ollama.requests.length, 2);
    for (const r of ollama.requests) {
      const body = r.body as { max_tokens?: number; max_completion_tokens?: number };
      assert.equal(body.max_completion_tokens, undefined, 'Ollama ignores max_completion_tokens: it is not sent');
      assert.ok(body.max_tokens !== undefined && body.max_tokens <= 20, `capped to what 20 sats buy, got ${body.max_tokens}`);
      assert.ok(r.tokensSent <= 20);
    }
    await e.assertBooksBalance();
  });
});
