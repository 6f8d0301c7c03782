import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { contentTypeOf, responseHeaders } from '../../../src/job/response-headers.js';

/** A [name, value, …] list as a map of lines (name → values in order), for order-free comparison; each name MUST be there once. */
function lines(list: (string | string[])[]): Map<string, string[]> {
  assert.equal(list.length % 2, 0);
  const out = new Map<string, string[]>();
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i] as string;
    assert.ok(!out.has(name), `${name} listed twice`);
    const v = list[i + 1]!;
    out.set(name, typeof v === 'string' ? [v] : v);
  }
  return out;
}

/** node's header object of a raw list (lower-case names; set-cookie as a list), as an HTTP response has both. */
function both(raw: string[]): { rawHeaders: string[]; headers: IncomingHttpHeaders } {
  const headers: IncomingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (k === 'set-cookie') headers[k] = [...(headers[k] ?? []), raw[i + 1]!];
    else headers[k] ??= raw[i + 1]!;
  }
  return { rawHeaders: raw, headers };
}

const BACKEND = ['Content-Type', 'application/json', 'Content-Length', '99', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Server', 'uvicorn', 'X-Request-Id', 'backend-id', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Transfer-Encoding', 'chunked'];

describe('response headers', () => {
  it('whole body: hop-by-hop dropped, the gateway\'s headers replace the backend\'s of any letter case, its own length', () => {
    const out = lines(responseHeaders(both(BACKEND), { 'x-request-id': 'gw-id', 'X-Cashu-Change': 'c' }, false, 12));
    assert.deepEqual(Object.fromEntries(out), {
      'x-request-id': ['gw-id'],
      'x-cashu-change': ['c'],
      'content-type': ['application/json'],
      server: ['uvicorn'],
      'set-cookie': ['a=1', 'b=2'],
      'content-length': ['12'],
    });
  });

  it('reads the raw list and the header object alike (a transport\'s response has only the object)', () => {
    for (const streaming of [false, true]) {
      const fromRaw = lines(responseHeaders(both(BACKEND), { vary: 'Origin' }, streaming, 5));
      const fromObject = lines(responseHeaders({ headers: both(BACKEND).headers }, { vary: 'Origin' }, streaming, 5));
      assert.deepEqual(fromRaw, fromObject);
    }
  });

  it('stream: no-cache unless the backend or the gateway set a cache policy; X-Accel-Buffering always no, once', () => {
    const plain = lines(responseHeaders(both(['content-type', 'text/event-stream', 'X-Accel-Buffering', 'yes']), {}, true));
    assert.deepEqual(plain.get('cache-control'), ['no-cache']);
    assert.deepEqual(plain.get('x-accel-buffering'), ['no']);
    assert.equal(plain.get('content-length'), undefined);
    const own = lines(responseHeaders(both(['content-type', 'text/event-stream', 'Cache-Control', 'no-store']), {}, true));
    assert.deepEqual(own.get('cache-control'), ['no-store']);
    const added = lines(responseHeaders(both(['content-type', 'text/event-stream', 'Cache-Control', 'no-store']), { 'Cache-Control': 'private', 'X-Accel-Buffering': 'yes' }, true));
    assert.deepEqual(added.get('cache-control'), ['private']);
    assert.deepEqual(added.get('x-accel-buffering'), ['no']);
  });

  it('from an untrusted node (a provider\'s): only its Content-Type, never cookies, redirects or policies; the gateway\'s own still go', () => {
    const node = both(['Content-Type', 'text/event-stream', 'Set-Cookie', 'session=evil', 'Location', 'https://evil.example/', 'Content-Security-Policy', "default-src *", 'Cache-Control', 'public, max-age=9999']);
    for (const streaming of [false, true]) {
      const out = lines(responseHeaders(node, { 'x-request-id': 'gw-id' }, streaming, 7, true));
      assert.deepEqual([...out.keys()].sort(), streaming ? ['cache-control', 'content-type', 'x-accel-buffering', 'x-request-id'] : ['content-length', 'content-type', 'x-request-id']);
      if (streaming) assert.deepEqual(out.get('cache-control'), ['no-cache']);
    }
    const trusted = lines(responseHeaders(node, {}, false, 7));
    assert.deepEqual(trusted.get('set-cookie'), ['session=evil'], 'a configured backend\'s headers pass as before');
  });

  it('the content type: the first one, in any letter case, from the raw list or the object', () => {
    assert.equal(contentTypeOf(both(['Server', 'x', 'CONTENT-TYPE', 'text/event-stream', 'content-type', 'application/json'])), 'text/event-stream');
    assert.equal(contentTypeOf({ headers: { 'content-type': 'application/x-ndjson' } }), 'application/x-ndjson');
    assert.equal(contentTypeOf(both(['Server', 'x'])), undefined);
  });
});

describe('response headers through writeHead', () => {
  it('a repeated backend header reaches the client whole, also when the response already had headers set (the Koa path)', async () => {
    const backend = both(['Content-Type', 'application/json', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
    const server = http.createServer((req, res) => {
      if (req.url === '/koa') res.setHeader('X-Request-Id', 'set-before');
      res.writeHead(200, responseHeaders(backend, { vary: 'Origin' }, false, 2));
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      for (const path of ['/direct', '/koa']) {
        const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path }, (res) => {
            res.resume();
            resolve(res.headers);
          }).on('error', reject);
        });
        assert.deepEqual(headers['set-cookie'], ['a=1', 'b=2'], path);
        assert.equal(headers['content-type'], 'application/json', path);
        assert.equal(headers.vary, 'Origin', path);
      }
    } finally {
      server.close();
    }
  });
});
