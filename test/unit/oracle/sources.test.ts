import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseConfig } from '../../../src/compose.js';
import { absurdIndexes, atPath, fetchSource, median, parsePrice, type SourceConfig } from '../../../plugins/oracle/sources.js';

/** A loopback server answering every GET with `reply`; 'hang' never answers. */
async function server(reply: { status?: number; body: string } | 'hang'): Promise<{ url: string; close(): Promise<void>; headers: http.IncomingHttpHeaders[] }> {
  const sockets = new Set<Socket>();
  const headers: http.IncomingHttpHeaders[] = [];
  const srv = http.createServer((req, res) => {
    headers.push(req.headers);
    if (reply === 'hang') return;
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
    res.end(reply.body);
  });
  srv.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/ticker`,
    headers,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      srv.close(() => r());
    }),
  };
}

const src = (url: string, path = 'data.amount', headers: Record<string, string> = {}): SourceConfig => ({ name: 'x', url, path, headers });

describe('oracle sources: dot path, validation, median screening', () => {
  it('reads a dot path through objects and arrays', () => {
    const kraken = { error: [], result: { XXBTZUSD: { c: ['65000.10000', '0.002'] } } };
    assert.equal(atPath(kraken, 'result.XXBTZUSD.c.0'), '65000.10000');
    assert.equal(atPath({ a: [{ b: 3 }] }, 'a.0.b'), 3);
    assert.equal(atPath({ a: 1 }, 'a.b'), undefined);
    assert.equal(atPath({ a: [1] }, 'a.x'), undefined);
    assert.equal(atPath({ a: 1 }, 'constructor'), undefined, 'inherited properties are not prices');
    assert.equal(atPath(42, ''), 42, 'an empty path is the whole answer');
  });

  it('accepts numbers and decimal strings; rejects zero, negatives, non-numbers', () => {
    assert.deepEqual(parsePrice('65000.10000'), { ok: true, value: 65000.1 });
    assert.deepEqual(parsePrice(64999), { ok: true, value: 64999 });
    assert.deepEqual(parsePrice(' 1e5 '), { ok: true, value: 100000 });
    for (const [v, reason] of [
      [0, 'non_positive'],
      ['-5', 'non_positive'],
      [-65000, 'non_positive'],
      ['abc', 'non_numeric'],
      ['65,000', 'non_numeric'],
      ['', 'non_numeric'],
      [true, 'non_numeric'],
      [{ amount: 1 }, 'non_numeric'],
      [[65000], 'non_numeric'],
      ['Infinity', 'non_numeric'],
      [undefined, 'missing'],
      [null, 'missing'],
      [0.001, 'absurd'],
      [1e15, 'absurd'],
    ] as const) {
      const r = parsePrice(v);
      assert.equal(r.ok, false, `${JSON.stringify(v)} must be refused`);
      assert.equal(!r.ok && r.reason, reason, `${JSON.stringify(v)}`);
    }
  });

  it('median of odd and even counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
  });

  it('flags prices more than 10x from the median', () => {
    assert.deepEqual([...absurdIndexes([100000, 100100, 99900, 2_000_000])], [3]);
    assert.deepEqual([...absurdIndexes([100000, 5000, 100100])], [1]);
    assert.deepEqual([...absurdIndexes([100000, 100100, 999_999])], [], '9.99x is not absurd');
    assert.deepEqual([...absurdIndexes([100000])], [], 'one source alone: nothing to compare with');
    // two sources that disagree by more than 10x: nobody can tell which is right
    assert.deepEqual([...absurdIndexes([100000, 2_000_000])].sort(), [0, 1]);
    // ... unless the previous sample votes
    assert.deepEqual([...absurdIndexes([100000, 2_000_000], 101000)], [1]);
    assert.deepEqual([...absurdIndexes([2_000_000], 101000)], [0]);
    assert.deepEqual([...absurdIndexes([105000], 101000)], []);
    // with three or more sources the previous sample does not vote
    assert.deepEqual([...absurdIndexes([2_000_000, 2_000_100, 1_999_900], 101000)], []);
  });
});

describe('oracle sources: fetching (loopback servers)', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
  });
  const serve = async (reply: Parameters<typeof server>[0]) => {
    const s = await server(reply);
    closers.push(s.close);
    return s;
  };

  it('reads the price at the path, sending the configured headers', async () => {
    const s = await serve({ body: JSON.stringify({ data: { amount: '97123.45', currency: 'USD' } }) });
    assert.deepEqual(await fetchSource(src(s.url, 'data.amount', { 'x-api-key': 'k1' }), 2000), { ok: true, value: 97123.45 });
    assert.equal(s.headers[0]?.['x-api-key'], 'k1');
  });

  it('classifies every failure', async () => {
    const hang = await serve('hang');
    const garbage = await serve({ body: '<html>502 Bad Gateway</html>' });
    const status = await serve({ status: 503, body: '{}' });
    const wrongPath = await serve({ body: '{"data":{}}' });
    const negative = await serve({ body: '{"data":{"amount":"-1"}}' });
    const text = await serve({ body: '{"data":{"amount":"n/a"}}' });
    const dead = await server({ body: '' });
    await dead.close();
    const reasons = await Promise.all(
      [
        [hang, 'timeout'],
        [garbage, 'bad_json'],
        [status, 'http_status'],
        [wrongPath, 'missing'],
        [negative, 'non_positive'],
        [text, 'non_numeric'],
        [dead, 'network'],
      // only the server that never answers gets a short timeout; the others answer (a cold process can be slow)
      ].map(async ([s, reason]) => [await fetchSource(src((s as { url: string }).url), s === hang ? 300 : 5000), reason] as const),
    );
    for (const [r, reason] of reasons) {
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, reason, !r.ok ? r.message : '');
    }
  });

  it('refuses an answer larger than 1 MiB', async () => {
    const s = await serve({ body: JSON.stringify({ data: { amount: '1', pad: 'x'.repeat(1024 * 1024) } }) });
    const r = await fetchSource(src(s.url), 5000);
    assert.equal(!r.ok && r.reason, 'too_large');
  });
});

describe('oracle sources: the shipped examples', () => {
  it('the commented Kraken, Coinbase and Bitstamp sources parse when uncommented, and their paths read real answer shapes', () => {
    const text = readFileSync('config/gateway.yaml', 'utf8');
    assert.equal(parseConfig(text, {}).oracle.sources.length, 0, 'shipped with none: the gateway must work offline');
    const uncommented = text.replace(/^(\s*)# (- \{ name: )/gm, '$1$2');
    const cfg = parseConfig(uncommented, {});
    assert.deepEqual(cfg.oracle.sources.map((s) => s.name), ['kraken', 'coinbase', 'bitstamp']);
    assert.equal(cfg.oracle.intervalSeconds, 300);
    // answer shapes as these public APIs send them (abridged)
    const answers: Record<string, unknown> = {
      kraken: { error: [], result: { XXBTZUSD: { a: ['97001.00000', '1', '1.000'], b: ['97000.90000', '2', '2.000'], c: ['97000.95000', '0.00100000'], v: ['1.0', '2.0'] } } },
      coinbase: { data: { amount: '97012.345', base: 'BTC', currency: 'USD' } },
      bitstamp: { timestamp: '1736500000', open: '96000', high: '98000', low: '95500', last: '97005', volume: '1234.5', bid: '97004', ask: '97006' },
    };
    for (const s of cfg.oracle.sources) {
      const r = parsePrice(atPath(answers[s.name], s.path));
      assert.ok(r.ok && r.value > 97000 && r.value < 97100, `${s.name}: ${JSON.stringify(r)}`);
      assert.match(s.url, /^https:\/\//);
    }
  });
});
