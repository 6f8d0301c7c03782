import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wallet } from '@cashu/cashu-ts';
import { stringify } from 'yaml';
import { createDevMint, mintToken, type DevMint } from '../../src/devmint/index.js';
import { OwlrunAgent } from '../../src/simulator/owlrun-agent.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { TEST_PRICING } from '../helpers/paid-env.js';
import { contentEvents, sseData } from '../helpers/paid-stream.js';
import { waitFor } from '../helpers/marketplace.js';

// A gateway killed (SIGKILL) while an agent streams a paid job: the job is in the same journal as
// any other, so the restarted gateway bills what was delivered and refunds the rest by receipt;
// the agent, its socket gone, registers and dials the restarted gateway by itself.

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('marketplace: a gateway killed under an agent\'s running job', () => {
  let mint: DevMint;
  let dir: string;
  const procs: GatewayProcess[] = [];
  let agent: OwlrunAgent | undefined;
  before(async () => {
    mint = await createDevMint({ db: new SqliteDb(':memory:'), log: () => undefined });
    await mint.listen(0);
  });
  after(async () => mint.close());
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'owlrun-market-crash-'))));
  afterEach(async () => {
    agent?.kill();
    for (const p of procs.splice(0)) await p.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no money: billed for what was delivered, the rest by receipt; the agent rejoins the restarted gateway', async function () {
    this.timeout(120_000); // two gateway processes start (tsx compiles at each start)
    const port = await freePort();
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, stringify({
      server: { host: '127.0.0.1', port },
      store: { url: `sqlite:${join(dir, 'owlrun.db')}` },
      log: { level: 'info' },
      plugins: ['auth', 'payment', 'metering', 'change'],
      payment: { mints: [mint.url!], minSatsPerJob: 2 },
      pricing: TEST_PRICING,
      devMint: { enabled: false },
      marketplace: { enabled: true, openRegistration: true, pingIntervalSeconds: 1 },
    }));
    const gw1 = await GatewayProcess.start(configFile);
    procs.push(gw1);
    const words = Array.from({ length: 100 }, (_, i) => `w${i} `);
    agent = new OwlrunAgent({ gateway: gw1.url, heartbeatMs: 200, timeScale: 0.01, autoWithdraw: false, answer: { words, wordDelayMs: 50 } });
    await agent.start();
    const client = new Wallet(mint.url!);
    await client.loadMint();
    await waitFor(async () => ((await (await fetch(`${gw1.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 'the agent\'s model is listed');

    const paid = 200;
    const res = await fetch(`${gw1.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cashu': (await mintToken(mint.url!, paid, { wallet: client })).token },
      body: JSON.stringify({ model: 'mock:latest', stream: true, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    assert.equal(res.status, 200);
    const receipt = res.headers.get('x-cashu-receipt')!;
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const seen = () => contentEvents(sseData(text.slice(0, text.lastIndexOf('\n\n') + 2)));
    const reading = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        /* the gateway died under the stream */
      }
    })();
    await waitFor(() => seen() >= 5, 'five words delivered');
    await new Promise((r) => setTimeout(r, 700)); // one journal flush (every 500 ms)
    await gw1.kill();
    await reading;
    const delivered = seen();

    const gw2 = await GatewayProcess.start(configFile);
    procs.push(gw2);
    const settled = (await (await fetch(`${gw2.url}/v1/change/${receipt}`)).json()) as { status: string; token: string; change_sats: number; cost_sats: number };
    assert.equal(settled.status, 'settled');
    assert.equal(settled.cost_sats + settled.change_sats, paid);
    assert.ok(settled.cost_sats >= 2 && settled.cost_sats <= delivered + 2, `billed ${settled.cost_sats} for ${delivered} delivered words`);
    const received = await client.receive(settled.token);
    assert.equal(received.reduce((n, p) => n + Number(p.amount), 0), settled.change_sats);

    // The agent registers and dials again, and serves on the restarted gateway.
    await waitFor(async () => ((await (await fetch(`${gw2.url}/v1/models`)).json()) as { data: unknown[] }).data.length === 1, 'the agent rejoined', 15_000);
    const again = await fetch(`${gw2.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cashu': (await mintToken(mint.url!, 200, { wallet: client })).token },
      body: JSON.stringify({ model: 'mock:latest', stream: false, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    assert.equal(again.status, 200);
    await again.json();
    await gw2.stop();
    const db = new SqliteDb(join(dir, 'owlrun.db'));
    const one = async (sql: string) => Number((await db.get<{ s: number | null }>(sql))?.s ?? 0);
    const held = await one(`SELECT SUM(amount) AS s FROM wallet_proofs WHERE state = 'held'`);
    const balances = await one(`SELECT SUM(balance_sats) AS s FROM balances`);
    const pending = await one(`SELECT SUM(held_sats) AS s FROM jobs WHERE state = 'claimed'`);
    assert.equal(held, balances + pending, 'the books balance');
    assert.equal(pending, 0);
    await db.close();
  });
});
