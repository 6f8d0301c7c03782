// The listener's limits (slow headers, connections per address) and the access log: one line per
// request, never a token, a receipt or a key. Timeouts are configured small; the waits are bounded,
// never asserted as speeds.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { Wallet } from '@cashu/cashu-ts';
import request from 'supertest';
import { createDevMint, mintToken, type DevMint } from '../../src/devmint/index.js';
import { startGateway } from '../../src/compose.js';
import { createLogger, prettyLine, prettyLines } from '../../src/log.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { startSimulator } from '../helpers/simulators/index.js';

/** Resolves with how the connection ended: the first bytes the server sent (if any), or '' on a bare close. */
function endOf(sock: net.Socket, boundMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`connection still open after ${boundMs} ms`)), boundMs);
    sock.on('data', (d: Buffer) => (got += d.toString()));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

function connect(url: string): Promise<net.Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

describe('server limits', () => {
  it('closes a connection that drips its headers past server.headersTimeoutMs', async () => {
    const gw = await startTestGateway({ server: { host: '127.0.0.1', port: 0, headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const sock = await connect(gw.url);
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => sock.writable && sock.write('X-Slow: 1\r\n'), 50);
    try {
      const answer = await endOf(sock, 5000);
      assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), answer);
    } finally {
      clearInterval(drip);
      sock.destroy();
      await gw.shutdown(0);
    }
  });

  it('closes a connection that sends nothing past server.headersTimeoutMs', async () => {
    const gw = await startTestGateway({ server: { host: '127.0.0.1', port: 0, headersTimeoutMs: 300, requestTimeoutMs: 60000 } });
    const sock = await connect(gw.url);
    try {
      const answer = await endOf(sock, 5000);
      assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), answer);
    } finally {
      sock.destroy();
      await gw.shutdown(0);
    }
  });

  it('keeps at most server.maxConnectionsPerIp connections open per client address', async () => {
    const gw = await startTestGateway({ server: { host: '127.0.0.1', port: 0, maxConnectionsPerIp: 2 } });
    const socks = [await connect(gw.url), await connect(gw.url)];
    try {
      const third = await connect(gw.url);
      assert.equal(await endOf(third, 5000), '', 'the third connection is closed at once');
      socks.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 50)); // the server sees the close
      const res = await request(gw.url).get('/healthz');
      assert.equal(res.status, 200);
    } finally {
      for (const s of socks) s.destroy();
      await gw.shutdown(0);
    }
  });
});

describe('access log', () => {
  let mint: DevMint;
  let mintUrl: string;
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  before(async () => {
    mint = await createDevMint({ db: new SqliteDb(':memory:'), inputFeePpk: 0, log: () => undefined });
    mintUrl = await mint.listen(0);
    sim = await startSimulator({ kind: 'vllm', tokens: 5 });
  });
  after(async () => {
    await mint.close();
    await sim.close();
  });

  it('writes one line per request with method, path, status, model, cost, duration and request id; no token, receipt or key', async () => {
    const lines: string[] = [];
    // One write may carry several lines (the lines of one event-loop turn).
    const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) });
    const config = testConfig({ ...PaidEnv.config(sim, mintUrl), auth: { required: true, apiKeys: [{ id: 'k', key: 'sk-very-secret-api-key' }] } });
    const gw = await startGateway(config, { log: createLogger('silent'), accessLog: sink });
    try {
      const wallet = new Wallet(mintUrl);
      await wallet.loadMint();
      const { token } = await mintToken(mintUrl, 100, { version: 4, wallet });
      const res = await request(gw.url)
        .post('/v1/chat/completions')
        .set('Authorization', 'Bearer sk-very-secret-api-key')
        .set('X-Cashu', token)
        .send({ model: sim.model, messages: [{ role: 'user', content: 'hi' }], stream: false });
      assert.equal(res.status, 200, res.text);
      const receipt = res.headers['x-cashu-receipt'] as string;
      assert.ok(receipt);
      const cost = Number(res.headers['x-cashu-cost-sats']);
      assert.ok(cost >= 2);
      const change = await request(gw.url).get(`/v1/change/${receipt}`);
      assert.equal(change.status, 200);
      await request(gw.url).get(`/no/such/${'x'.repeat(60)}?api_key=owlr_prov_secret`);

      gw.flushAccessLog(); // lines are held for one batched write
      assert.equal(lines.length, 3, lines.join('\n'));
      const [job, byReceipt, unknown] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(job!.method, 'POST');
      assert.equal(job!.path, '/v1/chat/completions');
      assert.equal(job!.status, 200);
      assert.equal(job!.model, sim.model);
      assert.equal(job!.cost_sats, cost);
      assert.equal(typeof job!.duration_ms, 'number');
      assert.equal(job!.request_id, res.headers['x-request-id']);
      assert.equal(byReceipt!.path, '/v1/change/:receipt');
      assert.equal(unknown!.status, 404);
      const all = lines.join('');
      for (const secret of [token, token.slice(10, 40), receipt, 'sk-very-secret-api-key', 'owlr_prov_secret', res.headers['x-cashu-change'] as string]) {
        if (secret) assert.ok(!all.includes(secret), `the access log holds a secret: ${secret.slice(0, 12)}…`);
      }
    } finally {
      await gw.shutdown(0);
    }
  });

  it('reads well on a terminal: pretty lines', () => {
    const line = prettyLine(JSON.stringify({ level: 30, time: Date.UTC(2025, 0, 1, 12, 0, 1, 234), msg: 'request', method: 'GET', path: '/healthz', status: 200 }));
    assert.equal(line, '12:00:01.234 INFO  request method=GET path=/healthz status=200\n');
  });

  it('pretty lines stay readable when one write holds a turn\'s several access-log lines', () => {
    const rec = (status: number) => JSON.stringify({ level: 30, time: Date.UTC(2025, 0, 1, 12, 0, 1, 234), msg: 'request', method: 'GET', path: '/healthz', status }) + '\n';
    assert.equal(prettyLines(rec(200) + rec(503)), '12:00:01.234 INFO  request method=GET path=/healthz status=200\n12:00:01.234 INFO  request method=GET path=/healthz status=503\n');
  });
});
