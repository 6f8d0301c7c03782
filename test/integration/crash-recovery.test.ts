import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet, getDecodedToken, type Proof } from '@cashu/cashu-ts';
import { stringify } from 'yaml';
import { createDevMint, mintToken, type DevMint } from '../../src/devmint/index.js';
import { receiptHash, type JobRow } from '../../src/ledger/jobs.js';
import type { Db } from '../../src/store/db.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { startTestGateway } from '../helpers/gateway.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { PaidEnv, TEST_PRICING } from '../helpers/paid-env.js';
import { contentEvents, sseData } from '../helpers/paid-stream.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

// A gateway killed mid-job (SIGKILL: no shutdown, no settlement) settles the job when it starts
// again on the same store: billed for the tokens its journal proves were delivered (the journal
// is flushed every 500 ms), or refunded in full when it knows of none; the receipt then works.

interface Receipted {
  status: string;
  token: string;
  change_sats: number;
  cost_sats: number;
}

const getReceipt = async (url: string, receipt: string) => {
  const res = await fetch(`${url}/v1/change/${receipt}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Receipted;
};

/** held proofs = gateway + providers + pending (the money rules), from a store. */
async function booksOf(db: Db) {
  const one = async (sql: string) => Number((await db.get<{ s: number | null }>(sql))?.s ?? 0);
  const b = {
    held: await one(`SELECT SUM(amount) AS s FROM wallet_proofs WHERE state = 'held'`),
    gateway: await one(`SELECT SUM(balance_sats) AS s FROM balances WHERE account = 'gateway'`),
    providers: await one(`SELECT SUM(balance_sats) AS s FROM balances WHERE account LIKE 'provider:%'`),
    pending: await one(`SELECT SUM(held_sats) AS s FROM jobs WHERE state = 'claimed'`),
  };
  assert.equal(b.held, b.gateway + b.providers + b.pending, `books: held ${b.held} = gateway ${b.gateway} + providers ${b.providers} + pending ${b.pending}`);
  return b;
}

/**
 * A mint seen through a faulty network: 'pass' forwards, 'lose-swap' lets the mint execute a
 * swap and then drops its answer (the claim is in doubt), 'down' drops every connection.
 */
async function mintProxy(target: string) {
  const state = { mode: 'pass' as 'pass' | 'lose-swap' | 'down' };
  const server = http.createServer((req, res) => {
    if (state.mode === 'down') return void req.socket.destroy();
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      fetch(target + (req.url ?? '/'), {
        method: req.method,
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      }).then(
        async (up) => {
          const text = Buffer.from(await up.arrayBuffer());
          if (state.mode === 'lose-swap' && req.url === '/v1/swap') return void req.socket.destroy();
          res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
          res.end(text);
        },
        () => req.socket.destroy(),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

describe('crash recovery: a gateway killed mid-stream settles on restart', function () {
  this.timeout(90_000);
  let dir: string;
  let mint: DevMint;
  let mintUrl: string;
  let sim: Simulator;
  let client: Wallet;
  const procs: GatewayProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'owlrun-crash-'));
    mint = await createDevMint({ db: new SqliteDb(':memory:'), log: () => undefined });
    mintUrl = await mint.listen(0);
    sim = await startSimulator({ kind: 'vllm', tokens: 5000, tokenDelayMs: 20 });
    client = new Wallet(mintUrl);
    await client.loadMint();
  });

  after(async () => {
    for (const p of procs) await p.kill();
    await sim?.close();
    await mint?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const redeem = async (token: string): Promise<number> => {
    if (!token) return 0;
    const proofs: Proof[] = await client.receive(token);
    return proofs.reduce((n, p) => n + Number(p.amount), 0);
  };

  it('SIGKILL mid-stream, restart on the same store: billed for ≤ the delivered tokens, change by receipt, books balance', async () => {
    const store = join(dir, 'owlrun.db');
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(
      configFile,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        store: { url: `sqlite:${store}` },
        // info: the test reads the gateway's URL from its "listening" line (tokens are never logged)
        log: { level: 'info' },
        health: { intervalSeconds: 3600 },
        plugins: ['auth', 'payment', 'metering', 'change'],
        backends: [{ id: 'node-1', kind: 'vllm', url: sim.url, provider: 'alice', models: ['sim-vllm'] }],
        providers: [{ id: 'alice', key: 'alice-key' }],
        payment: { mints: [mintUrl], minSatsPerJob: 2 },
        pricing: TEST_PRICING,
        devMint: { enabled: false },
      }),
    );
    const chat = (url: string, token: string, stream: boolean, signal?: AbortSignal) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cashu': token },
        body: JSON.stringify({ model: 'sim-vllm', messages: [{ role: 'user', content: 'Say hello' }], stream }),
        signal,
      });

    const gw1 = await GatewayProcess.start(configFile);
    procs.push(gw1);

    // A job that finished before the crash: its receipt must survive the restart.
    sim.options = { ...sim.options, tokens: 10, tokenDelayMs: 0, promptTokens: 10 };
    const done = await chat(gw1.url, (await mintToken(mintUrl, 30, { wallet: client })).token, false);
    assert.equal(done.status, 200);
    await done.json();
    const doneReceipt = done.headers.get('x-cashu-receipt')!;
    const doneChange = done.headers.get('x-cashu-change')!;
    assert.equal(done.headers.get('x-cashu-change-sats'), '19');

    // A job whose first token never comes: nothing delivered when the gateway dies.
    sim.options = { ...sim.options, tokens: 5000, tokenDelayMs: 20, firstTokenDelayMs: 600_000, promptTokens: undefined };
    const idle = await chat(gw1.url, (await mintToken(mintUrl, 50, { wallet: client })).token, true);
    assert.equal(idle.status, 200, 'headers arrived: the claim is persisted');
    const idleReceipt = idle.headers.get('x-cashu-receipt')!;
    // (its body stays open: cancelling it now would settle the job as client_gone)

    // The streaming job killed mid-way.
    sim.options = { ...sim.options, firstTokenDelayMs: 0 };
    const paid = 200;
    const res = await chat(gw1.url, (await mintToken(mintUrl, paid, { wallet: client })).token, true);
    assert.equal(res.status, 200);
    const receipt = res.headers.get('x-cashu-receipt')!;
    assert.ok(receipt);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const seen = () => contentEvents(sseData(text.slice(0, text.lastIndexOf('\n\n') + 2)));
    const reading = (async () => {
      try {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        /* the gateway died under the stream */
      }
    })();
    while (seen() < 5) await new Promise((r) => setTimeout(r, 10));
    // The delivered-token journal is flushed every 500 ms: let at least one flush happen.
    await new Promise((r) => setTimeout(r, 700));
    await gw1.kill();
    await reading;
    await idle.body!.cancel().catch(() => undefined);
    const delivered = seen();
    assert.ok(delivered >= 5);
    await sim.waitForRequests(3);
    assert.ok(sim.requests[1]!.aborted && sim.requests[2]!.aborted, 'the dead gateway dropped its upstream requests');

    // Restart on the same config and store: start-up recovery settles both open jobs.
    const gw2 = await GatewayProcess.start(configFile);
    procs.push(gw2);

    const killed = await getReceipt(gw2.url, receipt);
    assert.equal(killed.status, 'settled');
    assert.equal(killed.cost_sats + killed.change_sats, paid, 'cost + change = paid');
    assert.ok(killed.cost_sats > 0, 'the journal proved some tokens were delivered');
    assert.equal(await redeem(killed.token), killed.change_sats, 'the change redeems for exactly change_sats');

    const idleSettled = await getReceipt(gw2.url, idleReceipt);
    assert.deepEqual({ ...idleSettled, token: '' }, { status: 'settled', token: '', change_sats: 50, cost_sats: 0 }, 'nothing delivered: full refund');
    assert.equal(await redeem(idleSettled.token), 50);

    const before = await getReceipt(gw2.url, doneReceipt);
    assert.deepEqual(before, { status: 'settled', token: doneChange, change_sats: 19, cost_sats: 11 });
    assert.equal(await redeem(doneChange), 19);

    assert.equal(await gw2.stop(), 0, 'graceful shutdown');

    const db = new SqliteDb(store);
    try {
      const row = (await db.get<JobRow>(`SELECT * FROM jobs WHERE receipt_hash = ?`, [receiptHash(receipt)]))!;
      assert.equal(row.state, 'settled');
      assert.equal(row.outcome, 'recovered');
      const billed = Number(row.completion_tokens);
      assert.ok(billed > 0 && billed <= delivered, `billed ${billed} tokens, the client received ${delivered}`);
      assert.ok(billed <= sim.requests[2]!.tokensSent);
      assert.equal(killed.cost_sats, Math.ceil((Number(row.prompt_estimate) + 10 * billed) / 10), 'prompt estimate × 0.1 + delivered tokens × 1');
      assert.equal(Number(row.provider_sats) + Number(row.gateway_sats), killed.cost_sats);
      const idleRow = (await db.get<JobRow>(`SELECT * FROM jobs WHERE receipt_hash = ?`, [receiptHash(idleReceipt)]))!;
      assert.equal(idleRow.outcome, 'recovered');
      assert.equal(Number(idleRow.cost_sats), 0);

      const one = async (sql: string) => Number((await db.get<{ s: number | null }>(sql))?.s ?? 0);
      const held = await one(`SELECT SUM(amount) AS s FROM wallet_proofs WHERE state = 'held'`);
      const gateway = await one(`SELECT SUM(balance_sats) AS s FROM balances WHERE account = 'gateway'`);
      const providers = await one(`SELECT SUM(balance_sats) AS s FROM balances WHERE account LIKE 'provider:%'`);
      const pending = await one(`SELECT SUM(held_sats) AS s FROM jobs WHERE state = 'claimed'`);
      assert.equal(await one(`SELECT COUNT(*) AS s FROM jobs WHERE state <> 'settled'`), 0);
      assert.equal(pending, 0);
      assert.equal(held, gateway + providers + pending, `held ${held} = gateway ${gateway} + providers ${providers} + pending ${pending}`);
      assert.equal(held, killed.cost_sats + 11, 'the gateway keeps exactly the two bills');
      assert.equal(await one(`SELECT COUNT(*) AS s FROM wallet_outputs WHERE state = 'pending'`), 0);
    } finally {
      await db.close();
    }
  });
  it('a claim whose answer was lost stays pending while the mint is down at restart, then is refunded in full', async () => {
    const proxy = await mintProxy(mintUrl);
    const sim2 = await startSimulator({ kind: 'vllm', tokens: 5 });
    const db = new SqliteDb(join(dir, 'in-doubt.db'));
    const config = PaidEnv.config(sim2, proxy.url);
    const wallet = new Wallet(proxy.url);
    await wallet.loadMint();
    const gateways: { shutdown(ms?: number): Promise<void> }[] = [];
    const start = async () => {
      const gw = await startTestGateway(config, { db });
      gateways.push(gw);
      return gw;
    };
    try {
      const gw1 = await start();
      const token = (await mintToken(proxy.url, 40, { wallet })).token;
      proxy.state.mode = 'lose-swap';
      const res = await fetch(`${gw1.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cashu': token },
        body: JSON.stringify({ model: 'sim-vllm', messages: [{ role: 'user', content: 'Say hello' }] }),
      });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'cashu_mint_unreachable');
      assert.equal(res.headers.get('x-cashu-change'), null, 'the token may be spent: it is not echoed back');
      const receipt = res.headers.get('x-cashu-receipt')!;
      assert.ok(receipt, 'a receipt to fetch the outcome later');
      assert.equal(sim2.requests.length, 0);
      proxy.state.mode = 'pass';
      const states = await wallet.checkProofsStates(getDecodedToken(token, (await wallet.keyChain.getKeysets()).map((k) => k.id)).proofs);
      assert.ok(states.every((x) => x.state === 'SPENT'), 'the mint did execute the swap');
      assert.equal((await getReceipt(gw1.url, receipt)).status, 'pending');
      await gw1.shutdown(0);

      // Restart while the mint cannot be reached: the outcome is unknown, so the job stays open.
      proxy.state.mode = 'down';
      const gw2 = await start();
      assert.deepEqual(await getReceipt(gw2.url, receipt), { status: 'pending', token: '', change_sats: 0, cost_sats: 0 });
      await gw2.shutdown(0);

      // The mint is back: the next start restores the claimed proofs (NUT-09) and refunds them.
      proxy.state.mode = 'pass';
      const gw3 = await start();
      const settled = await getReceipt(gw3.url, receipt);
      assert.equal(settled.status, 'settled');
      assert.equal(settled.cost_sats, 0);
      assert.equal(settled.change_sats, 40);
      const proofs: Proof[] = await wallet.receive(settled.token);
      assert.equal(proofs.reduce((n, p) => n + Number(p.amount), 0), 40, 'the refund redeems for exactly 40 sats');
      await gw3.shutdown(0);
      assert.deepEqual(await booksOf(db), { held: 0, gateway: 0, providers: 0, pending: 0 });
    } finally {
      for (const gw of gateways) await gw.shutdown(0);
      await db.close();
      await sim2.close();
      await proxy.close();
    }
  });
});
