import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PaidEnv } from '../helpers/paid-env.js';
import { chatBody, readSse } from '../helpers/paid-stream.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

// POST /v1/gateway/register cannot be turned against the gateway: no private targets, no
// endpoint it already reaches, one answer for every refusal; the buyer's secrets never reach a
// provider's node; DELETE by name.

const ALICE = 'alice-key';
const BOB = 'bob-key';
const PROVIDERS = { providers: [{ id: 'alice', key: ALICE }, { id: 'bob', key: BOB }] };

interface Answer {
  status: number;
  body: string;
}

async function register(env: PaidEnv, key: string, body: Record<string, unknown>, method = 'POST'): Promise<Answer> {
  const res = await fetch(env.gw.url + '/v1/gateway/register', {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.text() };
}

/** A plain HTTP server on 127.0.0.1 that counts every request (an open port that is no inference server). */
async function countingServer(answer: (res: http.ServerResponse) => void = (res) => res.writeHead(404).end('nope')) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    answer(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { seen, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function freePort(): Promise<number> {
  const s = await countingServer();
  await s.close();
  return s.port;
}

describe('node registration cannot be turned against the gateway', () => {
  let env: PaidEnv | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await env?.close();
    env = undefined;
    await Promise.all(closers.splice(0).map((c) => c()));
  });
  const sim = async (models = ['sim-reg']): Promise<Simulator> => {
    const s = await startSimulator({ kind: 'ollama', tokens: 10, models });
    closers.push(() => s.close());
    return s;
  };

  it('refuses every loopback, unspecified, link-local and private form without contacting it, with one answer', async () => {
    const e = (env = await PaidEnv.start({ config: PROVIDERS }));
    const open = await countingServer((res) => res.end('{"models":[]}'));
    closers.push(open.close);
    const p = open.port;
    const forms = [
      `http://127.0.0.1:${p}`, `http://localhost:${p}`, `http://localhost.:${p}`, `http://LOCALHOST:${p}`, `http://0.0.0.0:${p}`, `http://0:${p}`,
      `http://[::1]:${p}`, `http://127.1:${p}`, `http://0x7f000001:${p}`, `http://[::ffff:127.0.0.1]:${p}`, `http://[::]:${p}`,
      'http://169.254.169.254', 'http://[fe80::1]:80', 'http://10.0.0.1:11434', 'http://192.168.1.10:8000', 'http://172.16.5.4', 'http://[fd00::1]:8000',
      `http://127.0.0.1:${await freePort()}`,
    ];
    const answers = new Set<string>();
    for (const url of forms) {
      const r = await register(e, BOB, { url, kind: 'ollama' });
      assert.equal(r.status, 422, `${url}: ${r.body}`);
      answers.add(r.body);
    }
    assert.equal(answers.size, 1, `one answer for all: ${[...answers].join(' | ')}`);
    assert.equal(JSON.parse([...answers][0]!).error.code, 'node_refused');
    assert.deepEqual(open.seen, [], 'the gateway never called the refused address');
    assert.equal(e.gw.pool.all().filter((n) => n.source === 'registered').length, 0);
  });

  it('a closed port, an open port that is no inference server, and a redirect answer alike (with private addresses allowed)', async () => {
    const e = (env = await PaidEnv.start({ config: { ...PROVIDERS, nodes: { allowPrivateAddresses: true } } }));
    const notInference = await countingServer();
    const redirect = await countingServer((res) => res.writeHead(302, { location: e.sim.url + '/v1/models' }).end());
    closers.push(notInference.close, redirect.close);
    const answers = await Promise.all([await freePort(), notInference.port, redirect.port].map((port) => register(e, BOB, { url: `http://127.0.0.1:${port}`, kind: 'openai' })));
    for (const a of answers) assert.equal(a.status, 422, a.body);
    assert.equal(new Set(answers.map((a) => a.body)).size, 1, 'no probe error text in the answer');
    assert.deepEqual(redirect.seen, ['/v1/models'], 'the redirect was not followed');
    assert.equal(e.sim.requests.length, 0);
  });

  it("a second provider cannot register the first one's node under another spelling, nor a configured backend", async () => {
    const e = (env = await PaidEnv.start({ config: { ...PROVIDERS, nodes: { allowPrivateAddresses: true } } }));
    const node = await sim();
    const port = new URL(node.url).port;
    assert.equal((await register(e, ALICE, { url: node.url, kind: 'ollama' })).status, 201);
    for (const url of [`http://localhost:${port}`, `http://[::1]:${port}`, `http://0.0.0.0:${port}`, `http://127.1:${port}`, `http://[::ffff:127.0.0.1]:${port}`, `${node.url}/`]) {
      const r = await register(e, BOB, { url, kind: 'ollama', name: 'mine' });
      assert.equal(r.status, 422, `${url}: ${r.body}`);
    }
    const alsoAlice = await register(e, ALICE, { url: `http://localhost:${port}`, kind: 'ollama', name: 'twice' });
    assert.equal(alsoAlice.status, 422, 'one endpoint is one node, for its own provider too');
    const backendPort = new URL(e.sim.url).port;
    assert.equal((await register(e, BOB, { url: `http://localhost:${backendPort}`, kind: 'vllm' })).status, 422, 'a configured backend');
    assert.deepEqual(e.gw.pool.all().filter((n) => n.source === 'registered').map((n) => n.provider), ['alice']);
  });

  it("the gateway's own URL (any spelling) is refused", async () => {
    const e = (env = await PaidEnv.start({ config: { ...PROVIDERS, nodes: { allowPrivateAddresses: true } } }));
    const port = new URL(e.gw.url).port;
    for (const url of [e.gw.url, `http://localhost:${port}`, `http://0.0.0.0:${port}`, `http://[::1]:${port}`]) {
      const r = await register(e, BOB, { url, kind: 'openai' });
      assert.equal(r.status, 422, `${url}: ${r.body}`);
    }
  });

  it("a provider's node never receives the buyer's cookies, keys, ecash or forwarding headers", async () => {
    const e = (env = await PaidEnv.start({ config: { ...PROVIDERS, nodes: { allowPrivateAddresses: true } } }));
    const node = await startSimulator({ kind: 'vllm', tokens: 5, models: ['sim-reg'] });
    closers.push(() => node.close());
    assert.equal((await register(e, BOB, { url: node.url, kind: 'vllm' })).status, 201);
    const res = await fetch(e.gw.url + '/v1/chat/completions', {
      method: 'POST',
      headers: {
        'content-type': 'application/json', 'x-cashu': await e.token(100), cookie: 'session=secret', authorization: 'Bearer buyer-key',
        forwarded: 'for=198.51.100.7', 'x-forwarded-for': '198.51.100.7', 'x-forwarded-host': 'buyer.example', 'x-real-ip': '198.51.100.7',
        referer: 'https://buyer.example/page', 'user-agent': 'buyer-agent/1.0',
      },
      body: JSON.stringify({ ...chatBody(e), model: 'sim-reg', stream: true }),
    });
    assert.equal(res.status, 200);
    await readSse(res);
    const sent = node.requests[0]!.headers;
    for (const h of ['cookie', 'authorization', 'x-cashu', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'referer', 'user-agent']) assert.equal(sent[h], undefined, h);
    assert.equal(sent['content-type'], 'application/json');
    await e.assertBooksBalance();
  });

  it('DELETE with {"name"} alone answers 204 and removes that node; again, 404', async () => {
    const e = (env = await PaidEnv.start({ config: { ...PROVIDERS, nodes: { allowPrivateAddresses: true } } }));
    const node = await sim();
    assert.equal((await register(e, BOB, { url: node.url, kind: 'ollama', name: 'gpu-a' })).status, 201);
    assert.ok(e.gw.pool.get('bob/gpu-a'));
    assert.equal((await register(e, ALICE, { name: 'gpu-a' }, 'DELETE')).status, 404, "another provider's key cannot remove it");
    assert.ok(e.gw.pool.get('bob/gpu-a'));
    const gone = await register(e, BOB, { name: 'gpu-a' }, 'DELETE');
    assert.equal(gone.status, 204, gone.body);
    assert.equal(e.gw.pool.get('bob/gpu-a'), undefined);
    assert.equal((await register(e, BOB, { name: 'gpu-a' }, 'DELETE')).status, 404);
    assert.equal((await register(e, BOB, {}, 'DELETE')).status, 400);
  });
});
