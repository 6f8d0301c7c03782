import assert from 'node:assert/strict';
import { estimatePromptTokens as gatewayEstimate } from '../../../src/billing/estimate.js';
import { ChangeFilter } from '../../../src/client/change-filter.js';
import { gatewayBase } from '../../../src/client/pay.js';
import { maxOutputTokens, promptTokensAtMost } from '../../../src/client/pricing.js';
import { receiptOf } from '../../../src/client/receipt.js';
import { receiptOf as gatewayReceipt } from '../../../plugins/payment/receipt.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Feeds `text` to a filter in pieces of the given sizes; returns what it passed on. */
function filtered(format: 'sse' | 'ndjson', text: string, sizes: number[]): { out: string; f: ChangeFilter } {
  const f = new ChangeFilter(format);
  const bytes = enc.encode(text);
  const parts: Uint8Array[] = [];
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    parts.push(...f.push(bytes.slice(off, off + n)));
    off += n;
  }
  parts.push(...f.flush());
  return { out: parts.map((p) => dec.decode(p)).join(''), f };
}

describe('agent wallet: pure parts (src/client)', () => {
  it("computes the gateway's receipt from the token's secrets", () => {
    const secrets = ['b-secret', 'a-secret', '0f'.repeat(32)];
    assert.equal(receiptOf(secrets), gatewayReceipt({ proofs: secrets.map((secret) => ({ id: '00', amount: 1, secret, C: '02' })) } as never));
  });

  it('passes every SSE event through byte for byte, except the change event, on any chunking', () => {
    const backend = 'data: {"choices":[{"delta":{"content":"héllo 🦉"}}]}\n\n: keep-alive\n\ndata: {"choices":[]}\r\n\r\ndata: [DONE]\n\n';
    const change = 'data: {"type":"cashu_change","token":"cashuBxyz","change_sats":7,"cost_sats":3}\n\n';
    for (const sizes of [[1], [2, 5], [7, 1, 3], [1000]]) {
      const { out, f } = filtered('sse', backend + change, sizes);
      assert.equal(out, backend, `sizes ${sizes}`);
      assert.deepEqual(f.change, { type: 'cashu_change', token: 'cashuBxyz', change_sats: 7, cost_sats: 3 });
      assert.equal(f.ended, true);
    }
    const cut = filtered('sse', 'data: {"a":1}\n\ndata: {"b"', [3]);
    assert.equal(cut.out, 'data: {"a":1}\n\ndata: {"b"', 'a stream cut mid-event passes what came');
    assert.equal(cut.f.change, undefined);
    assert.equal(cut.f.ended, false);
  });

  it('keeps the change line of an NDJSON stream and notes the done line', () => {
    const backend = '{"message":{"content":"hi"},"done":false}\n{"done":true,"eval_count":3}\n';
    const { out, f } = filtered('ndjson', backend + '{"type":"cashu_change","token":"","change_sats":0,"cost_sats":2}\n', [4]);
    assert.equal(out, backend);
    assert.equal(f.change?.cost_sats, 2);
    const half = filtered('ndjson', backend, [5]);
    assert.equal(half.f.ended, true);
  });

  it('prices at least the prompt tokens the gateway counts, and the output the request allows', () => {
    const bodies = [
      { messages: [{ role: 'user', content: 'Hello owl' }] },
      { messages: [{ role: 'system', content: 'Be brief. '.repeat(50) }, { role: 'user', content: [{ type: 'text', text: 'こんにちは 🦉' }] }] },
      { prompt: 'Once upon a time', system: 'story teller' },
      { prompt: ['a', 'b', 17], tools: [{ type: 'function', function: { name: 'f' } }] },
    ];
    for (const b of bodies) assert.ok(promptTokensAtMost(b) >= gatewayEstimate(b), JSON.stringify(b));
    assert.equal(maxOutputTokens({ max_tokens: 50, max_completion_tokens: 20 }, 1024), 20);
    assert.equal(maxOutputTokens({ options: { num_predict: 64 } }, 1024), 64);
    assert.equal(maxOutputTokens({ n: 3 }, 100), 300);
    assert.equal(maxOutputTokens({ max_tokens: -1, n_predict: -1 }, 100), 100);
  });

  it('recognises the inference routes of a gateway, under any base path', () => {
    assert.equal(gatewayBase('http://gw:8080/v1/chat/completions', 'POST'), 'http://gw:8080');
    assert.equal(gatewayBase('https://x.example/owlrun/v1/completions?a=1', 'post'), 'https://x.example/owlrun');
    assert.equal(gatewayBase('http://gw/api/generate', 'POST'), 'http://gw');
    assert.equal(gatewayBase('http://gw/v1/chat/completions', 'GET'), undefined);
    assert.equal(gatewayBase('http://gw/v1/models', 'POST'), undefined);
  });
});
