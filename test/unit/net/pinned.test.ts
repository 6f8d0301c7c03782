import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Forwarder } from '../../../src/proxy/forward.js';
import { BackendNode } from '../../../src/proxy/node.js';
import { nodeGet } from '../../../src/proxy/node-http.js';
import { BackendPool } from '../../../src/proxy/pool.js';
import { createLogger } from '../../../src/log.js';
import { TargetGuard, TargetRefused } from '../../../plugins/providers/targets.js';
import { testConfig } from '../../helpers/gateway.js';
import { throughForwarder } from '../../helpers/forwarding-front.js';

/** A server on 127.0.0.1 that records the Host header of every request. */
async function recorder(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const hosts: string[] = [];
  const server = http.createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { hosts, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const node = (url: string, pin?: string[]) => new BackendNode({ id: 'p/n', kind: 'openai', url, models: [], maxConcurrent: 4, source: 'registered', pin });

describe('pinned nodes: the gateway connects only to the addresses it checked', () => {
  it('health reads go to the pinned address with the URL\'s Host header, whatever the name resolves to now', async () => {
    const srv = await recorder((_req, res) => res.end('{"data":[{"id":"m"}]}'));
    try {
      const res = await nodeGet(node(`http://rebound.invalid:${srv.port}`, ['127.0.0.1']), '/v1/models', { timeoutMs: 2000 });
      assert.equal(res.status, 200);
      assert.deepEqual(srv.hosts, [`rebound.invalid:${srv.port}`]);
      await assert.rejects(nodeGet(node(`http://rebound.invalid:${srv.port}`), '/v1/models', { timeoutMs: 2000 }), 'unpinned, the name does not resolve');
    } finally {
      await srv.close();
    }
  });

  it('follows no redirect and bounds the wait', async () => {
    const srv = await recorder((req, res) => {
      if (req.url === '/v1/models') res.writeHead(302, { location: '/elsewhere' }).end();
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 1500);
      else res.end('{"data":[]}');
    });
    try {
      const res = await nodeGet(node(`http://127.0.0.1:${srv.port}`), '/v1/models', { timeoutMs: 2000 });
      assert.equal(res.status, 302);
      assert.equal(srv.hosts.length, 1, 'the redirect target was not asked');
      await assert.rejects(nodeGet(node(`http://127.0.0.1:${srv.port}`), '/slow', { timeoutMs: 200 }), /within 200 ms/);
    } finally {
      await srv.close();
    }
  });

  it('inference requests go to the pinned address too, Host header kept', async () => {
    const backend = await recorder((_req, res) => res.end('ok'));
    const forwarder = new Forwarder();
    const target = node(`http://rebound.invalid:${backend.port}`, ['127.0.0.1']);
    try {
      assert.equal(await throughForwarder(forwarder, target, '/v1/chat/completions'), 'ok');
      assert.deepEqual(backend.hosts, [`rebound.invalid:${backend.port}`]);
    } finally {
      forwarder.close();
      await backend.close();
    }
  });
});

describe('TargetGuard: a name is refused if ANY address it resolves to is', () => {
  const guard = (addresses: Record<string, string[]>, allowPrivateAddresses = false) => {
    const config = testConfig({ nodes: { allowPrivateAddresses } });
    const pool = new BackendPool({ intervalMs: 1000, timeoutMs: 1000, log: createLogger('silent') });
    pool.add({ id: 'gpu-1', kind: 'vllm', url: 'http://203.0.113.7:8000', models: [], maxConcurrent: 1, source: 'config' });
    return new TargetGuard({ pool, config, timeoutMs: 1000, resolve: async (host) => addresses[host] ?? [host] });
  };

  it('refuses a name with one loopback or private address among public ones', async () => {
    const g = guard({ 'mixed.example': ['8.8.8.8', '127.0.0.1'], 'lan.example': ['8.8.4.4', '10.0.0.9'], 'ok.example': ['8.8.8.8', '2606:4700::1111'] });
    await assert.rejects(g.addressesOf('http://mixed.example:8000'), TargetRefused);
    await assert.rejects(g.addressesOf('http://lan.example:8000'), TargetRefused);
    assert.deepEqual(await g.addressesOf('http://ok.example:8000'), ['8.8.8.8', '2606:4700::1111']);
  });

  it('allowPrivateAddresses lets private and loopback through, never unspecified or reserved', async () => {
    const g = guard({ 'zero.example': ['0.0.0.0'], 'multi.example': ['224.0.0.1'] }, true);
    assert.deepEqual(await g.addressesOf('http://127.0.0.1:1'), ['127.0.0.1']);
    await assert.rejects(g.addressesOf('http://zero.example:1'), TargetRefused);
    await assert.rejects(g.addressesOf('http://multi.example:1'), TargetRefused);
  });

  it('refuses the endpoint of a configured backend under another name, and the gateway\'s own listener', async () => {
    const g = guard({ 'alias.example': ['8.8.8.8', '203.0.113.7'] }, true);
    await assert.rejects(g.assertFree('http://alias.example:8000', ['8.8.8.8', '203.0.113.7'], 'p/x'), /configured backend gpu-1/);
    await g.assertFree('http://alias.example:8001', ['8.8.8.8', '203.0.113.7'], 'p/x');
    const listener = { address: '127.0.0.1', port: 9999 };
    await assert.rejects(g.assertFree('http://[::1]:9999', ['::1'], 'p/x', listener), /the gateway itself/);
    await assert.rejects(g.assertFree('http://0.0.0.0:9999', ['0.0.0.0'], 'p/x', listener), /the gateway itself/);
  });
});
