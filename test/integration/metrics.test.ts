import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PaidEnv } from '../helpers/paid-env.js';

const FAMILIES = [
  'owlrun_requests_total',
  'owlrun_request_duration_seconds',
  'owlrun_time_to_first_token_seconds',
  'owlrun_tokens_total',
  'owlrun_sats_total',
  'owlrun_jobs_total',
  'owlrun_active_streams',
  'owlrun_backend_up',
  'owlrun_backend_in_flight',
  'owlrun_backend_failovers_total',
  'owlrun_usage_disputes_total',
  'owlrun_queue_depth',
  'owlrun_queue_wait_seconds',
  'owlrun_queue_refusals_total',
  'owlrun_marketplace_nodes',
  'owlrun_marketplace_jobs_total',
  'owlrun_marketplace_registrations_total',
  'owlrun_mint_requests_total',
  'owlrun_mint_request_duration_seconds',
  'owlrun_payment_errors_total',
  'owlrun_oracle_btc_usd',
  'owlrun_wallet_held_sats',
  'owlrun_balance_sats',
  'owlrun_process_cpu_seconds_total',
];

/** Paid traffic of every kind: a streamed and a plain success, a refusal, a refund. */
async function traffic(env: PaidEnv): Promise<{ tokens: string[]; receipts: string[] }> {
  const tokens: string[] = [];
  const receipts: string[] = [];
  const send = async (headers: Record<string, string>, body: Record<string, unknown> = {}) => {
    const res = await fetch(env.gw.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: env.model, messages: [{ role: 'user', content: 'hi' }], ...body }),
    });
    await res.arrayBuffer();
    const r = res.headers.get('x-cashu-receipt');
    if (r) receipts.push(r);
    return res;
  };
  for (const stream of [true, false]) {
    const t = await env.token(60);
    tokens.push(t);
    assert.equal((await send({ 'x-cashu': t }, { stream })).status, 200);
  }
  assert.equal((await send({})).status, 402);
  env.sim.options.failStatus = 500;
  const t = await env.token(30);
  tokens.push(t);
  assert.equal((await send({ 'x-cashu': t })).status, 500);
  env.sim.options.failStatus = undefined;
  return { tokens, receipts };
}

describe('metrics', () => {
  let env: PaidEnv | undefined;
  let prom: ChildProcess | undefined;
  afterEach(async () => {
    prom?.kill('SIGKILL');
    prom = undefined;
    await env?.close();
    env = undefined;
  });

  it('exposes every metric family after paid traffic, with no bearer money in any label', async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 8, promptTokens: 10 }, config: { marketplace: { enabled: true } } });
    const { tokens, receipts } = await traffic(env);
    const text = await (await fetch(env.gw.url + '/metrics')).text();
    for (const family of FAMILIES) assert.match(text, new RegExp(`^# TYPE ${family} `, 'm'), family);
    for (const kind of ['paid', 'charged', 'change', 'refunded', 'provider', 'gateway']) assert.match(text, new RegExp(`owlrun_sats_total\\{kind="${kind}"\\} [1-9]`), kind);
    assert.match(text, /owlrun_jobs_total\{outcome="ok"\} 2/);
    assert.match(text, /owlrun_jobs_total\{outcome="refunded"\} 1/);
    assert.match(text, /owlrun_payment_errors_total\{reason="cashu_payment_required"\} 1/);
    assert.match(text, /owlrun_mint_requests_total\{operation="swap",outcome="ok"\} 3/);
    assert.match(text, /owlrun_tokens_total\{model="sim-vllm",kind="completion",source="backend"\} 16/);
    for (const secret of [...tokens, ...receipts]) assert.ok(!text.includes(secret.slice(0, 24)), 'a token or receipt reached /metrics');
    assert.ok(!/cashu[AB]/.test(text));
  });

  it('asks for metrics.key when one is set', async () => {
    env = await PaidEnv.start({ config: { metrics: { key: 'scrape-key' } } });
    assert.equal((await fetch(env.gw.url + '/metrics')).status, 401);
    const ok = await fetch(env.gw.url + '/metrics', { headers: { authorization: 'Bearer scrape-key' } });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /text\/plain/);
  });

  const PROMETHEUS = '/usr/bin/prometheus';
  // CI installs Debian's prometheus (.ci/run); elsewhere the test runs where it is installed.
  (existsSync(PROMETHEUS) || process.env.CI ? it : it.skip)('a real Prometheus scraping the gateway answers every query of the Grafana dashboard', async function () {
    this.timeout(90_000);
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 8, promptTokens: 10 }, config: { marketplace: { enabled: true } } });
    const dir = mkdtempSync(join(tmpdir(), 'owlrun-prom-'));
    const port = await freePort();
    const target = new URL(env.gw.url).host;
    writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: owlrun\n    static_configs: [ { targets: ['${target}'] } ]\n`);
    prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (q: string) => (await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json()) as { status: string; error?: string; data: { result: unknown[] } };
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.ok === true);
    await waitFor(async () => (await query('up{job="owlrun"} == 1')).data?.result.length === 1);
    await traffic(env);
    await traffic(env);
    // rate() needs two scrapes after the traffic
    const scrapes = async () => Number(((await query('count_over_time(up{job="owlrun"}[5m])')).data.result[0] as { value: [number, string] } | undefined)?.value[1] ?? 0);
    const after = await scrapes();
    await waitFor(async () => (await scrapes()) >= after + 3);

    const dashboard = JSON.parse(readFileSync('grafana/owlrun.json', 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    let withData = 0;
    let total = 0;
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        const expr = t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$model', '.*');
        const r = await query(expr);
        assert.equal(r.status, 'success', `${panel.title}: ${expr}: ${r.error}`);
        total++;
        if (r.data.result.length > 0) withData++;
      }
    }
    assert.ok(withData >= Math.ceil(total * 0.75), `only ${withData} of ${total} dashboard queries returned data`);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
