import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MintClient, MintRequestError } from '../../../src/cashu/mint-client.js';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function failure(p: Promise<unknown>): Promise<MintRequestError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MintRequestError, String(err));
    return err;
  }
  assert.fail('did not fail');
}

describe('cashu/mint-client', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = undefined;
  });

  it('returns JSON and reports ok with a duration', async () => {
    const s = await serve((_req, res) => res.end('{"keysets":[]}'));
    server = s.server;
    const seen: Array<[string, string, number]> = [];
    const c = new MintClient(s.url, { onMintRequest: (op, outcome, sec) => seen.push([op, outcome, sec]) });
    assert.deepEqual(await c.get('keysets', '/v1/keysets'), { keysets: [] });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]![0], 'keysets');
    assert.equal(seen[0]![1], 'ok');
    assert.ok(seen[0]![2] >= 0);
  });

  it('a NUT error is a protocol error: the mint refused, nothing happened', async () => {
    const s = await serve((_req, res) => {
      res.statusCode = 400;
      res.end('{"detail":"spent","code":11001}');
    });
    server = s.server;
    const outcomes: string[] = [];
    const c = new MintClient(s.url, { onMintRequest: (_op, o) => outcomes.push(o) });
    const e = await failure(c.post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.mintCode, e.mayHaveArrived], ['protocol', 11001, false]);
    assert.deepEqual(outcomes, ['error']);
  });

  it('connection refused: not sent', async () => {
    const s = await serve(() => undefined);
    const url = s.url;
    await new Promise((r) => s.server.close(r));
    const e = await failure(new MintClient(url).post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.mayHaveArrived], ['network', false]);
  });

  it('socket destroyed after the request arrived: may have happened', async () => {
    const s = await serve((req) => req.socket.destroy());
    server = s.server;
    const e = await failure(new MintClient(s.url).post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.mayHaveArrived], ['network', true]);
  });

  it('timeout: may have happened', async () => {
    const s = await serve(() => undefined); // never answers
    server = s.server;
    const e = await failure(new MintClient(s.url, { timeoutMs: 100 }).post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.mayHaveArrived], ['network', true]);
    assert.match(e.message, /timeout/);
  });

  it('5xx: may have happened; 2xx without JSON too', async () => {
    let status = 500;
    const s = await serve((_req, res) => {
      res.statusCode = status;
      res.end('oops');
    });
    server = s.server;
    const c = new MintClient(s.url);
    let e = await failure(c.post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.status, e.mayHaveArrived], ['http', 500, true]);
    status = 200;
    e = await failure(c.post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.mayHaveArrived], ['http', true]);
  });

  it('keeps one connection to the mint for successive requests (no handshake on the claim path)', async () => {
    const s = await serve((_req, res) => res.end('{"ok":true}'));
    server = s.server;
    let connections = 0;
    s.server.on('connection', () => connections++);
    const c = new MintClient(s.url);
    for (let i = 0; i < 3; i++) assert.deepEqual(await c.post('swap', '/v1/swap', { i }), { ok: true });
    assert.equal(connections, 1);
    c.close();
  });

  it('an answer cut short: may have happened', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
      res.write('{"signatures":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    server = s.server;
    const e = await failure(new MintClient(s.url).post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.mayHaveArrived], ['network', true]);
  });

  it('a redirect is not followed; a POST answered by one may have happened', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(307, { location: 'http://127.0.0.1:1/v1/swap' });
      res.end();
    });
    server = s.server;
    const e = await failure(new MintClient(s.url).post('swap', '/v1/swap', {}));
    assert.deepEqual([e.kind, e.status, e.mayHaveArrived], ['http', 307, true]);
  });
});
