import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hasOutput, UsageCounter } from '../../../plugins/metering/usage.js';
import { SseParser } from '../../../src/stream/sse.js';

describe('metering: counting output without parsing every event', () => {
  it('tells output chunks from role, finish and usage chunks', () => {
    assert.equal(hasOutput('{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'), false);
    assert.equal(hasOutput('{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}]}'), false);
    assert.equal(hasOutput('{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'), false);
    assert.equal(hasOutput('{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}'), true);
    assert.equal(hasOutput('{"choices": [{"delta": {"content": "Hi"}}]}'), true, 'JSON with spaces');
    assert.equal(hasOutput('{"choices":[{"text":" sky","index":0,"finish_reason":null}]}'), true);
    assert.equal(hasOutput('{"choices":[{"delta":{"reasoning_content":"think"}}]}'), true);
    assert.equal(hasOutput('{"choices":[{"delta":{"content":"","tool_calls":[{"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}'), true);
    assert.equal(hasOutput('{"choices":[{"delta":{"content":"say \\"content\\":\\"\\" please"}}]}'), true);
  });

  for (const file of ['vllm-chat-usage.txt', 'llamacpp-chat-usage.txt', 'ollama-v1-chat.txt', 'ollama-v1-chat-pre-0.32.6.txt']) {
    it(`counts ${file} exactly as parsing every event would`, () => {
      const events = new SseParser({ maxEventBytes: 1 << 20 }).push(readFileSync(`test/fixtures/streams/${file}`));
      const fast = new UsageCounter();
      const slow = new UsageCounter();
      for (const ev of events) {
        fast.observeEvent(ev);
        if (!ev.terminal && ev.data !== undefined) slow.observe(ev.json());
      }
      assert.equal(fast.completionSoFar, slow.completionSoFar);
      assert.deepEqual(fast.result(7), slow.result(7));
    });
  }

  it('reads unread chunks for an estimate when the backend reports no usage', () => {
    const body = ['Hello', ' there', ' friend'].map((t) => `data: {"choices":[{"delta":{"content":"${t}"}}]}\n\n`).join('') + 'data: [DONE]\n\n';
    const c = new UsageCounter();
    for (const ev of new SseParser({ maxEventBytes: 1 << 20 }).push(Buffer.from(body))) c.observeEvent(ev);
    assert.equal(c.completionSoFar, 3);
    const u = c.result(5);
    assert.equal(u.source, 'estimated');
    assert.equal(u.promptTokens, 5);
    assert.equal(u.completionTokens, 3);
  });
});
