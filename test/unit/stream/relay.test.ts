import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { PassThrough, Writable } from 'node:stream';
import { PASS } from '../../../src/stream/event.js';
import { NdjsonFramer, NdjsonParser } from '../../../src/stream/ndjson.js';
import { relayStream, type RelayEnd, type RelayFraming } from '../../../src/stream/relay.js';
import { SseFramer, SseParser } from '../../../src/stream/sse.js';

const MIB = 1024 * 1024;

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../fixtures/streams/${name}`, import.meta.url));
}

/** A client response that records each write and the end. */
class Client extends Writable {
  readonly writes: string[] = [];
  ended?: string;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    if (this.ended === undefined) this.writes.push(chunk.toString('latin1'));
    cb();
  }

  /** The bytes of the end() call are recorded as `ended`, not as a write. */
  override end(chunk?: unknown): this {
    this.ended = Buffer.isBuffer(chunk) ? chunk.toString('latin1') : '';
    return super.end(chunk as Buffer);
  }
}

interface Run {
  writes: string[];
  ended?: string;
  ends: RelayEnd[];
  aborted: boolean;
  firstWrites: number;
}

/** Relays `chunks` (then EOF, or a broken connection) to a recording client; the trailer is "TRAILER". */
async function relay(chunks: readonly Buffer[], framing: RelayFraming, sse = true, broken = false): Promise<Run> {
  const response = Object.assign(new PassThrough(), { statusCode: 200, headers: {} });
  const client = new Client();
  const run: Run = { writes: client.writes, ends: [], aborted: false, firstWrites: 0 };
  const done = relayStream({ response, abort: () => (run.aborted = true) }, client as unknown as ServerResponse, framing, sse, {
    onFirstWrite: () => run.firstWrites++,
    finish: async (end) => {
      run.ends.push(end);
      return [Buffer.from('TRAILER')];
    },
  });
  for (const c of chunks) {
    response.write(c);
    await new Promise((r) => setImmediate(r)); // one upstream read per chunk
  }
  if (broken) response.destroy();
  else response.end();
  await done;
  run.ended = client.ended;
  return run;
}

const events = (parser: SseParser | NdjsonParser): RelayFraming => ({ parser, onEvent: () => PASS });

function pieces(buf: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < buf.length; i += sizes[k++ % sizes.length]!) out.push(buf.subarray(i, i + sizes[k % sizes.length]!));
  return out;
}

describe('relayStream', () => {
  const limits = { maxEventBytes: MIB };

  it('writes the same bytes, once per read, and ends the same way with the framer as with passed events', async () => {
    const vllm = fixture('vllm-chat-usage.txt');
    const cases: [string, Buffer][] = [
      ['whole', vllm],
      ['without [DONE]', Buffer.from(vllm.toString().replace('data: [DONE]\n\n', ''))],
      ['CRLF, unterminated last event', Buffer.from(vllm.toString().replaceAll('\n', '\r\n').replace(/\r\n\r\n$/, ''))],
    ];
    for (const [what, input] of cases) {
      for (const sizes of [[input.length], [7, 1, 150, 33], [1]]) {
        const chunks = pieces(input, sizes);
        const viaEvents = await relay(chunks, events(new SseParser(limits)));
        const viaFramer = await relay(chunks, { framer: new SseFramer(limits) });
        assert.deepEqual(viaFramer, viaEvents, `${what}, reads of ${sizes.join(',')}`);
        assert.equal(viaFramer.writes.join('') + viaFramer.ended, input.toString('latin1') + (what === 'without [DONE]' ? 'data: [DONE]\n\n' : '') + 'TRAILER');
        assert.equal(viaFramer.firstWrites, 1);
        assert.equal(viaFramer.ends.length, 1);
      }
    }
    const ollama = fixture('ollama-native-chat.txt');
    for (const sizes of [[ollama.length], [5, 64]]) {
      const chunks = pieces(ollama, sizes);
      const viaEvents = await relay(chunks, events(new NdjsonParser(limits)), false);
      const viaFramer = await relay(chunks, { framer: new NdjsonFramer(limits) }, false);
      assert.deepEqual(viaFramer, viaEvents);
      assert.deepEqual(viaFramer.ends[0], { outcome: 'ok', terminalSeen: true, delivered: true, error: undefined });
      assert.equal(viaFramer.writes.join(''), ollama.toString('latin1'));
    }
  });

  it('appends [DONE] and reports backend_failed when the upstream ends without it', async () => {
    const run = await relay([Buffer.from('data: 1\n\ndata: 2\n\n')], { framer: new SseFramer(limits) });
    assert.deepEqual(run.writes, ['data: 1\n\ndata: 2\n\n']);
    assert.equal(run.ended, 'data: [DONE]\n\nTRAILER');
    assert.deepEqual(run.ends, [{ outcome: 'backend_failed', terminalSeen: false, delivered: true, error: 'upstream ended before its terminal marker' }]);
  });

  it('appends no second [DONE] when the upstream breaks after its [DONE]', async () => {
    const chunks = [Buffer.from('data: 1\n\n'), Buffer.from('data: [DONE]\n\n')];
    for (const framing of [events(new SseParser(limits)), { framer: new SseFramer(limits) }]) {
      const run = await relay(chunks, framing, true, true);
      assert.deepEqual(run.writes, ['data: 1\n\n', 'data: [DONE]\n\n']);
      assert.equal(run.ended, 'TRAILER');
      assert.deepEqual(run.ends, [{ outcome: 'backend_failed', terminalSeen: true, delivered: true, error: 'upstream closed' }]);
    }
  });

  it('fails the stream at an event past maxEventBytes: what came before is written, then [DONE] and the trailer', async () => {
    const chunks = [Buffer.from('data: 1\n\n'), Buffer.from(`data: ${'x'.repeat(200)}\n\n`), Buffer.from('data: [DONE]\n\n')];
    for (const framing of [events(new SseParser({ maxEventBytes: 100 })), { framer: new SseFramer({ maxEventBytes: 100 }) }]) {
      const run = await relay(chunks, framing);
      assert.deepEqual(run.writes, ['data: 1\n\n']);
      assert.equal(run.ended, 'data: [DONE]\n\nTRAILER');
      assert.equal(run.aborted, true);
      assert.equal(run.ends.length, 1);
      assert.equal(run.ends[0]!.outcome, 'backend_failed');
      assert.match(run.ends[0]!.error!, /exceeds the limit of 100 bytes/);
    }
  });

  it('joins what the plugins let through of one read into one write, replacements and drops included', async () => {
    const framing: RelayFraming = {
      parser: new SseParser(limits),
      onEvent: (ev) => (ev.data === '2' ? { kind: 'drop' } : ev.data === '3' ? { kind: 'replace', bytes: Buffer.from('data: three\n\n') } : PASS),
    };
    const run = await relay([Buffer.from('data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n'), Buffer.from('data: [DONE]\n\n')], framing);
    assert.deepEqual(run.writes, ['data: 1\n\ndata: three\n\ndata: 4\n\n', 'data: [DONE]\n\n']);
    assert.equal(run.ended, 'TRAILER');
    assert.equal(run.ends[0]!.outcome, 'ok');
  });
});
