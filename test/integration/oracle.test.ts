// The oracle plugin end to end: fake price servers on loopback (good, slow, dead, garbage, bad
// prices), an injected clock to cross midnight, restarts on one store, paid jobs priced at the
// published rate, and the announcements. No real network, no timed assertions.
import assert from 'node:assert/strict';
import { Services } from '../../src/pipeline/services.js';
import { GatewayMetrics } from '../../src/metrics/registry.js';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Wallet } from '@cashu/cashu-ts';
import { createDevMint, mintToken, type DevMint } from '../../src/devmint/index.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway as startShipped } from '../../src/compose.js';
import { createLogger } from '../../src/log.js';
import { BackendPool } from '../../src/proxy/pool.js';
import type { Db } from '../../src/store/db.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { create, OracleKey, type OracleMetrics } from '../../plugins/oracle/index.js';
import type { Oracle } from '../../plugins/oracle/oracle.js';
import { testConfig } from '../helpers/gateway.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

const H = 3_600_000;
const DAY = 24 * H;
/** 2025-01-10 00:00 UTC */
const DAY1 = Date.UTC(2025, 0, 10);
const DAY2 = DAY1 + DAY;
const iso = (t: number) => new Date(t).toISOString();

type Mode = 'ok' | 'hang' | 'garbage';

