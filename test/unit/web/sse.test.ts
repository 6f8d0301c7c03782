import assert from 'node:assert/strict';
import { SseParser, deltaText, isChangeEvent } from '../../../src/web/client/sse.js';

describe('chat page SSE reader (src/web/client/sse.ts)', () => {
  const stream =
    'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n' +
    'data: {"choices":[{"delta":{"content":"lo"}}]}\r\n\r\n' +
    ': keep-alive\n\n' +
    'data: [DONE]\n\n' +
    'data: {"type":"cashu_change","token":"cashuBxyz","change_sats":48,"cost_sats":2}\n\n';

  it('frames events across any chunking, CRLF included', () => {
    for (let size = 1; size <= stream.length; size += 7) {
      const p = new SseParser();
      const out: string[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...p.push(stream.slice(i, i + size)));
      out.push(...p.end());
      assert.equal(out.length, 4, `chunk size ${size}`);
      assert.equal(out.map((d) => (d === '[DONE]' ? '' : deltaText(JSON.parse(d)))).join(''), 'Hello');
      const last = JSON.parse(out[3]!);
      assert.ok(isChangeEvent(last));
      assert.equal(last.change_sats, 48);
    }
  });

  it('keeps an event that lost only its blank line', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('data: {"a":1}'), []);
    assert.deepEqual(p.end(), ['{"a":1}']);
  });
});
