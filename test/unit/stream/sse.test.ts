import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StreamFrameError, type StreamEvent } from '../../../src/stream/event.js';
import { SseParser } from '../../../src/stream/sse.js';

const MIB = 1024 * 1024;
const FIXTURES = [
  'ollama-v1-chat.txt',
  'ollama-v1-chat-pre-0.32.6.txt',
  'vllm-chat-usage.txt',
  'llamacpp-chat-usage.txt',
  'llamacpp-finish-with-usage-b6097.txt',
];

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../fixtures/streams/${name}`, import.meta.url));
}

/** Feeds the chunks through a fresh parser, end() included. */
function parse(chunks: readonly Buffer[], maxEventBytes = 8 * MIB): StreamEvent[] {
  const parser = new SseParser({ maxEventBytes });
  const events: StreamEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c));
  events.push(...parser.end());
  return events;
}

function splitAt(buf: Buffer, offset: number): Buffer[] {
  return [buf.subarray(0, offset), buf.subarray(offset)];
}

function bytes(events: readonly StreamEvent[]): Buffer {
  return Buffer.concat(events.map((e) => e.raw));
}

function datas(events: readonly StreamEvent[]): (string | undefined)[] {
  return events.map((e) => e.data);
}

/** Data of events that carry some (a CRLF split after the last CR adds a lone "\n" event). */
function dataOnly(events: readonly StreamEvent[]): string[] {
  return events.flatMap((e) => (e.data === undefined ? [] : [e.data]));
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

/** Pieces of `size` bytes, or of random sizes in [1, size] when `rand` is given. */
function pieces(buf: Buffer, size: number, rand?: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, len = 0; i < buf.length; i += len) {
    len = rand ? 1 + Math.floor(rand() * size) : size;
    out.push(buf.subarray(i, i + len));
  }
  return out;
}

describe('SseParser', () => {
  describe('real server transcripts', () => {
    for (const name of FIXTURES) {
      it(`frames ${name} into data events ending with a single [DONE]`, () => {
        const input = fixture(name);
        const events = parse([input]);
        assert.deepEqual(bytes(events), input);
        for (const e of events) {
          assert.equal(e.format, 'sse');
          assert.ok(e.raw.subarray(-2).equals(Buffer.from('\n\n')), 'raw ends with its blank line');
        }
        const last = events.at(-1)!;
        assert.equal(last.data, '[DONE]');
        assert.equal(last.terminal, true);
        assert.equal(last.json(), undefined);
        for (const e of events.slice(0, -1)) {
          assert.equal(e.terminal, false);
          assert.equal((e.json() as { object: string }).object, 'chat.completion.chunk');
        }
      });
    }

    for (const name of ['ollama-v1-chat.txt', 'llamacpp-chat-usage.txt']) {
      it(`yields the same events for ${name} split in two at every byte offset`, () => {
        const input = fixture(name);
        const whole = datas(parse([input]));
        for (let o = 0; o <= input.length; o++) {
          const events = parse(splitAt(input, o));
          assert.deepEqual(datas(events), whole, `split at ${o}`);
          assert.deepEqual(bytes(events), input, `split at ${o}`);
        }
      });
    }

    it('returns each event as soon as its blank line arrives', () => {
      const input = fixture('ollama-v1-chat.txt');
      const parser = new SseParser({ maxEventBytes: MIB });
      const end = input.indexOf('\n\n') + 1;
      assert.equal(parser.push(input.subarray(0, end)).length, 0);
      assert.equal(parser.push(input.subarray(end, end + 1)).length, 1);
    });
  });

  describe('byte identity', () => {
    it('reproduces every transcript byte for byte over random and 1-byte chunk splits', () => {
      const rand = rng(0x5eed);
      for (const name of FIXTURES) {
        const lf = fixture(name).toString();
        const crlf = lf.replaceAll('\n', '\r\n');
        for (const input of [lf, crlf, lf.replaceAll('\n', '\r'), `\ufeff${lf}`].map(Buffer.from)) {
          const expected = datas(parse([input]));
          assert.deepEqual(dataOnly(parse(pieces(input, 1))), expected);
          for (let round = 0; round < 50; round++) {
            const events = parse(pieces(input, round % 2 === 0 ? 8 : 400, rand));
            assert.deepEqual(bytes(events), input);
            assert.deepEqual(dataOnly(events), expected);
          }
        }
      }
    });

    it('gives the same events for chunks of one event each, also ones a CR splits into lines', () => {
      for (const name of FIXTURES) {
        const input = fixture(name);
        const chunks = input.toString().split(/(?<=\n\n)/).map((e) => Buffer.from(e));
        assert.ok(chunks.length > 1);
        const events = parse(chunks);
        assert.deepEqual(datas(events), datas(parse([input])));
        assert.deepEqual(events.map((e) => e.terminal), parse([input]).map((e) => e.terminal));
        events.forEach((e, k) => assert.equal(e.raw, chunks[k], 'a chunk of one event is its raw'));
      }
      const split = parse(['data: 1\n\n', '\n\n', 'data: [DONE]\rdata: b\n\n', `data: ${'x'.repeat(90)}\n\n`].map((t) => Buffer.from(t)), 100);
      assert.deepEqual(datas(split), ['1', '[DONE]\nb', 'x'.repeat(90)]);
      assert.equal(split[1]!.raw.toString(), '\n\ndata: [DONE]\rdata: b\n\n', 'blank lines lead the next event');
      assert.equal(split[1]!.terminal, false);
      assert.throws(() => parse([Buffer.from('data: 1\n\n'), Buffer.from(`data: ${'x'.repeat(95)}\n\n`)], 100), StreamFrameError);
    });

    it('keeps stray blank lines between events without making empty events', () => {
      const input = Buffer.from('\n\ndata: a\n\n\n\ndata: b\n\n\n');
      const events = parse([input]);
      assert.deepEqual(datas(events), ['a', 'b', undefined]);
      assert.deepEqual(bytes(events), input);
      assert.equal(events[1]!.raw.toString(), '\n\ndata: b\n\n');
    });
  });

  describe('line ends', () => {
    const lf = fixture('llamacpp-chat-usage.txt');
    const expected = datas(parse([lf]));

    it('accepts CRLF, also with CR and LF in different chunks', () => {
      const crlf = Buffer.from(lf.toString().replaceAll('\n', '\r\n'));
      for (let o = 0; o <= crlf.length; o++) {
        const events = parse(splitAt(crlf, o));
        assert.deepEqual(dataOnly(events), expected, `split at ${o}`);
        assert.deepEqual(bytes(events), crlf);
      }
    });

    it('accepts CR alone', () => {
      const cr = Buffer.from(lf.toString().replaceAll('\n', '\r'));
      for (let o = 0; o <= cr.length; o += 7) {
        assert.deepEqual(datas(parse(splitAt(cr, o))), expected, `split at ${o}`);
      }
    });

    it('does not take the LF of a CRLF split across chunks for a blank line', () => {
      const events = parse([Buffer.from('data: a\r'), Buffer.from('\ndata: b\r\n\r\n')]);
      assert.deepEqual(datas(events), ['a\nb']);
    });

    it('returns an event whose blank line is a CR at a chunk end without waiting for more', () => {
      const parser = new SseParser({ maxEventBytes: MIB });
      assert.deepEqual(datas(parser.push(Buffer.from('data: a\r\n\r'))), ['a']);
      const rest = parser.push(Buffer.from('\ndata: b\r\r'));
      assert.deepEqual(datas(rest), ['b']);
      assert.equal(rest[0]!.raw.toString(), '\ndata: b\r\r', 'the LF of the CRLF leads the next');
      assert.deepEqual(parser.push(Buffer.from('\n')), []);
      assert.deepEqual(parser.end().map((e) => [e.data, e.raw.toString()]), [[undefined, '\n']]);
    });
  });

  describe('byte order mark', () => {
    it('skips a BOM at stream start but keeps it in raw, also when split', () => {
      const input = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('data: x\n\n')]);
      for (let o = 0; o <= 4; o++) {
        const events = parse(splitAt(input, o));
        assert.deepEqual(datas(events), ['x'], `split at ${o}`);
        assert.deepEqual(bytes(events), input);
      }
    });

    it('treats a partial BOM, or a BOM after stream start, as line content', () => {
      const input = Buffer.from('\xef\xbbdata: x\n\ndata: y\n\n', 'latin1');
      const events = parse(splitAt(input, 1));
      assert.deepEqual(datas(events), [undefined, 'y']);
      assert.deepEqual(bytes(events), input);
      const later = parse([Buffer.from('data: a\n\n\ufeffdata: b\n\n')]);
      assert.deepEqual(datas(later), ['a', undefined]);
    });
  });

  describe('fields', () => {
    it('joins several data lines with a newline', () => {
      assert.deepEqual(datas(parse([Buffer.from('data: a\ndata:  b\ndata:c\n\n')])), ['a\n b\nc']);
    });

    it('treats `data` without a colon and `data:` as an empty value', () => {
      assert.deepEqual(datas(parse([Buffer.from('data\n\ndata:\n\n')])), ['', '']);
    });

    it('ignores event, id, retry, unknown fields and comments for data', () => {
      const input = 'event: message\nid: 7\nretry: 100\ndatabase: x\n: note\ndata: {"a":1}\n\n';
      const events = parse([Buffer.from(input)]);
      assert.deepEqual(datas(events), ['{"a":1}']);
      assert.deepEqual(events[0]!.json(), { a: 1 });
    });

    it('emits a comment ping as an event without data', () => {
      const events = parse([Buffer.from(':\n\ndata: a\n\n: keep-alive\n\nevent: ping\n\n')]);
      assert.deepEqual(datas(events), [undefined, 'a', undefined, undefined]);
      assert.equal(events[0]!.raw.toString(), ':\n\n');
      assert.equal(events[0]!.terminal, false);
      assert.equal(events[0]!.json(), undefined);
    });

    it('decodes UTF-8 split across chunks', () => {
      const input = Buffer.from('data: {"content":"Grüße 🦉"}\n\n');
      for (let o = 0; o <= input.length; o++) {
        const events = parse(splitAt(input, o));
        assert.deepEqual(events[0]!.json(), { content: 'Grüße 🦉' });
      }
    });

    it('returns every event of a chunk holding several', () => {
      const events = parse([Buffer.from('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n')]);
      assert.deepEqual(datas(events), ['1', '2', '[DONE]']);
      assert.deepEqual(events.map((e) => e.terminal), [false, false, true]);
    });
  });

  describe('terminal and json()', () => {
    it('marks only data exactly [DONE] as terminal', () => {
      const events = parse([Buffer.from('data:[DONE]\n\ndata: [DONE] \n\ndata: "[DONE]"\n\n')]);
      assert.deepEqual(events.map((e) => e.terminal), [true, false, false]);
    });

    it('marks an event terminal only when [DONE] is its one data line, whatever other fields it has', () => {
      const input = 'id: 1\ndata: [DONE]\n\ndata: [DONE]\nevent: end\n\ndata: [DONE]\ndata: x\n\ndata: x\ndata: [DONE]\n\ndata: [DONE]\ndata: [DONE]\n\n: c\n\n';
      const events = parse([Buffer.from(input)]);
      assert.deepEqual(events.map((e) => e.terminal), [true, true, false, false, false, false]);
      assert.deepEqual(datas(events), ['[DONE]', '[DONE]', '[DONE]\nx', 'x\n[DONE]', '[DONE]\n[DONE]', undefined]);
    });

    it('does not mark an upstream error event as terminal', () => {
      const error = { error: { code: 500, message: 'boom', type: 'server_error' } };
      const [event] = parse([Buffer.from(`data: ${JSON.stringify(error)}\n\n`)]);
      assert.equal(event!.terminal, false);
      assert.deepEqual(event!.json(), error);
    });

    it('parses JSON once and returns the cached value; undefined for non-JSON', () => {
      const [event] = parse([Buffer.from('data: {"a":[1]}\n\n')]);
      const first = event!.json();
      assert.deepEqual(first, { a: [1] });
      assert.equal(event!.json(), first);
      assert.equal(parse([Buffer.from('data: {"a":\n\n')])[0]!.json(), undefined);
    });
  });

  describe('end of input', () => {
    it('emits an event the server did not terminate with a blank line', () => {
      const parser = new SseParser({ maxEventBytes: MIB });
      assert.deepEqual(parser.push(Buffer.from('data: a\n\ndata: {"b":2}\n')).length, 1);
      const [last] = parser.end();
      assert.equal(last!.data, '{"b":2}');
      assert.equal(last!.raw.toString(), 'data: {"b":2}\n');
      assert.equal(parse([Buffer.from('data: [DONE]')])[0]!.terminal, true, 'EOF ends a line');
    });

    it('emits leftover bytes without a data line as an event without data', () => {
      const events = parse([Buffer.from('data: a\n\n\n')]);
      assert.deepEqual(datas(events), ['a', undefined]);
      assert.equal(events[1]!.raw.toString(), '\n');
      assert.deepEqual(datas(parse([Buffer.from('data: a\n\n')])), ['a']);
      assert.deepEqual(parse([]), []);
    });
  });

  describe('size bound', () => {
    const big = `data: {"context":[${'1,'.repeat(512 * 1024)}1]}\n\n`;

    it('passes a 1 MB event under an 8 MiB bound, whole or in 64 KiB chunks', () => {
      const input = Buffer.from(big);
      assert.ok(input.length > MIB);
      const whole = parse([input]);
      const split = parse(pieces(input, 64 * 1024));
      for (const events of [whole, split]) {
        assert.equal(events.length, 1);
        assert.equal((events[0]!.json() as { context: number[] }).context.length, 512 * 1024 + 1);
        assert.deepEqual(events[0]!.raw, input);
      }
    });

    it('throws StreamFrameError once a pending event exceeds the bound', () => {
      const parser = new SseParser({ maxEventBytes: 1000 });
      parser.push(Buffer.from(`data: ${'x'.repeat(900)}`));
      assert.throws(() => parser.push(Buffer.from('x'.repeat(200))), StreamFrameError);
    });

    it('throws for a complete event over the bound regardless of chunking', () => {
      const input = Buffer.from(`data: ${'x'.repeat(993)}\n\n`);
      assert.throws(() => parse([input], 1000), StreamFrameError);
      assert.throws(() => parse(splitAt(input, 500), 1000), StreamFrameError);
      assert.equal(parse(splitAt(input, 999), 1001).length, 1, 'an event of exactly the bound');
    });
  });
});
