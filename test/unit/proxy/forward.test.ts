import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../../src/proxy/forward.js';
import { BackendNode } from '../../../src/proxy/node.js';
import { throughForwarder } from '../../helpers/forwarding-front.js';

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A node on 127.0.0.1 that records what each request asked for. */
async function recordingNode(): Promise<{ seen: Seen[]; url: string; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/base`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('Forwarder: what a node is sent', () => {
  const clientHeaders = { 'content-type': 'application/json', accept: 'text/event-stream', cookie: 'session=s', 'x-cashu': 'cashuBxyz', authorization: 'Bearer buyer', 'user-agent': 'agent/1' };

  it("an untrusted node gets the path without the client's query string, and only Content-Type and Accept", async () => {
    const backend = await recordingNode();
    const forwarder = new Forwarder();
    const provider = new BackendNode({ id: 'p/n', kind: 'openai', url: backend.url, models: [], maxConcurrent: 4, source: 'registered' });
    try {
      assert.equal(await throughForwarder(forwarder, provider, '/v1/chat/completions?api_key=buyer-secret&x=1', clientHeaders), 'ok');
      assert.equal(backend.seen[0]!.url, '/base/v1/chat/completions');
      const names = Object.keys(backend.seen[0]!.headers).sort();
      assert.deepEqual(names, ['accept', 'connection', 'content-length', 'content-type', 'host']);
    } finally {
      forwarder.close();
      await backend.close();
    }
  });

  it("a configured backend gets the client's path as it is, query included, and the client's headers but the gateway's own", async () => {
    const backend = await recordingNode();
    const forwarder = new Forwarder();
    const own = new BackendNode({ id: 'own', kind: 'openai', url: backend.url, models: [], maxConcurrent: 4, source: 'config' });
    try {
      assert.equal(await throughForwarder(forwarder, own, '/v1/chat/completions?x=1', clientHeaders), 'ok');
      assert.equal(backend.seen[0]!.url, '/base/v1/chat/completions?x=1');
      assert.equal(backend.seen[0]!.headers['user-agent'], 'agent/1');
      assert.equal(backend.seen[0]!.headers['x-cashu'], undefined);
    } finally {
      forwarder.close();
      await backend.close();
    }
  });
});
