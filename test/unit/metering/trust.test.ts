import assert from 'node:assert/strict';
import { outputCap } from '../../../plugins/metering/caps.js';
import { clampUsage, completionCeiling, promptCeiling, tolerance } from '../../../plugins/metering/trust.js';
import { UsageCounter } from '../../../plugins/metering/usage.js';
import { GatewayMetrics, MAX_NODE_LABELS, OTHER_NODE } from '../../../src/metrics/registry.js';
import { SseParser } from '../../../src/stream/sse.js';

const usage = (promptTokens: number, completionTokens: number) => ({ promptTokens, completionTokens, source: 'backend' as const });

describe('metering: an untrusted node is billed at most the gateway\'s own count', () => {
  it('tolerance is max(4 tokens, 10% of the own count), rounded down', () => {
    assert.equal(tolerance(0), 4);
    assert.equal(tolerance(20), 4);
    assert.equal(tolerance(49), 4);
    assert.equal(tolerance(59), 5);
    assert.equal(tolerance(1000), 100);
  });

  it('ceilings: own + tolerance, the completion also under the cap, nothing for nothing delivered', () => {
    assert.equal(promptCeiling({ prompt: 9, completion: 0 }), 13);
    assert.equal(completionCeiling({ prompt: 9, completion: 20 }), 24);
    assert.equal(completionCeiling({ prompt: 9, completion: 20, completionCap: 22 }), 22);
    assert.equal(completionCeiling({ prompt: 9, completion: 5, completionCap: 5 }), 5);
    assert.equal(completionCeiling({ prompt: 9, completion: 0 }), 0, 'no output delivered: no completion billed');
  });

  it('clamps a lie and names each disputed count; an honest or lower report passes unchanged', () => {
    const own = { prompt: 9, completion: 20, completionCap: 99 };
    assert.deepEqual(clampUsage(usage(1_000_000, 1_000_000), own, { prompt: 1_000_000, completion: 1_000_000 }), { usage: usage(13, 24), disputes: ['prompt', 'completion'] });
    assert.deepEqual(clampUsage(usage(11, 22), own, { prompt: 11, completion: 22 }), { usage: usage(11, 22), disputes: [] });
    assert.deepEqual(clampUsage(usage(2, 3), own, { prompt: 2, completion: 3 }), { usage: usage(2, 3), disputes: [] }, 'under-reporting only costs the node');
    const estimated = { promptTokens: 9, completionTokens: 40, source: 'estimated' as const };
    assert.deepEqual(clampUsage(estimated, own, {}), { usage: { ...estimated, completionTokens: 24 }, disputes: [] }, 'an estimate is clamped too, but it is no dispute');
  });

  it("the cap is the server's own output limit, for all n choices", () => {
    assert.equal(outputCap({ max_tokens: 5 }, 'openai_chat', 'vllm'), 5);
    assert.equal(outputCap({ max_tokens: 50, max_completion_tokens: 5 }, 'openai_chat', 'vllm'), 5, 'vLLM prefers max_completion_tokens');
    assert.equal(outputCap({ max_tokens: 5, n: 3 }, 'openai_chat', 'vllm'), 15);
    assert.equal(outputCap({ max_tokens: 50, n_predict: 7 }, 'openai_chat', 'llamacpp'), 7, 'llama.cpp: n_predict first');
    assert.equal(outputCap({ max_tokens: 50, n_predict: -1 }, 'openai_chat', 'llamacpp'), 50);
    assert.equal(outputCap({ max_tokens: 8 }, 'openai_chat', 'ollama'), 8);
    assert.equal(outputCap({ options: { num_predict: 12 } }, 'ollama_chat', 'ollama'), 12);
    assert.equal(outputCap({ options: { num_predict: -1 } }, 'ollama_generate', 'ollama'), undefined);
    assert.equal(outputCap({}, 'openai_chat', 'vllm'), undefined);
  });

  it("the own count is the tokenizer's count of the delivered text, read lazily, whatever the node reports", () => {
    const words = [' alpha', ' delta', ' echo', ' golf', ' hotel'];
    const body = words.map((t) => `data: {"choices":[{"delta":{"content":"${t}"}}]}\n\n`).join('')
      + 'data: {"choices":[],"usage":{"prompt_tokens":1000000,"completion_tokens":1000000,"total_tokens":2000000}}\n\ndata: [DONE]\n\n';
    const c = new UsageCounter();
    for (const ev of new SseParser({ maxEventBytes: 1 << 20 }).push(Buffer.from(body))) c.observeEvent(ev);
    assert.equal(c.completionSoFar, 1_000_000, 'a trusted backend is taken at its word');
    assert.equal(c.outputSoFar, 5, 'an untrusted one by the events it delivered');
    assert.deepEqual(c.reported, { prompt: 1_000_000, completion: 1_000_000 });
    assert.equal(c.ownCompletionTokens(), 5);
    assert.equal(c.ownCompletionTokens(), 5, 'idempotent');
    assert.deepEqual(c.result(9), usage(1_000_000, 1_000_000));
  });

  it('many one-character events do not inflate the own count', () => {
    const body = [...'abcdefghijklmnopqrstuvwxyz'].map((t) => `data: {"choices":[{"delta":{"content":"${t}"}}]}\n\n`).join('') + 'data: [DONE]\n\n';
    const c = new UsageCounter();
    for (const ev of new SseParser({ maxEventBytes: 1 << 20 }).push(Buffer.from(body))) c.observeEvent(ev);
    assert.equal(c.outputSoFar, 26);
    assert.ok(c.ownCompletionTokens() < 10, `the alphabet is a few tokens, not 26 (${c.ownCompletionTokens()})`);
  });

  it('node labels of the dispute and failover counters are bounded', () => {
    const m = new GatewayMetrics({ processMetrics: false });
    for (let i = 0; i < MAX_NODE_LABELS; i++) assert.equal(m.nodeLabel(`p/n${i}`), `p/n${i}`);
    assert.equal(m.nodeLabel('p/one-too-many'), OTHER_NODE);
    assert.equal(m.nodeLabel('p/n7'), 'p/n7', 'a node already labelled keeps its name');
  });
});
