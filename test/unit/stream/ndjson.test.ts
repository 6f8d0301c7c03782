import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StreamFrameError, type StreamEvent } from '../../../src/stream/event.js';
import { NdjsonParser } from '../../../src/stream/ndjson.js';

const MIB = 1024 * 1024;
const FIXTURES = ['ollama-native-chat.txt', 'ollama-native-generate.txt'];

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../fixtures/streams/${name}`, import.meta.url));
}

/** Feeds the chunks through a fresh parser, end() included. */
function parse(chunks: readonly Buffer[], maxEventBytes = 8 * MIB): StreamEvent[] {
  const parser = new NdjsonParser({ maxEventBytes });
  const events: StreamEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c));
  events.push(...parser.end());
  return events;
}

function lines(text: string): StreamEvent[] {
  return parse([Buffer.from(text)]);
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

describe('NdjsonParser', () => {
  describe('real server transcripts', () => {
    for (const name of FIXTURES) {
      it(`frames ${name} into one event per line, terminal on done:true`, () => {
        const input = fixture(name);
        const events = parse([input]);
        assert.equal(events.length, 4);
        assert.deepEqual(bytes(events), input);
        assert.deepEqual(
          events.map((e) => e.terminal),
          [false, false, false, true],
        );
        for (const e of events) {
          assert.equal(e.format, 'ndjson');
          assert.equal(e.raw.at(-1), 0x0a);
          assert.equal(e.data, e.raw.subarray(0, -1).toString());
        }
        const last = events[3]!.json() as { done: boolean; eval_count: number };
        assert.equal(last.done, true);
        assert.ok(last.eval_count > 0);
      });

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

    it('returns each line as soon as its LF arrives', () => {
      const input = fixture('ollama-native-chat.txt');
      const parser = new NdjsonParser({ maxEventBytes: MIB });
      const lf = input.indexOf('\n');
      assert.equal(parser.push(input.subarray(0, lf)).length, 0);
      assert.equal(parser.push(input.subarray(lf, lf + 1)).length, 1);
    });
  });

  describe('byte identity', () => {
    it('reproduces every transcript byte for byte over random chunk splits', () => {
      const rand = rng(0xd0e);
      for (const name of FIXTURES) {
        const crlf = Buffer.from(fixture(name).toString().replaceAll('\n', '\r\n'));
        for (const input of [fixture(name), crlf]) {
          const expected = datas(parse([input]));
          for (let round = 0; round < 100; round++) {
            const chunks: Buffer[] = [];
            const maxPiece = round % 2 === 0 ? 8 : 300;
            for (let i = 0; i < input.length; ) {
              const len = 1 + Math.floor(rand() * maxPiece);
              chunks.push(input.subarray(i, i + len));
              i += len;
            }
            const events = parse(chunks);
            assert.deepEqual(bytes(events), input);
            assert.deepEqual(datas(events), expected);
          }
        }
      }
    });
  });

  describe('lines', () => {
    it('strips a CR before the LF from data but keeps it in raw', () => {
      const events = lines('{"done":false}\r\n{"done":true}\r\n');
      assert.deepEqual(datas(events), ['{"done":false}', '{"done":true}']);
      assert.equal(events[0]!.raw.toString(), '{"done":false}\r\n');
      assert.deepEqual(events.map((e) => e.terminal), [false, true]);
    });

    it('keeps a CR in the middle of a line', () => {
      assert.deepEqual(datas(lines('a\rb\n')), ['a\rb']);
    });

    it('gives blank lines no data', () => {
      const events = lines('\n{"a":1}\n\r\n\n');
      assert.deepEqual(datas(events), [undefined, '{"a":1}', undefined, undefined]);
      assert.equal(events[0]!.json(), undefined);
      assert.equal(events[0]!.terminal, false);
    });

    it('returns every line of a chunk holding several', () => {
      assert.deepEqual(datas(lines('1\n2\n3\n')), ['1', '2', '3']);
    });

    it('decodes UTF-8 split across chunks', () => {
      const input = Buffer.from('{"response":"Grüße 🦉","done":false}\n');
      for (let o = 0; o <= input.length; o++) {
        assert.deepEqual(parse(splitAt(input, o))[0]!.json(), { response: 'Grüße 🦉', done: false });
      }
    });
  });

  describe('terminal and json()', () => {
    it('is terminal only for an object whose done is exactly true', () => {
      const events = lines(
        '{"done":true}\n{"done":false}\n{"done":"true"}\n' +
          '{"message":{"done":true}}\n[{"done":true}]\ndone\n',
      );
      assert.deepEqual(events.map((e) => e.terminal), [true, false, false, false, false, false]);
    });

    it('does not mark an Ollama error line as terminal but exposes it as JSON', () => {
      const [event] = lines('{"error":"an error was encountered while running the model"}\n');
      assert.equal(event!.terminal, false);
      const error = 'an error was encountered while running the model';
      assert.deepEqual(event!.json(), { error });
    });

    it('parses each line once and returns the cached value', () => {
      const [event] = lines('{"a":[1],"done":false}\n');
      const first = event!.json();
      assert.deepEqual(first, { a: [1], done: false });
      assert.equal(event!.json(), first);
    });

    it('returns undefined from json() for a line that is not JSON', () => {
      const [event] = lines('{"a":\n');
      assert.equal(event!.data, '{"a":');
      assert.equal(event!.json(), undefined);
    });
  });

  describe('end of input', () => {
    it('emits a final line without LF', () => {
      const parser = new NdjsonParser({ maxEventBytes: MIB });
      assert.equal(parser.push(Buffer.from('{"done":false}\n{"done":true}')).length, 1);
      const [last] = parser.end();
      assert.equal(last!.data, '{"done":true}');
      assert.equal(last!.terminal, true);
      assert.equal(last!.raw.toString(), '{"done":true}');
    });

    it('strips a trailing CR from a final line without LF', () => {
      const [last] = lines('{"done":true}\r');
      assert.equal(last!.data, '{"done":true}');
      assert.equal(last!.raw.toString(), '{"done":true}\r');
    });

    it('returns nothing when no bytes are left', () => {
      const parser = new NdjsonParser({ maxEventBytes: MIB });
      parser.push(Buffer.from('{}\n'));
      assert.deepEqual(parser.end(), []);
      assert.deepEqual(new NdjsonParser({ maxEventBytes: MIB }).end(), []);
    });
  });

  describe('size bound', () => {
    const context = Array.from({ length: 200_000 }, (_, i) => i % 128_256);
    const big = `${JSON.stringify({ response: '', done: true, context })}\n`;

    it('passes a 1 MB final line under an 8 MiB bound, whole or in 64 KiB chunks', () => {
      const input = Buffer.from(big);
      assert.ok(input.length > MIB);
      const chunks: Buffer[] = [];
      const size = 64 * 1024;
      for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
      for (const events of [parse([input]), parse(chunks)]) {
        assert.equal(events.length, 1);
        assert.equal(events[0]!.terminal, true);
        assert.equal((events[0]!.json() as { context: number[] }).context.length, 200_000);
        assert.deepEqual(events[0]!.raw, input);
      }
    });

    it('keeps a long line fed in tiny chunks intact', () => {
      const input = Buffer.from(`${JSON.stringify({ context: context.slice(0, 20_000) })}\n`);
      const chunks: Buffer[] = [];
      for (let i = 0; i < input.length; i += 3) chunks.push(input.subarray(i, i + 3));
      const events = parse(chunks);
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.raw, input);
      assert.equal((events[0]!.json() as { context: number[] }).context.length, 20_000);
    });

    it('throws StreamFrameError once a pending line exceeds the bound', () => {
      const parser = new NdjsonParser({ maxEventBytes: 1000 });
      parser.push(Buffer.from('x'.repeat(900)));
      assert.throws(() => parser.push(Buffer.from('x'.repeat(200))), StreamFrameError);
    });

    it('throws for a complete line over the bound regardless of chunking', () => {
      const input = Buffer.from(`${'x'.repeat(1000)}\n`);
      assert.throws(() => parse([input], 1000), StreamFrameError);
      assert.throws(() => parse(splitAt(input, 500), 1000), StreamFrameError);
    });

    it('accepts a line of exactly the bound', () => {
      const input = Buffer.from(`${'x'.repeat(999)}\n`);
      assert.equal(parse(splitAt(input, 999), 1000).length, 1);
    });
  });
});
