import assert from 'node:assert/strict';
import { encodeGatewayMessage, MAX_SENT_BYTES, parseNodeMessage } from '../../../plugins/marketplace/protocol.js';
import { nodeRequestBody, tagFor } from '../../../plugins/marketplace/transport.js';
import { checkAck } from '../../../src/simulator/owlrun-ack.js';
import { goBase64Decode, goDeserializeToken, goJson, goString } from '../../../src/simulator/owlrun-go.js';
import { agentReads } from '../../../src/simulator/owlrun-mock-ollama.js';
import { ChatCompletionAssembler } from '../../../src/stream/chat-completion.js';

describe('marketplace/protocol: what the Owlrun agent reads and writes', () => {
  it('heartbeat_ack: integers as JSON integers (floored, never negative), money in msat, readable by the agent', () => {
    const text = encodeGatewayMessage({ type: 'heartbeat_ack', status: 'active', jobs_today: 2.7, tokens_today: -3, earned_today_usd: 0.0123, earned_today_sats: 9000, earned_total_sats: 9000.9, balance_sats: 9000, queue_depth_global: 0, btc_live_usd: 100000 });
    const parsed = JSON.parse(text) as Record<string, unknown>;
    assert.equal(parsed.jobs_today, 2);
    assert.equal(parsed.tokens_today, 0);
    assert.equal(parsed.earned_total_sats, 9000);
    assert.ok(checkAck(text), 'the agent\'s decoder accepts it');
    assert.equal(checkAck(JSON.stringify({ type: 'heartbeat_ack', balance_sats: 1.5 })), undefined, 'a fraction in an int field breaks the agent');
    assert.equal(checkAck(JSON.stringify({ type: 'heartbeat_ack', balance_sats: '9000' })), undefined);
  });

  it('refuses to send a message the agent could not read (32 KiB)', () => {
    assert.throws(() => encodeGatewayMessage({ type: 'job', job_id: 'x'.repeat(MAX_SENT_BYTES), model: 'm', vram_required_mb: 0 }));
  });

  it('reads node messages with missing zero fields as 0, and ignores what is not a message', () => {
    assert.deepEqual(parseNodeMessage('{"type":"heartbeat","node_id":"n","earning_state":"earning"}'), { type: 'heartbeat', queueDepth: 0, vramFreeMb: 0, gpuUtilPct: 0 });
    assert.deepEqual(parseNodeMessage('{"type":"proxy_chunk","job_id":"j"}'), { type: 'proxy_chunk', jobId: 'j', data: '' });
    assert.equal(parseNodeMessage('[1]'), undefined);
    assert.equal(parseNodeMessage('not json'), undefined);
    assert.equal(parseNodeMessage('{"type":"accept"}'), undefined, 'no job id');
    assert.deepEqual(parseNodeMessage('{"type":"surprise"}'), { type: 'unknown' });
  });

  it('the node\'s request: its exact tag, always streaming with usage, the rest of the body as it was', () => {
    assert.equal(tagFor(['mock:latest'], 'mock'), 'mock:latest');
    assert.equal(tagFor(['qwen2.5:0.5b'], 'qwen2.5:0.5b'), 'qwen2.5:0.5b');
    const body = JSON.parse(nodeRequestBody({ model: 'mock', stream: false, max_tokens: 5, stream_options: { foo: 1 }, messages: [] }, 'mock:latest').toString()) as Record<string, unknown>;
    assert.deepEqual(body, { model: 'mock:latest', stream: true, max_tokens: 5, stream_options: { foo: 1, include_usage: true }, messages: [] });
  });
});

describe('simulator/owlrun-go: the agent\'s Go encodings, reproduced', () => {
  it('a multi-byte character cut by a read becomes one U+FFFD per byte on each side', () => {
    const bytes = Buffer.from('ab🦉cd'); // the owl is 4 bytes
    assert.equal(goString(bytes), 'ab🦉cd');
    assert.equal(goString(bytes.subarray(0, 3)), 'ab\uFFFD');
    assert.equal(goString(bytes.subarray(3)), '\uFFFD\uFFFD\uFFFDcd');
    assert.equal(goString(Buffer.from([0xed, 0xa0, 0x80])), '\uFFFD\uFFFD\uFFFD', 'surrogates are invalid in Go');
    assert.equal(goJson({ d: '<&>' }), '{"d":"\\u003c\\u0026\\u003e"}');
  });

  it('reads are at most 4096 bytes and cut anywhere', () => {
    const reads = agentReads(Buffer.alloc(10_000, 1));
    assert.deepEqual(reads.map((r) => r.length), [4096, 4096, 1808]);
  });

  it('parses only padded cashuA tokens, as the agent does', () => {
    const v3 = { token: [{ mint: 'http://mint', proofs: [{ amount: 8, id: '00ab', secret: 's', C: '02' }] }], unit: 'sat' };
    let text = JSON.stringify(v3);
    if (text.length % 3 === 0) text += ' '; // so that its base64 needs padding
    const json = Buffer.from(text);
    const padded = `cashuA${json.toString('base64url')}${'='.repeat(3 - (json.length % 3))}`;
    assert.deepEqual(goDeserializeToken(padded), { mint: 'http://mint', proofs: [{ amount: 8, id: '00ab', secret: 's', C: '02' }] });
    assert.equal(goDeserializeToken(`cashuA${json.toString('base64')}`)?.mint, 'http://mint', 'standard padded base64 too');
    assert.equal(goDeserializeToken(`cashuA${json.toString('base64url')}`), undefined, 'unpadded base64 fails Go\'s decoder');
    assert.equal(goBase64Decode('YWJj', true)?.toString(), 'abc');
    assert.equal(goBase64Decode('YWI', true), undefined);
    assert.equal(goDeserializeToken('cashuBo2F0gaJhaUgA'), undefined);
  });
});

describe('stream/chat-completion: one answer from a stream', () => {
  it('joins content, tool calls, the finish reason and the usage', () => {
    const a = new ChatCompletionAssembler();
    a.add({ id: 'c1', model: 'm', created: 5, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' } }] });
    a.add({ id: 'c1', choices: [{ index: 0, delta: { content: 'lo', tool_calls: [{ index: 0, id: 't', function: { name: 'f', arguments: '{"a"' } }] } }] });
    a.add({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: 'tool_calls' }] });
    a.add({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } });
    assert.deepEqual(a.result('fallback', false), {
      id: 'c1', object: 'chat.completion', created: 5, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 3, completion_tokens: 2 },
    });
    assert.equal((a.result('x', true).choices as { finish_reason: string }[])[0]!.finish_reason, 'length', 'a budget cut ends by length');
  });
});
