import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Wallet } from '@cashu/cashu-ts';
import { createDevMint, mintToken, type DevMint } from '../../src/devmint/index.js';
import type { Gateway } from '../../src/gateway.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { startTestGateway } from '../helpers/gateway.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

/** In front of the mint: forwards everything; the first swap answer gets one malformed signature. */
async function corruptingProxy(target: string) {
  let corrupt = true;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const up = await fetch(target + req.url, { method: req.method, headers: { 'content-type': 'application/json' }, ...(body && { body }) });
        let text = await up.text();
        if (corrupt && req.method === 'POST' && req.url === '/v1/swap' && up.status === 200) {
          corrupt = false;
          const json = JSON.parse(text) as { signatures: { amount: number; C_: string }[] };
          json.signatures[0]!.C_ = 'not-a-point';
          text = JSON.stringify(json);
        }
        res.writeHead(up.status, { 'content-type': 'application/json' }).end(text);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('a claim the mint answers with some unusable signatures', () => {
  let mint: DevMint;
  let sim: Simulator;
  let gw: Gateway | undefined;
  let proxy: Awaited<ReturnType<typeof corruptingProxy>>;
  const db = new SqliteDb(':memory:');
  before(async () => {
    mint = await createDevMint({ db: new SqliteDb(':memory:'), log: () => undefined });
    proxy = await corruptingProxy(await mint.listen(0));
    sim = await startSimulator({ kind: 'vllm', tokens: 5 });
  });
  after(async () => {
    await gw?.shutdown(0);
    await sim.close();
    proxy.server.closeAllConnections();
    proxy.server.close();
    await mint.close();
    await db.close();
  });

  it('is not "nothing claimed": the job stays open and the usable part is refunded at its receipt', async () => {
    gw = await startTestGateway(PaidEnv.config(sim, proxy.url), { db });
    const client = new Wallet(proxy.url);
    await client.loadMint();
    const { token } = await mintToken(proxy.url, 64, { wallet: client }); // one 64-sat proof in
    const res = await fetch(gw.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'x-cashu': token },
      body: JSON.stringify({ model: 'sim-vllm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 503);
    await res.arrayBuffer();
    const receipt = res.headers.get('x-cashu-receipt')!;
    assert.ok(receipt, 'the client gets the receipt of the open job');
    assert.equal(res.headers.get('x-cashu-change'), null, 'the token was spent: it is not echoed back');
    assert.equal(sim.requests.length, 0);
    const pending = (await (await fetch(`${gw.url}/v1/change/${receipt}`)).json()) as { status: string };
    assert.equal(pending.status, 'pending');

    // A restart settles what the stopped process left (the embedded store is one process's).
    await gw.shutdown(0);
    gw = await startTestGateway(PaidEnv.config(sim, proxy.url), { db });
    const settled = (await (await fetch(`${gw.url}/v1/change/${receipt}`)).json()) as { status: string; token: string; change_sats: number; cost_sats: number };
    assert.equal(settled.status, 'settled');
    assert.equal(settled.cost_sats, 0);
    assert.ok(settled.change_sats > 0 && settled.change_sats < 64, `the usable outputs come back (${settled.change_sats})`);
    const received = await client.receive(settled.token);
    assert.equal(received.reduce((n, p) => n + Number(p.amount), 0), settled.change_sats);
    const one = async (sql: string) => Number((await db.get<{ s: number | null }>(sql))?.s ?? 0);
    assert.equal(await one(`SELECT SUM(amount) AS s FROM wallet_proofs WHERE state = 'held'`), 0);
    assert.equal(await one(`SELECT SUM(held_sats) AS s FROM jobs WHERE state = 'claimed'`), 0);
  });
});
