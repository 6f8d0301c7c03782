// GET /readyz end to end: a real development mint stopped and started again on its port, a
// rate gone stale (injected clock), no healthy node, a store that stops answering, and the
// fixedRate warning for real ecash. /healthz stays ok throughout.
import assert from 'node:assert/strict';
import request from 'supertest';
import { createDevMint, type DevMint } from '../../src/devmint/index.js';
import type { Gateway, GatewayOptions } from '../../src/gateway.js';
import { startGateway } from '../../src/compose.js';
import { createLogger } from '../../src/log.js';
import type { ReadinessBody } from '../../src/ops/readiness.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { OracleKey } from '../../plugins/oracle/index.js';
import { testConfig } from '../helpers/gateway.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

const DAY = 86_400_000;
const DAY1 = Date.UTC(2025, 0, 10);

async function readyz(gw: Gateway): Promise<{ status: number; body: ReadinessBody }> {
  const res = await request(gw.url).get('/readyz');
  return { status: res.status, body: res.body as ReadinessBody };
}

describe('GET /readyz', () => {
  let mint: DevMint;
  let mintUrl: string;
  let sim: Simulator;
  const gws: Gateway[] = [];

  before(async () => {
    mint = await createDevMint({ db: new SqliteDb(':memory:'), inputFeePpk: 0, log: () => undefined });
    mintUrl = await mint.listen(0);
    sim = await startSimulator({ kind: 'vllm', tokens: 5 });
  });
  afterEach(async () => {
    for (const gw of gws.splice(0)) await gw.shutdown(0);
  });
  after(async () => {
    await mint.close();
    await sim.close();
  });

  async function start(partial: Record<string, unknown>, opts: Pick<GatewayOptions, 'now' | 'fetch'> = {}): Promise<Gateway> {
    const config = testConfig({ ...PaidEnv.config(sim, mintUrl), ...partial });
    const gw = await startGateway(config, { log: createLogger(config.log.level), ...opts });
    gws.push(gw);
    return gw;
  }

  it('is ready with the mint up, 503 naming the mint while it is down, ready again once it answers', async () => {
    const gw = await start({});
    let r = await readyz(gw);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'ready');
    assert.deepEqual(r.body.reasons, []);
    assert.equal(r.body.mints[0]!.up, true);
    assert.match(await (await request(gw.url).get('/metrics')).text, new RegExp(`owlrun_mint_up\\{mint="${mintUrl}"\\} 1`));

    const port = Number(new URL(mintUrl).port);
    await mint.close();
    await gw.mints!.checkAll();
    r = await readyz(gw);
    assert.equal(r.status, 503);
    assert.equal(r.body.status, 'not_ready');
    assert.equal(r.body.reasons.length, 1, JSON.stringify(r.body.reasons));
    assert.ok(r.body.reasons[0]!.startsWith(`mint ${mintUrl}: its last check failed`), r.body.reasons[0]);
    assert.equal(r.body.mints[0]!.up, false);
    assert.match(await (await request(gw.url).get('/metrics')).text, new RegExp(`owlrun_mint_up\\{mint="${mintUrl}"\\} 0`));
    assert.equal((await request(gw.url).get('/healthz')).status, 200, 'liveness is not readiness');

    await mint.listen(port);
    await gw.mints!.checkAll();
    r = await readyz(gw);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  it('a dead mint does not stop start-up: the gateway starts and is not ready', async () => {
    const gw = await start({ payment: { mints: ['http://127.0.0.1:1'] } });
    const r = await readyz(gw);
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.reasons.map((x) => x.split(':').slice(0, 3).join(':')), ['mint http://127.0.0.1:1']);
  });

  it('is 503 when no node is healthy, naming the nodes', async () => {
    const gw = await start({ backends: [{ id: 'dead-node', kind: 'vllm', url: 'http://127.0.0.1:1', provider: 'alice' }] });
    const r = await readyz(gw);
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.reasons, ['nodes: none of 1 is healthy (dead-node)']);
    assert.deepEqual(r.body.nodes, { healthy: 0, total: 1 });
  });

  it('is 503 when the store does not answer', async () => {
    const db = new SqliteDb(':memory:');
    let broken = false;
    const flaky = Object.create(db) as SqliteDb;
    flaky.get = (sql, params) => (broken ? Promise.reject(new Error('disk I/O error')) : db.get(sql, params));
    const config = testConfig(PaidEnv.config(sim, mintUrl));
    const gw = await startGateway(config, { log: createLogger(config.log.level), db: flaky });
    gws.push(gw);
    assert.equal((await readyz(gw)).status, 200);
    broken = true;
    const r = await readyz(gw);
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.reasons, ['store: disk I/O error']);
    broken = false;
    await db.close();
  });

  it('is 503 when the rate in force is stale; a fixed rate for real ecash is a warning naming fixedRate, not a 503', async () => {
    const clock = { t: DAY1 + 3_600_000 };
    const fetcher = async () => new Response(JSON.stringify({ data: { amount: 90000 } }), { headers: { 'content-type': 'application/json' } });
    const sources = [{ name: 'a', url: 'http://127.0.0.1:9/ticker', path: 'data.amount' }];
    const gw = await start({ plugins: ['auth', 'payment', 'metering', 'change', 'oracle'], oracle: { sources, intervalSeconds: 3600 } }, { now: () => clock.t, fetch: fetcher });
    let r = await readyz(gw);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.rate, { btc_usd: 90000, basis: 'samples', stale: false });
    assert.deepEqual(r.body.warnings, []);
    const oracle = gw.services.get(OracleKey);
    clock.t = DAY1 + DAY + 5; // midnight: yesterday's samples are published
    await oracle.tick();
    assert.equal((await readyz(gw)).status, 200);
    clock.t = DAY1 + 3 * DAY + 60_000; // two midnights with no sample
    r = await readyz(gw);
    assert.equal(r.status, 503);
    assert.equal(r.body.reasons.length, 1);
    assert.match(r.body.reasons[0]!, /^rate: the BTC\/USD rate in force is stale/);

    // No sources at all: the fixed rate is in force; a warning (body and /v1/oracle/rate), still ready.
    const fixed = await start({ plugins: ['auth', 'payment', 'metering', 'change', 'oracle'] });
    r = await readyz(fixed);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.rate?.basis, 'fixed_rate');
    assert.equal(r.body.warnings.length, 1);
    assert.match(r.body.warnings[0]!, /oracle\.fixedRate \(100000 USD\/BTC\).*no oracle\.sources are configured/);
    const rate = await request(fixed.url).get('/v1/oracle/rate');
    assert.deepEqual(rate.body.warnings, r.body.warnings);
  });

  it('says nothing about fixedRate for the development mint (fake sats)', async () => {
    const gw = await start({ plugins: ['auth', 'payment', 'metering', 'change', 'oracle'], devMint: { enabled: true, port: 0 } });
    const r = await readyz(gw);
    assert.deepEqual(r.body.warnings, []);
    assert.deepEqual((await request(gw.url).get('/v1/oracle/rate')).body.warnings, []);
  });
});
