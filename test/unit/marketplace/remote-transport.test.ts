import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { BackendNode } from '../../../src/proxy/node.js';
import { NodeRefusedError } from '../../../src/proxy/transport.js';
import { RemoteAgentTransport } from '../../../plugins/marketplace/remote-transport.js';

// The buyer's replica's side of a job for an agent another replica holds, against a stand-in for
// the holding replica: what it sends, and how every way the holder fails reaches the job.

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

async function holder(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const readAll = (s: NodeJS.ReadableStream) =>
  new Promise<string>((resolve, reject) => {
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });

describe('RemoteAgentTransport: jobs for an agent another replica holds', () => {
  let h: { url: string; close(): Promise<void> } | undefined;
  let transport: RemoteAgentTransport;
  const events: string[] = [];
  const node = () => new BackendNode({ id: 'owlr-1/n1', kind: 'ollama', url: 'owlrun-agent:n1', models: ['mock:latest'], maxConcurrent: 4, source: 'connected' });
  const open = (n: BackendNode, signal = new AbortController().signal) => transport.open(n, { jobId: 'job-1', body: { model: 'mock', messages: [] }, signal });

  beforeEach(() => {
    events.length = 0;
    transport = new RemoteAgentTransport({ secret: 's3cret', log: pino({ level: 'silent' }), timeouts: { answerMs: 300, gapMs: 300 }, onForward: (r) => events.push(r) });
  });
  afterEach(async () => {
    transport.close();
    await h?.close();
    h = undefined;
  });

  it('sends the job body and the cluster secret, nothing else of the buyer, and streams the answer', async () => {
    let seen: { auth?: string; body?: unknown; cookie?: string } = {};
    h = await holder((req, res, body) => {
      seen = { auth: req.headers.authorization, body: JSON.parse(body), cookie: req.headers.cookie };
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-other': 'dropped' });
      res.write('data: 1\n\n');
      setTimeout(() => res.end('data: [DONE]\n\n'), 20);
    });
    const n = node();
    transport.targets.set(n.id, { replicaUrl: h.url, modelsKey: '[]' });
    const up = await open(n);
    assert.deepEqual(up.response.headers, { 'content-type': 'text/event-stream' });
    assert.equal(await readAll(up.response), 'data: 1\n\ndata: [DONE]\n\n');
    assert.equal(seen.auth, 'Bearer s3cret');
    assert.equal(seen.cookie, undefined);
    assert.deepEqual(seen.body, { job_id: 'job-1', node_id: n.id, body: { model: 'mock', messages: [] } });
    assert.deepEqual(events, ['streamed']);
  });

  it('a refusal before any byte, a dead replica, or no answer in time: NodeRefusedError (the job moves on)', async () => {
    h = await holder((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'backend_unavailable', message: 'x', type: 'service_unavailable' } }));
    });
    const n = node();
    transport.targets.set(n.id, { replicaUrl: h.url, modelsKey: '[]' });
    await assert.rejects(open(n), (e: Error) => e instanceof NodeRefusedError && /backend_unavailable/.test(e.message));
    await h.close();

    h = await holder(() => undefined); // never answers
    transport.targets.set(n.id, { replicaUrl: h.url, modelsKey: '[]' });
    await assert.rejects(open(n), (e: Error) => e instanceof NodeRefusedError && /no answer/.test(e.message));
    assert.equal(n.healthy, false, 'out of the pool until its replica renews its entry');
    const url = h.url;
    await h.close();
    h = undefined;

    transport.targets.set(n.id, { replicaUrl: url, modelsKey: '[]' }); // nothing listens there now
    await assert.rejects(open(n), NodeRefusedError);
    assert.deepEqual(events, ['refused', 'unreachable', 'unreachable']);
    transport.targets.delete(n.id);
    await assert.rejects(open(n), /left its replica/);
  });

  it('a holder that breaks or goes silent mid-stream breaks the stream (the job settles on what was delivered)', async () => {
    h = await holder((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      if (req.url?.endsWith('/jobs')) setTimeout(() => res.socket?.destroy(), 30);
    });
    const n = node();
    transport.targets.set(n.id, { replicaUrl: h.url, modelsKey: '[]' });
    const broken = await open(n);
    await assert.rejects(readAll(broken.response), /broke the stream/);
    // silent: the holder keeps the connection open and sends nothing more
    await h.close();
    h = await holder((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    });
    transport.targets.set(n.id, { replicaUrl: h.url, modelsKey: '[]' });
    const silent = await open(n);
    await assert.rejects(readAll(silent.response), /broke the stream/);
  });

  it('the buyer leaving aborts the call: the holder sees its response closed', async () => {
    let closed!: () => void;
    const holderSawClose = new Promise<void>((r) => (closed = r));
    h = await holder((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      res.on('close', () => closed());
    });
    const n = node();
    transport.targets.set(n.id, { replicaUrl: h.url, modelsKey: '[]' });
    const buyer = new AbortController();
    const up = await open(n, buyer.signal);
    up.abort();
    await holderSawClose;
  });
});
