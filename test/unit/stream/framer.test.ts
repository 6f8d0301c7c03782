import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StreamFrameError, type EventFramer, type EventParser } from '../../../src/stream/event.js';
import { NdjsonFramer, NdjsonParser } from '../../../src/stream/ndjson.js';
import { SseFramer, SseParser } from '../../../src/stream/sse.js';

// The framers (no plugin reads events) must write what the parsers' passed events would:
// the same bytes per chunk, the same terminal, the same failures past maxEventBytes.

const MIB = 1024 * 1024;

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../fixtures/streams/${name}`, import.meta.url));
}

/** Deterministic PRNG (mulberry32) so a failing split can be reproduced. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces of random sizes in [1, size]. */
function pieces(buf: Buffer, size: number, rand: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, len = 0; i < buf.length; i += len) {
    len = 1 + Math.floor(rand() * size);
    out.push(buf.subarray(i, i + len));
  }
  return out;
}

type Step = { bytes: string | undefined; terminal: boolean } | { threw: true };

/** What the relay would write per chunk through the parser (events passed), and the terminal flag so far. */
function viaParser(parser: EventParser, chunks: readonly Buffer[]): Step[] {
  const steps: Step[] = [];
  let terminal = false;
  const record = (events: ReturnType<EventParser['push']>) => {
    if (events.some((e) => e.terminal)) terminal = true;
    const out = Buffer.concat(events.map((e) => e.raw));
    steps.push({ bytes: out.length === 0 ? undefined : out.toString('latin1'), terminal });
  };
  for (const c of chunks) {
    try {
      record(parser.push(c));
    } catch (err) {
      assert.ok(err instanceof StreamFrameError);
      steps.push({ threw: true });
      return steps;
    }
  }
  record(parser.end());
  return steps;
}

function viaFramer(framer: EventFramer, chunks: readonly Buffer[]): Step[] {
  const steps: Step[] = [];
  const record = (out: Buffer | undefined) => steps.push({ bytes: out?.toString('latin1'), terminal: framer.terminalSeen });
  for (const c of chunks) {
    try {
      record(framer.push(c));
    } catch (err) {
      assert.ok(err instanceof StreamFrameError);
      steps.push({ threw: true });
      return steps;
    }
  }
  record(framer.end());
  return steps;
}

function assertSame(kind: 'sse' | 'ndjson', chunks: readonly Buffer[], maxEventBytes: number, what: string): Step[] {
  const limits = { maxEventBytes };
  const expected = viaParser(kind === 'sse' ? new SseParser(limits) : new NdjsonParser(limits), chunks);
  const actual = viaFramer(kind === 'sse' ? new SseFramer(limits) : new NdjsonFramer(limits), chunks);
  assert.deepEqual(actual, expected, what);
  return actual;
}

function lastTerminal(steps: Step[]): boolean {
  const last = steps.at(-1)!;
  return 'terminal' in last && last.terminal;
}

const SSE_EXTRAS = [
  'data: a\n\n\n\ndata: b\n\n\n',
  ':\n\ndata: a\n\n: keep-alive\n\nevent: ping\n\n',
  'data: 1\n\ndata: [DONE]\n\n: after the end\n\n',
  'data:[DONE]\n\ndata: [DONE] \n\ndata: "[DONE]"\n\n',
  'data: [1,2]\n\ndata: [DONE] \n\nid: ]\n\n',
  'event: end\ndata: [DONE]\nid: 9]\n\n',
  'data: [DONE]\ndata: [DONE]\n\ndata: x\n\n',
  'data: a\n\n\ufeffdata: [DONE]\n\n',
  '\ufeffdata: [DONE]\n\n',
  '\xef\xbbdata: [DONE]\n\n',
  'data: a\n\ndata: [DONE]',
  'data: a\n\ndata: [DONE]\r',
  'data: a\n\n\n',
  'database: [DONE]\n\ndata [DONE]\n\ndata\n\n',
  '\n\r\n\r\r\n',
];

function sseInputs(): Buffer[] {
  const texts: string[] = [];
  for (const name of ['vllm-chat-usage.txt', 'llamacpp-chat-usage.txt', 'ollama-v1-chat.txt']) {
    const lf = fixture(name).toString();
    texts.push(lf, lf.replaceAll('\n', '\r\n'), lf.replaceAll('\n', '\r'), `\ufeff${lf}`, lf.replace('data: [DONE]\n\n', ''));
  }
  for (const t of SSE_EXTRAS) texts.push(t, t.replaceAll('\n', '\r\n'), t.replaceAll('\n', '\r'));
  return texts.map((t) => Buffer.from(t, t.startsWith('\xef\xbb') ? 'latin1' : 'utf8'));
}

describe('SseFramer', () => {
  it('returns per chunk exactly the bytes of the events the parser completes, and the same terminal, for random splits', () => {
    const rand = rng(0xf4a3e);
    for (const input of sseInputs()) {
      assertSame('sse', [input], 8 * MIB, 'whole');
      for (let o = 0; o <= input.length && input.length < 400; o++) {
        assertSame('sse', [input.subarray(0, o), input.subarray(o)], 8 * MIB, `split at ${o}`);
      }
      for (let round = 0; round < 40; round++) {
        assertSame('sse', pieces(input, [1, 3, 16, 300][round % 4]!, rand), 8 * MIB, `round ${round}`);
      }
    }
  });

  it('takes chunks of one event each as the parser does, also ones a CR splits into lines or over the bound', () => {
    for (const input of sseInputs()) {
      const text = input.toString('latin1');
      const events = text.split(/(?<=\n\n)/).map((e) => Buffer.from(e, 'latin1'));
      assertSame('sse', events, 8 * MIB, 'one event per chunk');
    }
    const chunks = (...texts: string[]) => texts.map((t) => Buffer.from(t));
    const steps = assertSame('sse', chunks('data: 1\n\n', 'data: [DONE]\r: x\n\n'), MIB, 'a CR line end inside');
    assert.equal(lastTerminal(steps), true);
    assertSame('sse', chunks('data: 1\n\n', 'data: [DONE]\r\r', 'data: 2\n\n', ': x]\n\n'), MIB, 'after a CR blank line');
    assertSame('sse', chunks('\ufeffdata: 1\n\n', 'data: 2\n\n'), MIB, 'after a BOM');
    assertSame('sse', chunks('data: 1\n\n', `data: ${'x'.repeat(200)}\n\n`), 100, 'over the bound');
    assertSame('sse', chunks('\n\n', 'data: 1\n\n', '\n\n', 'x\n\n', '\r\n\n', 'data: [DONE]\n\n'), MIB, 'blank lines');
  });

  it('detects [DONE] as the parser does: exactly the data, in any field order, at EOF, after a BOM only at stream start', () => {
    const terminal = (text: string) => lastTerminal(assertSame('sse', [Buffer.from(text, 'latin1')], MIB, text));
    assert.equal(terminal('data: 1\n\ndata: [DONE]\n\n'), true);
    assert.equal(terminal('data: 1\n\ndata: [DONE]\n\n: after the end\n\n'), true);
    assert.equal(terminal('event: end\ndata:[DONE]\nid: 1\n\n'), true);
    assert.equal(terminal('data: [DONE]'), true);
    assert.equal(terminal('\xef\xbb\xbfdata: [DONE]\n\n'), true);
    assert.equal(terminal('data: a\n\n\xef\xbb\xbfdata: [DONE]\n\n'), false);
    assert.equal(terminal('data: [DONE] \n\ndata: [DONE]x\n\n'), false);
    assert.equal(terminal('data: [DONE]\ndata: [DONE]\n\n'), false);
    assert.equal(terminal('data: [1,2]\n\n'), false);
    assert.equal(terminal('data: 1\n\n'), false);
    // [DONE] beside another data line, in an event begun in an earlier chunk, then another `]` line.
    const split = [Buffer.from('data: 11111111'), Buffer.from('\ndata: [DONE]\n\ndata: [1]\n\n')];
    assert.equal(lastTerminal(assertSame('sse', split, MIB, 'two data lines, then a suspect event')), false);
  });

  it('returns a chunk that completes only whole events itself', () => {
    const framer = new SseFramer({ maxEventBytes: MIB });
    const chunk = Buffer.from('data: {"a":1}\n\ndata: {"b":2}\n\n');
    assert.equal(framer.push(chunk), chunk);
    const head = Buffer.from('data: {"c":');
    assert.equal(framer.push(head), undefined);
    const tail = Buffer.from('3}\n\ndata: x');
    assert.equal(framer.push(tail)!.toString(), 'data: {"c":3}\n\n');
    assert.equal(framer.end()!.toString(), 'data: x');
    assert.equal(framer.terminalSeen, false);
  });

  it('throws StreamFrameError where the parser does: an event or pending bytes past maxEventBytes', () => {
    const rand = rng(7);
    const inputs = [
      `data: a\n\ndata: ${'x'.repeat(993)}\n\ndata: b\n\n`,
      `data: a\n\ndata: ${'x'.repeat(1200)}`,
      `data: ${'x'.repeat(992)}\n\ndata: ${'y'.repeat(992)}\r\n\r\n`,
    ].map((t) => Buffer.from(t));
    for (const input of inputs) {
      for (const max of [1000, 1001, 4096]) {
        assertSame('sse', [input], max, `whole, max ${max}`);
        for (let round = 0; round < 60; round++) assertSame('sse', pieces(input, 700, rand), max, `round ${round}, max ${max}`);
      }
    }
    assert.throws(() => new SseFramer({ maxEventBytes: 1000 }).push(inputs[0]!), StreamFrameError);
    const framer = new SseFramer({ maxEventBytes: 1000 });
    framer.push(Buffer.from(`data: ${'x'.repeat(900)}`));
    assert.throws(() => framer.push(Buffer.from('x'.repeat(200))), StreamFrameError);
  });
});

describe('NdjsonFramer', () => {
  const NDJSON_EXTRAS = [
    '{"a":1}\n{"done":true}\n',
    '{"a":1}\r\n{"done": true}\r\n{"after":1}\n',
    '{"content":"true"}\n{"done":false,"x":true}\n',
    '{"\\u0064one":true}\n',
    '\n\n{"done":true}',
    '{"done":true}\r',
    '{"done":true',
    'not json true\n[true]\n',
  ];

  function inputs(): Buffer[] {
    const texts = ['ollama-native-chat.txt', 'ollama-native-generate.txt'].map((n) => fixture(n).toString());
    texts.push(...texts.map((t) => t.replaceAll('\n', '\r\n')), ...NDJSON_EXTRAS);
    return texts.map((t) => Buffer.from(t));
  }

  it('returns per chunk exactly the bytes of the lines the parser completes, and the same terminal, for random splits', () => {
    const rand = rng(0xd0e);
    for (const input of inputs()) {
      assertSame('ndjson', [input], 8 * MIB, 'whole');
      for (let o = 0; o <= input.length && input.length < 400; o++) {
        assertSame('ndjson', [input.subarray(0, o), input.subarray(o)], 8 * MIB, `split at ${o}`);
      }
      for (let round = 0; round < 40; round++) {
        assertSame('ndjson', pieces(input, [1, 3, 16, 300][round % 4]!, rand), 8 * MIB, `round ${round}`);
      }
    }
  });

  it('detects the done:true line as the parser does, also escaped, at EOF, or followed by more', () => {
    const terminal = (text: string) => lastTerminal(assertSame('ndjson', [Buffer.from(text)], MIB, text));
    assert.equal(terminal('{"a":1}\n{"done":true}\n'), true);
    assert.equal(terminal('{"done":true}\n{"after":1}\n'), true);
    assert.equal(terminal('{"\\u0064one":true}\n'), true);
    assert.equal(terminal('{"done":true}'), true);
    assert.equal(terminal('{"done":false,"x":true}\n{"content":"\\"done\\":true"}\n'), false);
    assert.equal(terminal('[true]\n'), false);
    // A line ending in "done":false} is taken for not terminal without a search, only when that
    // key cannot be part of another: after `,` or `{`, not after an escaped quote.
    assert.equal(terminal('{"done":true,"x\\",\\"done":false}\n'), true);
    assert.equal(terminal('{"done":true,"done":false}\r\n'), false);
    assert.equal(terminal('{"a":1,"done":false}\n{"done":true,"done2":false}\n'), true);
    assert.equal(terminal('{"x":true,"done":false}\n{"done":true}'), true);
    assert.equal(terminal('{"done":true}\n{"done":false}\n'), true);
  });

  it('returns a chunk of whole lines itself', () => {
    const framer = new NdjsonFramer({ maxEventBytes: MIB });
    const chunk = Buffer.from('{"a":1}\n{"b":2}\n');
    assert.equal(framer.push(chunk), chunk);
    assert.equal(framer.push(Buffer.from('{"c"')), undefined);
    assert.equal(framer.push(Buffer.from(':3}\n{"d"'))!.toString(), '{"c":3}\n');
    assert.equal(framer.end()!.toString(), '{"d"');
  });

  it('throws StreamFrameError where the parser does: a line or pending bytes past maxEventBytes', () => {
    const rand = rng(11);
    const inputs = [
      `{"a":1}\n{"x":"${'x'.repeat(993)}"}\n{"b":2}\n`,
      `{"a":1}\n{"x":"${'x'.repeat(1200)}`,
      `{"x":"${'x'.repeat(991)}"}\n{"y":"${'y'.repeat(991)}"}\n`,
    ].map((t) => Buffer.from(t));
    for (const input of inputs) {
      for (const max of [999, 1000, 1001, 4096]) {
        assertSame('ndjson', [input], max, `whole, max ${max}`);
        for (let round = 0; round < 60; round++) assertSame('ndjson', pieces(input, 700, rand), max, `round ${round}, max ${max}`);
      }
    }
    assert.throws(() => new NdjsonFramer({ maxEventBytes: 1000 }).push(inputs[0]!), StreamFrameError);
  });
});