/** A ticker on 127.0.0.1 answering {"data":{"amount": price}}; `price` may be anything (bad input). */
class PriceServer {
  mode: Mode = 'ok';
  requests = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly srv: http.Server,
    public price: unknown,
  ) {}

  static async start(price: unknown, mode: Mode = 'ok'): Promise<PriceServer> {
    let self: PriceServer | undefined;
    const srv = http.createServer((_req, res) => {
      const s = self!;
      s.requests++;
      if (s.mode === 'hang') return; // answers after the timeout: never
      if (s.mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>rate limited, try later</body></html>');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { amount: s.price, currency: 'USD' } }));
    });
    self = new PriceServer(srv, price);
    self.mode = mode;
    srv.on('connection', (s: Socket) => {
      self!.sockets.add(s);
      s.on('close', () => self!.sockets.delete(s));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return self;
  }

  /** A URL nothing listens on. */
  static async deadUrl(): Promise<string> {
    const s = await PriceServer.start(0);
    const url = s.url;
    await s.close();
    return url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.srv.address() as AddressInfo).port}/ticker`;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => (this.srv.listening ? this.srv.close(() => r()) : r()));
  }
}

const source = (name: string, url: string) => ({ name, url, path: 'data.amount' });

class Clock {
  constructor(public t: number) {}
  now = (): number => this.t;
}

interface Started {
  gw: Gateway;
  oracle: Oracle;
}

async function startGateway(partial: Record<string, unknown>, clock: Clock, db?: Db): Promise<Started> {
  const config = testConfig({ plugins: ['oracle'], ...partial });
  const gw = await startShipped(config, { log: createLogger(config.log.level), now: clock.now, ...(db ? { db } : {}) });
  return { gw, oracle: gw.services.get(OracleKey) };
}

interface RateBody {
  btc_usd: number;
  rate_cents: number;
  status: string;
  basis: string;
  published_at: string;
  window_start: string | null;
  window_end: string | null;
  samples: number;
  age_seconds: number;
  stale: boolean;
  next_publication_at: string;
  last_sample: { taken_at: string; btc_usd: number } | null;
  sources: { name: string; last_value: number | null; last_error: string | null; last_error_reason: string | null; errors: number }[];
  previous: { btc_usd: number } | null;
  margins: { inference: number; fx: number };
  min_sats_per_job: number;
  provider_share_min: number;
  formula: string;
  examples: { model: string; per_m_input_sats: number; per_m_output_sats: number; job_1m_in_1m_out: { cost_sats: number; gateway_sats: number; provider_sats: number } }[];
}

const getJson = async <T>(url: string, init?: RequestInit): Promise<T> => (await fetch(url, init)).json() as Promise<T>;
const rateOf = (gw: Gateway) => getJson<RateBody>(gw.url + '/v1/oracle/rate');
const sourceOf = (r: RateBody, name: string) => r.sources.find((s) => s.name === name)!;

describe('oracle plugin', () => {
  const servers: PriceServer[] = [];
  let gws: Gateway[] = [];
  const serve = async (price: unknown, mode: Mode = 'ok') => {
    const s = await PriceServer.start(price, mode);
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    for (const gw of gws.splice(0)) await gw.shutdown(0);
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('polls every source with a timeout: the sample is the median of those that answered; slow, dead and garbage sources are errors', async () => {
    const clock = new Clock(DAY1 + 12 * H);
    const [a, b, c, slow, garbage] = [await serve('99000.5'), await serve(100000), await serve('250000'), await serve(1, 'hang'), await serve(1, 'garbage')];
    const dead = await PriceServer.deadUrl();
    const { gw, oracle } = await startGateway(
      {
        oracle: {
          sources: [source('a', a.url), source('b', b.url), source('c', c.url), source('slow', slow.url), source('dead', dead), source('garbage', garbage.url)],
          intervalSeconds: 3600,
          timeoutMs: 3000, // generous: the first fetch of a cold process can be slow; 'slow' never answers
        },
      },
      clock,
    );
    gws.push(gw);
    const r = await rateOf(gw);
    // a first start: published provisionally from the first samples, and says so
    assert.equal(r.status, 'provisional');
    assert.equal(r.basis, 'samples');
    assert.equal(r.btc_usd, 100000);
    assert.equal(r.rate_cents, 10000000);
    assert.equal(r.samples, 1);
    assert.equal(r.published_at, iso(clock.t));
    assert.equal(r.window_start, iso(clock.t));
    assert.equal(r.age_seconds, 0);
    assert.equal(r.stale, false);
    assert.equal(r.next_publication_at, iso(DAY2));
    assert.deepEqual(r.last_sample, { taken_at: iso(clock.t), btc_usd: 100000 });
    assert.equal(sourceOf(r, 'a').last_value, 99000.5);
    assert.equal(sourceOf(r, 'c').last_value, 250000, 'within 10x of the median');
    assert.equal(sourceOf(r, 'slow').last_error_reason, 'timeout');
    assert.equal(sourceOf(r, 'dead').last_error_reason, 'network');
    assert.equal(sourceOf(r, 'garbage').last_error_reason, 'bad_json');
    assert.equal(sourceOf(r, 'garbage').last_value, null);
    // what an agent needs to verify a bill
    assert.deepEqual(r.margins, { inference: 0.09, fx: 0.01 });
    assert.equal(r.min_sats_per_job, 2);
    assert.equal(r.provider_share_min, 0.9);
    assert.match(r.formula, /ceil\(cost_usd \/ btc_usd \* 1e8\)/);
    const dflt = r.examples.find((e) => e.model === '*')!;
    // $0.10 and $0.30 per million at $100,000/BTC
    assert.deepEqual([dflt.per_m_input_sats, dflt.per_m_output_sats], [100, 300]);
    assert.deepEqual(dflt.job_1m_in_1m_out, { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, cost_sats: 400, gateway_sats: 40, provider_sats: 360 });
    // counted for the metrics
    assert.equal(oracle.sourceErrors.get('slow'), 1);
    assert.equal(oracle.sourceErrorsByReason.get('dead')?.get('network'), 1);
    assert.equal(oracle.sourceErrorsByReason.get('garbage')?.get('bad_json'), 1);
    assert.equal(oracle.sourceErrors.get('a'), 0);
    assert.equal(oracle.sourceRequests.get('a'), 1);
    assert.equal(oracle.rate(), 100000);
    assert.equal(oracle.counters.samples, 1);
  });

  it('ignores negative, zero, absurd and non-numeric prices and counts them as errors', async () => {
    const clock = new Clock(DAY1 + 12 * H);
    const good = [await serve(100000), await serve('100500'), await serve(99500)];
    const bad = { negative: await serve(-100000), zero: await serve('0'), absurd: await serve(5_000_000), words: await serve('about 100k'), object: await serve({ usd: 1 }) };
    const { gw, oracle } = await startGateway(
      {
        oracle: {
          sources: [...good.map((s, i) => source(`good${i}`, s.url)), ...Object.entries(bad).map(([n, s]) => source(n, s.url))],
          intervalSeconds: 3600,
          timeoutMs: 5000,
        },
      },
      clock,
    );
    gws.push(gw);
    clock.t += 5 * 60_000;
    await oracle.poll();
    const r = await rateOf(gw);
    assert.equal(r.btc_usd, 100000, 'median of the good ones');
    assert.equal(oracle.latestSample()?.rateCents, 10000000);
    const expected: Record<string, string> = { negative: 'non_positive', zero: 'non_positive', absurd: 'absurd', words: 'non_numeric', object: 'non_numeric' };
    for (const [name, reason] of Object.entries(expected)) {
      assert.equal(sourceOf(r, name).last_error_reason, reason, name);
      assert.equal(sourceOf(r, name).errors, 2, `${name}: two polls, two errors`);
      assert.equal(oracle.sourceErrorsByReason.get(name)?.get(reason as never), 2, name);
      assert.equal(sourceOf(r, name).last_value, null);
    }
    for (let i = 0; i < 3; i++) assert.equal(oracle.sourceErrors.get(`good${i}`), 0);
    const samples = await getJson<{ samples: { sources: Record<string, { value?: number; error?: string }> }[] }>(gw.url + '/v1/oracle/samples');
    assert.equal(samples.samples[0]?.sources.absurd?.error, 'absurd', 'the sample keeps what each source said');
    assert.equal(samples.samples[0]?.sources.absurd?.value, 5_000_000);
  });

  it('with no source reachable: provisional at oracle.fixedRate, replaced once by the first sample', async () => {
    const clock = new Clock(DAY1 + 12 * H);
    const flaky = await serve(70000, 'garbage');
    const { gw, oracle } = await startGateway({ oracle: { sources: [source('flaky', flaky.url)], fixedRate: 64000, intervalSeconds: 3600 } }, clock);
    gws.push(gw);
    let r = await rateOf(gw);
    assert.deepEqual([r.status, r.basis, r.btc_usd, r.samples, r.window_start], ['provisional', 'fixed_rate', 64000, 0, null]);
    assert.equal(r.last_sample, null);
    flaky.mode = 'ok';
    clock.t += 5 * 60_000;
    await oracle.poll();
    r = await rateOf(gw);
    assert.deepEqual([r.status, r.basis, r.btc_usd, r.samples], ['provisional', 'samples', 70000, 1]);
    assert.equal(oracle.counters.publications, 1);
  });

  it('publishes the mean of the previous 24 hours at midnight; a restart keeps samples and rate; dead sources never stop pricing', async () => {
    const db = new SqliteDb(':memory:');
    const clock = new Clock(DAY1 + 12 * H);
    const [a, b] = [await serve(100000), await serve(100000)];
    const oracleCfg = { sources: [source('a', a.url), source('b', b.url)], intervalSeconds: 3600, timeoutMs: 5000 };
    const first = await startGateway({ oracle: oracleCfg }, clock, db);
    gws.push(first.gw);
    assert.equal((await rateOf(first.gw)).btc_usd, 100000);
    for (const [h, usd] of [[13, 110000], [14, 120000]] as const) {
      clock.t = DAY1 + h * H;
      a.price = b.price = usd;
      await first.oracle.poll();
    }
    let r = await rateOf(first.gw);
    assert.equal(r.btc_usd, 100000, 'samples during the day do not move the rate in force');
    assert.equal(r.status, 'provisional');
    // cross midnight: the first poll of the new day publishes yesterday's mean
    clock.t = DAY2 + 60_000;
    a.price = b.price = 130000;
    await first.oracle.poll();
    r = await rateOf(first.gw);
    assert.equal(r.status, 'published');
    assert.equal(r.btc_usd, 110000);
    assert.equal(r.samples, 3);
    assert.equal(r.window_start, iso(DAY1));
    assert.equal(r.window_end, iso(DAY2));
    assert.equal(r.published_at, iso(DAY2 + 60_000));
    assert.equal(r.next_publication_at, iso(DAY2 + DAY));
    const samples = await getJson<{ window_start: string; samples: { btc_usd: number }[] }>(first.gw.url + '/v1/oracle/samples');
    assert.deepEqual(samples.samples.map((s) => s.btc_usd), [100000, 110000, 120000], 'the samples behind the rate, to check the mean');
    await first.gw.shutdown(0);
    gws = [];

    // restart on the same store, every source dead
    await a.close();
    await b.close();
    clock.t = DAY2 + 8 * H;
    const second = await startGateway({ oracle: oracleCfg }, clock, db);
    gws.push(second.gw);
    r = await rateOf(second.gw);
    assert.equal(r.status, 'published');
    assert.equal(r.btc_usd, 110000);
    assert.equal(r.age_seconds, 8 * 3600 - 60);
    assert.equal(r.stale, false);
    assert.deepEqual(r.last_sample, { taken_at: iso(DAY2 + 60_000), btc_usd: 130000 }, 'samples survive the restart');
    assert.equal(sourceOf(r, 'a').last_value, 130000);
    // the sources fail in the background; pricing goes on at the last rate
    await second.oracle.poll();
    r = await rateOf(second.gw);
    assert.equal(sourceOf(r, 'a').last_error_reason, 'network');
    assert.equal(r.btc_usd, 110000);
    // the next midnight publishes the one sample of that day; then days with no sample keep it
    clock.t = DAY2 + DAY + 5;
    await second.oracle.tick();
    assert.equal((await rateOf(second.gw)).btc_usd, 130000);
    clock.t = DAY2 + 4 * DAY + 2 * H;
    await second.oracle.poll();
    r = await rateOf(second.gw);
    assert.equal(r.btc_usd, 130000);
    assert.equal(r.status, 'published');
    assert.equal(r.stale, true);
    assert.equal(r.age_seconds, 3 * 86400 + 7200 - 1, 'published at DAY3 00:00:00.005');
    assert.ok(second.oracle.rateAge() > 3 * 86400);
    assert.equal(second.oracle.stale(), true);
    assert.equal(r.previous?.btc_usd, 110000);
    await db.close();
  });

  it('registers its metrics view in deps.shared under "oracle"', async () => {
    const config = testConfig({ plugins: ['oracle'] });
    const services = new Services();
    const log = createLogger('silent');
    const pool = new BackendPool({ intervalMs: 3600_000, timeoutMs: 1000, log });
    const deps = { config, db: new SqliteDb(':memory:'), log, pool, metrics: new GatewayMetrics({ processMetrics: false }), services, now: Date.now, fetch };
    const plugin = await create(deps);
    const m: OracleMetrics = services.get(OracleKey);
    assert.equal(m, services.find(OracleKey));
    assert.equal(m.rate(), 100000);
    assert.equal(m.status(), 'provisional');
    assert.ok(m.rateAge() >= 0);
    assert.ok(m.sourceErrors instanceof Map);
    await plugin.close!();
    await deps.db.close();
  });

  describe('broadcasts', () => {
    it('lists current announcements of the config and of the admin; POST /admin/broadcasts needs the admin key', async () => {
      const db = new SqliteDb(':memory:');
      const clock = new Clock(Date.UTC(2025, 0, 10, 12));
      const partial = {
        admin: { key: 'admin-secret' },
        broadcasts: [
          { id: 'now', message: 'maintenance tonight', level: 'warning' },
          { id: 'later', message: 'new models', starts_at: '2025-01-11T00:00:00Z' },
          { id: 'over', message: 'old news', ends_at: '2025-01-09T00:00:00Z' },
        ],
      };
      const { gw } = await startGateway(partial, clock, db);
      gws.push(gw);
      type List = { object: string; data: { id: string; message: string; level: string; starts_at: string | null; ends_at: string | null; source: string }[] };
      let list = await getJson<List>(gw.url + '/v1/broadcasts');
      assert.deepEqual(list, { object: 'list', data: [{ id: 'now', message: 'maintenance tonight', level: 'warning', starts_at: null, ends_at: null, source: 'config' }] });

      const post = (body: unknown, key?: string) =>
        fetch(gw.url + '/admin/broadcasts', { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) });
      const msg = { id: 'fx', message: 'rate source down', level: 'critical', ends_at: '2025-01-10T18:00:00Z' };
      let res = await post(msg);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'auth_missing_key');
      res = await post(msg, 'wrong');
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'auth_invalid_key');
      res = await post({ message: '' }, 'admin-secret');
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_request');
      res = await post(msg, 'admin-secret');
      assert.equal(res.status, 201);
      assert.deepEqual(await res.json(), { id: 'fx', message: 'rate source down', level: 'critical', starts_at: null, ends_at: '2025-01-10T18:00:00.000Z', source: 'admin' });
      res = await post({ ...msg, message: 'rate source back soon' }, 'admin-secret');
      assert.equal(res.status, 200, 'the same id replaces');
      list = await getJson<List>(gw.url + '/v1/broadcasts');
      assert.deepEqual(list.data.map((d) => [d.id, d.message]), [['now', 'maintenance tonight'], ['fx', 'rate source back soon']]);

      // after a restart, and past the ends_at / starts_at
      await gw.shutdown(0);
      gws = [];
      clock.t = Date.UTC(2025, 0, 11, 1);
      const again = await startGateway(partial, clock, db);
      gws.push(again.gw);
      list = await getJson<List>(again.gw.url + '/v1/broadcasts');
      assert.deepEqual(list.data.map((d) => d.id), ['now', 'later']);
      clock.t = Date.UTC(2025, 0, 10, 13);
      assert.deepEqual((await getJson<List>(again.gw.url + '/v1/broadcasts')).data.map((d) => d.id), ['now', 'fx'], 'the operator’s one was kept');
      const del = (id: string) => fetch(`${again.gw.url}/admin/broadcasts/${id}`, { method: 'DELETE', headers: { authorization: 'Bearer admin-secret' } });
      assert.equal((await del('fx')).status, 204);
      assert.equal((await del('fx')).status, 404);
      assert.equal((await del('now')).status, 400, 'config announcements are changed in the config');
      await again.gw.shutdown(0);
      gws = [];
      await db.close();
    });

    it('admin endpoints are off without an admin key', async () => {
      const { gw } = await startGateway({}, new Clock(DAY1));
      gws.push(gw);
      const res = await fetch(gw.url + '/admin/broadcasts', { method: 'POST', headers: { authorization: 'Bearer x' }, body: '{"message":"hi"}' });
      assert.equal(res.status, 404);
      assert.deepEqual(await getJson(gw.url + '/v1/broadcasts'), { object: 'list', data: [] });
    });
  });
});

describe('oracle plugin: billing at the published rate', () => {
  let mint: DevMint;
  let mintUrl: string;
  let sim: Simulator;
  let ticker: PriceServer;
  let gw: Gateway | undefined;
  let wallet: Wallet;

  before(async () => {
    mint = await createDevMint({ db: new SqliteDb(':memory:'), inputFeePpk: 0, log: () => undefined });
    mintUrl = await mint.listen(0);
    // 20 prompt tokens at $100/M and 30 completion tokens at $1000/M: $0.032 a job
    sim = await startSimulator({ kind: 'vllm', tokens: 30, promptTokens: 20, tokenDelayMs: 5 });
    wallet = new Wallet(mintUrl);
    await wallet.loadMint();
  });
  after(async () => {
    await gw?.shutdown(0);
    await ticker?.close();
    await sim.close();
    await mint.close();
  });

  const chat = (token: string, stream = false) =>
    fetch(gw!.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-cashu': token },
      body: JSON.stringify({ model: 'sim-vllm', stream, messages: [{ role: 'user', content: 'Say hello' }] }),
    });
  const token = async (sats: number) => (await mintToken(mintUrl, sats, { wallet })).token;

  it("a job's sats change when the published rate changes; a running job keeps the rate it was quoted at", async () => {
    const clock = new Clock(DAY1 + 12 * H);
    ticker = await PriceServer.start(100000);
    const config = testConfig(
      PaidEnv.config(sim, mintUrl, {
        plugins: ['auth', 'payment', 'metering', 'change', 'oracle'],
        oracle: { sources: [source('t', ticker.url)], intervalSeconds: 3600, timeoutMs: 5000 },
      }),
    );
    gw = await startShipped(config, { log: createLogger(config.log.level), now: clock.now });
    const oracle = gw.services.get(OracleKey);

    let res = await chat(await token(100));
    assert.equal(res.status, 200);
    await res.json();
    assert.equal(res.headers.get('x-cashu-cost-sats'), '32', '$0.032 at $100,000 (provisional)');
    type Models = { data: { id: string; pricing: Record<string, number> }[] };
    let models = await getJson<Models>(gw.url + '/v1/models');
    assert.deepEqual(models.data[0]!.pricing, { per_m_input_usd: 100, per_m_output_usd: 1000, per_m_input_sats: 100000, per_m_output_sats: 1000000, btc_usd: 100000 });

    // a new sample does not move the price before midnight
    clock.t += H;
    ticker.price = '50000';
    await oracle.poll();
    res = await chat(await token(100));
    await res.json();
    assert.equal(res.headers.get('x-cashu-cost-sats'), '32');

    // midnight: mean(100000, 50000) = 75000 → $0.032 = 42.67 → 43 sats
    clock.t = DAY2 + 1000;
    await oracle.tick();
    res = await chat(await token(100));
    await res.json();
    assert.equal(res.headers.get('x-cashu-cost-sats'), '43');
    models = await getJson<Models>(gw.url + '/v1/models');
    assert.equal(models.data[0]!.pricing.per_m_output_sats, 1333334, 'ceil($1000 / $75,000 × 1e8)');
    assert.equal(models.data[0]!.pricing.btc_usd, 75000);
    const rate = await rateOf(gw);
    assert.equal(rate.examples.find((e) => e.model === 'sim-vllm')?.per_m_output_sats, 1333334);

    // a job accepted at 75000 that finishes after the next midnight is billed at 75000
    clock.t = DAY2 + 2 * H;
    ticker.price = 40000;
    await oracle.poll();
    const streaming = await chat(await token(100), true);
    assert.equal(streaming.status, 200);
    const reader = streaming.body!.getReader();
    const first = await reader.read(); // the job is running
    assert.ok(!first.done);
    clock.t = DAY2 + DAY + 1000;
    await oracle.tick();
    assert.equal(oracle.rate(), 40000);
    let text = Buffer.from(first.value!).toString();
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString();
    const events = text.split('\n\n').filter(Boolean);
    const change = JSON.parse(events[events.length - 1]!.slice('data: '.length)) as { cost_sats: number; change_sats: number };
    assert.equal(change.cost_sats, 43, 'quoted at 75000');
    assert.equal(change.change_sats, 57);

    // the next job is quoted at 40000: $0.032 = 80 sats
    res = await chat(await token(100));
    await res.json();
    assert.equal(res.headers.get('x-cashu-cost-sats'), '80');
  });
});
