import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createFakeInvoice } from '../../src/devmint/index.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway } from '../../src/compose.js';
import { GatewayWallet } from '../../src/cashu/wallet.js';
import { createLogger } from '../../src/log.js';
import { WithdrawalsRepo } from '../../src/ledger/withdrawals.js';
import { LOCKED_JOBS } from '../../plugins/providers/withdraw.js';
import { ProvidersControlKey } from '../../plugins/providers/index.js';
import { SqliteDb } from '../../src/store/sqlite.js';
import { openDb } from '../../src/store/open.js';
import type { Db } from '../../src/store/db.js';
import { TEST_POSTGRES_URL } from '../helpers/postgres.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { PaidEnv, TEST_PRICING } from '../helpers/paid-env.js';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

const ADMIN = 'admin-key';
const ALICE = 'alice-key';
const BOB = 'bob-key';
/** Completion tokens cost 1 sat each and prompts nothing: a 30-token job costs exactly 30 sats (27 provider / 3 gateway). */
const PRICING = {
  ...TEST_PRICING,
  models: { 'sim-vllm': { per_m_input_usd: 0, per_m_output_usd: 1000 }, 'sim-reg': { per_m_input_usd: 0, per_m_output_usd: 1000 } },
};
const EXTRA = {
  providers: [{ id: 'alice', key: ALICE }, { id: 'bob', sha256: '9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98' }], // sha256('bob-key')
  admin: { key: ADMIN },
  pricing: PRICING,
  nodeTtlSeconds: 90,
  // The nodes here are simulators on 127.0.0.1.
  nodes: { allowPrivateAddresses: true },
};

interface Json {
  [k: string]: unknown;
}

async function api(env: PaidEnv, path: string, opts: { method?: string; key?: string; body?: unknown } = {}): Promise<{ status: number; body: Json }> {
  const res = await fetch(env.gw.url + path, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

const code = (r: { body: Json }) => (r.body.error as { code?: string } | undefined)?.code;

/** One paid job of `model`, 30 completion tokens (the simulator's default here): 30 sats. */
async function payJob(env: PaidEnv, model = env.model, sats = 100): Promise<Response> {
  const res = await fetch(env.gw.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cashu': await env.token(sats) },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }] }),
  });
  await res.arrayBuffer();
  return res;
}

/** The invariant, from the store and from GET /admin/ledger: held = gateway + providers + pending. */
async function assertBooks(env: PaidEnv): Promise<Json> {
  const books = await env.assertBooksBalance();
  const ledger = await api(env, '/admin/ledger', { key: ADMIN });
  assert.equal(ledger.status, 200);
  const l = ledger.body;
  assert.equal(l.held_sats, books.held, 'held_sats');
  assert.equal(l.gateway_balance_sats, books.gateway);
  assert.equal(l.provider_balances_sats, books.providers);
  assert.equal(l.pending_change_sats, books.pending);
  assert.equal(l.held_sats, (l.gateway_balance_sats as number) + (l.provider_balances_sats as number) + (l.pending_change_sats as number));
  assert.equal(l.balanced, true);
  assert.equal(l.reserved_sats, 0, 'no withdrawal left in flight');
  return l;
}

const balance = async (env: PaidEnv, key: string) => (await api(env, '/v1/provider/balance', { key })).body;

describe('providers: ledger, withdrawals, node registration, the books', () => {
  let env: PaidEnv | undefined;
  const sims: Simulator[] = [];
  afterEach(async () => {
    await env?.close();
    env = undefined;
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  const start = async (opts: Parameters<typeof PaidEnv.start>[0] = {}) => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30 }, ...opts, config: { ...EXTRA, ...(opts.config ?? {}) } });
    return env;
  };

  describe('the ledger', () => {
    it('credits 27 to the provider and 3 to the gateway for every 30-sat job, with history by model and day', async () => {
      const e = await start();
      for (let i = 0; i < 2; i++) assert.equal((await payJob(e)).headers.get('x-cashu-cost-sats'), '30');
      assert.deepEqual(await balance(e, ALICE), { provider: 'alice', balance_sats: 54, earned_sats: 54, jobs: 2, available_sats: 54, withdrawn_sats: 0 });
      assert.deepEqual(await balance(e, BOB), { provider: 'bob', balance_sats: 0, earned_sats: 0, jobs: 0, available_sats: 0, withdrawn_sats: 0 });
      const l = await assertBooks(e);
      assert.equal(l.held_sats, 60);
      assert.equal(l.gateway_balance_sats, 6);
      assert.equal(l.provider_balances_sats, 54);
      assert.equal(l.jobs, 2);
      assert.deepEqual(l.providers, [{ provider: 'alice', balance_sats: 54, earned_sats: 54, jobs: 2, withdrawn_sats: 0 }]);

      const h = (await api(e, '/v1/provider/history?days=7', { key: ALICE })).body;
      const today = new Date().toISOString().slice(0, 10);
      assert.deepEqual(h.days, [{ day: today, model: 'sim-vllm', jobs: 2, prompt_tokens: (h.days as Json[])[0]!.prompt_tokens, completion_tokens: 60, sats: 54, cost_sats: 60 }]);
      assert.deepEqual(h.totals, { jobs: 2, prompt_tokens: (h.totals as Json).prompt_tokens, completion_tokens: 60, sats: 54, cost_sats: 60 });
      const g = (await api(e, '/admin/history', { key: ADMIN })).body;
      assert.equal((g.totals as Json).sats, 6);
    });

    it('credits the whole job to the gateway when the backend has no provider', async () => {
      const e = await start({ config: { backends: [] } });
      const sim = await startSimulator({ kind: 'vllm', tokens: 30 });
      sims.push(sim);
      await e.gw.shutdown(0);
      e.gw = await startTestGateway(PaidEnv.config(sim, e.mintUrl, { ...EXTRA, backends: [{ id: 'anon', kind: 'vllm', url: sim.url }] }));
      await payJob(e);
      const l = await assertBooks(e);
      assert.equal(l.gateway_balance_sats, 30);
      assert.equal(l.provider_balances_sats, 0);
    });
  });

  describe('provider and admin keys', () => {
    it('answers 401 without a key, with a wrong key, and with another provider\'s key', async () => {
      const e = await start();
      await payJob(e);
      assert.equal(code(await api(e, '/v1/provider/balance')), 'auth_missing_key');
      const wrong = await api(e, '/v1/provider/balance', { key: 'nope' });
      assert.equal(wrong.status, 401);
      assert.equal(code(wrong), 'auth_invalid_key');
      const other = await api(e, '/v1/provider/balance?provider=alice', { key: BOB });
      assert.equal(other.status, 401);
      assert.equal(code(other), 'auth_invalid_key');
      for (const path of ['/v1/provider/withdraw-ecash', '/v1/provider/withdraw-lightning']) {
        assert.equal((await api(e, path, { body: {} })).status, 401);
        const r = await api(e, path, { key: BOB, body: { provider: 'alice', invoice: createFakeInvoice(5) } });
        assert.equal(r.status, 401, path);
      }
      // bob's own key only reaches bob's (empty) balance: alice's sats are not his to take
      const bobs = await api(e, '/v1/provider/withdraw-ecash', { key: BOB, body: {} });
      assert.equal(bobs.status, 409);
      assert.equal(code(bobs), 'insufficient_balance');
      // provider keys are not admin keys
      assert.equal((await api(e, '/admin/ledger', { key: ALICE })).status, 401);
      assert.equal((await api(e, '/admin/withdraw-ecash', { key: ALICE, body: {} })).status, 401);
      assert.equal((await api(e, '/admin/ledger')).status, 401);
      assert.equal((await balance(e, ALICE)).balance_sats, 27);
      await assertBooks(e);
    });
  });

  describe('withdraw-ecash', () => {
    it('pays an exact subset of held proofs without a mint call; the token redeems exactly', async () => {
      const e = await start();
      await payJob(e); // held after change: 1, 1, 4, 8, 16
      const swaps = e.swaps();
      const r = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: 24 } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(e.swaps(), swaps, 'no swap: 16 + 8 are held');
      assert.equal(r.body.amount_sats, 24);
      assert.equal(r.body.fee_sats, 0);
      assert.equal(r.body.balance_sats, 3);
      assert.match(r.body.token as string, /^cashuB/);
      await assertBooks(e);
      assert.equal(await e.redeem(r.body.token as string), 24);
      const list = (await api(e, '/v1/provider/withdrawals', { key: ALICE })).body.data as Json[];
      assert.equal(list.length, 1);
      assert.equal(list[0]!.status, 'paid');
      assert.equal(list[0]!.token, r.body.token, 'the token can be fetched again');
    });

    it('swaps once when no exact subset exists; the whole balance, then the gateway\'s earnings', async () => {
      const e = await start();
      await payJob(e); // held 1, 1, 4, 8, 16: no subset makes 27
      const swaps = e.swaps();
      const r = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { format: 'cashuA' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(e.swaps() - swaps, 1, 'one swap');
      assert.equal(r.body.amount_sats, 27);
      assert.match(r.body.token as string, /^cashuA/);
      assert.equal((await balance(e, ALICE)).balance_sats, 0);
      await assertBooks(e);
      assert.equal(await e.redeem(r.body.token as string), 27);

      const g = await api(e, '/admin/withdraw-ecash', { key: ADMIN, body: {} });
      assert.equal(g.status, 200, JSON.stringify(g.body));
      assert.equal(g.body.amount_sats, 3);
      assert.equal(e.swaps() - swaps, 2, 'the swap left exact change for the gateway (plus the redeem)');
      const l = await assertBooks(e);
      assert.deepEqual([l.held_sats, l.gateway_balance_sats, l.provider_balances_sats, l.withdrawn_sats], [0, 0, 0, 30]);
      assert.equal(await e.redeem(g.body.token as string), 3);
    });

    it('an exact withdrawal needs no mint; one that needs a swap answers 503 while the mint is down', async () => {
      const db = new SqliteDb(':memory:');
      const e = await start({ db });
      await payJob(e); // held 1, 1, 4, 8, 16
      await e.gw.shutdown(0);
      e.mint.down = true;
      e.gw = await startTestGateway(PaidEnv.config(e.sim, e.mintUrl, EXTRA), { db }); // no keysets loaded yet
      try {
        const swap = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: 27 } });
        assert.equal(swap.status, 503, JSON.stringify(swap.body));
        assert.equal(code(swap), 'cashu_mint_unreachable');
        const exact = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: 24 } });
        assert.equal(exact.status, 200, JSON.stringify(exact.body));
        assert.equal((await balance(e, ALICE)).balance_sats, 3);
      } finally {
        e.mint.down = false;
      }
      await assertBooks(e);
    });

    it('refuses more than the balance and leaves it whole', async () => {
      const e = await start();
      await payJob(e);
      const r = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: 28 } });
      assert.equal(r.status, 409);
      assert.equal(code(r), 'insufficient_balance');
      assert.equal((await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: -1 } })).status, 400);
      assert.equal((await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: 1.5 } })).status, 400);
      assert.equal((await balance(e, ALICE)).balance_sats, 27);
      await assertBooks(e);
    });

    it('two concurrent withdrawals never pay twice', async () => {
      const e = await start();
      await payJob(e);
      await payJob(e); // alice 54, gateway 6
      const all = await Promise.all([0, 1, 2].map(() => api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: {} })));
      const paid = all.filter((r) => r.status === 200);
      assert.equal(paid.length, 1, JSON.stringify(all.map((r) => [r.status, code(r)])));
      assert.ok(all.filter((r) => r.status !== 200).every((r) => code(r) === 'insufficient_balance'));
      assert.equal(await e.redeem(paid[0]!.body.token as string), 54);
      await assertBooks(e);

      await payJob(e);
      await payJob(e); // alice 54 again
      const parts = await Promise.all([20, 20, 20].map((n) => api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: n } })));
      assert.equal(parts.filter((r) => r.status === 200).length, 2, JSON.stringify(parts.map((r) => [r.status, code(r)])));
      let got = 0;
      for (const r of parts.filter((p) => p.status === 200)) got += await e.redeem(r.body.token as string);
      assert.equal(got, 40);
      assert.equal((await balance(e, ALICE)).balance_sats, 14);
      await assertBooks(e);
    });

    it('pays mint input fees from the withdrawing account when it has to swap', async () => {
      const e = await start({ inputFeePpk: 500 }); // 0.5 sat per input, rounded up per transaction
      await payJob(e);
      const before = (await balance(e, ALICE)).balance_sats as number;
      const r = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: { amount_sats: 10 } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const fee = r.body.fee_sats as number;
      assert.equal(r.body.debited_sats, 10 + fee);
      assert.equal((await balance(e, ALICE)).balance_sats, before - 10 - fee);
      await assertBooks(e);
    });

    it('a withdrawal whose swap never reached the mint is undone: balance whole, proofs held again', async () => {
      const e = await start();
      await payJob(e);
      e.mint.down = true;
      const r = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: {} });
      e.mint.down = false;
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body.status, 'pending');
      assert.equal((await balance(e, ALICE)).available_sats, 0, 'held back while in doubt');
      const inDoubt = (await api(e, '/admin/ledger', { key: ADMIN })).body;
      assert.equal(inDoubt.balanced, true, 'reserved proofs still count as held');
      assert.equal(await e.gw.services.get(ProvidersControlKey).reconcile(), 1);
      const list = (await api(e, '/v1/provider/withdrawals', { key: ALICE })).body.data as Json[];
      assert.equal(list[0]!.status, 'failed');
      assert.deepEqual(await balance(e, ALICE), { provider: 'alice', balance_sats: 27, earned_sats: 27, jobs: 1, available_sats: 27, withdrawn_sats: 0 });
      await assertBooks(e);
      const again = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: {} });
      assert.equal(again.status, 200);
      assert.equal(await e.redeem(again.body.token as string), 27);
      await assertBooks(e);
    });

    it('a withdrawal whose swap happened but whose answer was lost is completed from the restored outputs', async () => {
      const db = new SqliteDb(':memory:');
      const e = await start({ db });
      await payJob(e);
      // A second wallet on the same store plays the process that died after sending the swap.
      const wallet = new GatewayWallet({ db, mints: [e.mintUrl], backgroundUnblinding: false });
      const repo = new WithdrawalsRepo(db);
      const id = 'wd:lost-answer';
      const keyset = await wallet.spender.prepareMint(e.mintUrl);
      const prepared = await db.tx(async (sql) => {
        const rows = await wallet.spender.spendable(sql, e.mintUrl, LOCKED_JOBS);
        const p = await wallet.spender.planSwap(sql, id, e.mintUrl, keyset, rows, 27);
        await repo.open(sql, { id, account: 'provider:alice', kind: 'ecash', state: 'swapping', mint: e.mintUrl, amount_sats: 27, hold_sats: 27, format: 'B' });
        return p;
      });
      const sent = await fetch(e.mintUrl + '/v1/swap', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: prepared.inputs.map((p) => ({ amount: Number(p.amount), id: p.keyset_id, secret: p.secret, C: p.c })), outputs: prepared.outputs.map((o) => o.message) }),
      });
      assert.equal(sent.status, 200);
      await sent.arrayBuffer(); // ... and the answer is lost
      await wallet.close();
      assert.equal(await e.gw.services.get(ProvidersControlKey).reconcile(), 1);
      const w = ((await api(e, '/v1/provider/withdrawals', { key: ALICE })).body.data as Json[])[0]!;
      assert.equal(w.status, 'paid');
      assert.equal(w.amount_sats, 27);
      assert.equal((await balance(e, ALICE)).balance_sats, 0);
      await assertBooks(e);
      assert.equal(await e.redeem(w.token as string), 27);
    });
  });

  describe('withdraw-lightning', () => {
    it('pays a fake invoice by a melt, debits amount + fee, and the fee reserve comes back as change', async () => {
      const e = await start();
      await payJob(e);
      const r = await api(e, '/v1/provider/withdraw-lightning', { key: ALICE, body: { invoice: createFakeInvoice(10) } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(e.mint.counters.get('POST /v1/melt/bolt11'), 1);
      assert.equal(r.body.status, 'paid');
      assert.equal(r.body.amount_sats, 10);
      assert.equal(r.body.debited_sats, 10 + (r.body.fee_sats as number));
      assert.equal(r.body.fee_sats, 0, 'the dev mint routes for free: the whole reserve came back');
      assert.match(r.body.preimage as string, /^[0-9a-f]{64}$/);
      assert.equal((await balance(e, ALICE)).balance_sats, 17);
      const l = await assertBooks(e);
      assert.equal(l.held_sats, 20);
      // what came back is spendable: the rest of the balance leaves as ecash
      const rest = await api(e, '/v1/provider/withdraw-ecash', { key: ALICE, body: {} });
      assert.equal(rest.status, 200);
      assert.equal(await e.redeem(rest.body.token as string), 17);
      await assertBooks(e);
    });

    it('debits the mint input fee too, when the mint charges one', async () => {
      const e = await start({ inputFeePpk: 100 });
      await payJob(e);
      const r = await api(e, '/v1/provider/withdraw-lightning', { key: ALICE, body: { invoice: createFakeInvoice(10) } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.fee_sats, 1);
      assert.equal(r.body.debited_sats, 11);
      assert.equal((await balance(e, ALICE)).balance_sats, 16);
      await assertBooks(e);
    });

    it('leaves the balance whole when the invoice is refused, too large, or already paid', async () => {
      const e = await start();
      await payJob(e);
      const bad = await api(e, '/v1/provider/withdraw-lightning', { key: ALICE, body: { invoice: 'lnbcrt1notaninvoice' } });
      assert.equal(bad.status, 400);
      assert.equal(code(bad), 'invoice_invalid');
      assert.equal((await api(e, '/v1/provider/withdraw-lightning', { key: ALICE, body: {} })).status, 400);
      const big = await api(e, '/v1/provider/withdraw-lightning', { key: ALICE, body: { invoice: createFakeInvoice(26) } });
      assert.equal(big.status, 409, '26 + a 2-sat fee reserve is more than 27');
      assert.equal(code(big), 'insufficient_balance');
      const invoice = createFakeInvoice(5);
      assert.equal((await api(e, '/v1/provider/withdraw-lightning', { key: ALICE, body: { invoice } })).status, 200);
      await assertBooks(e);
      const twice = await api(e, '/v1/provider/withdraw-lightning', { key: ALICE, body: { invoice } });
      assert.equal(twice.status, 502);
      assert.equal(code(twice), 'withdrawal_failed');
      assert.equal((await balance(e, ALICE)).balance_sats, 22);
      assert.equal((await balance(e, ALICE)).available_sats, 22);
      await assertBooks(e);
    });

    it('a melt whose answer was lost is settled from its quote', async () => {
      const db = new SqliteDb(':memory:');
      const e = await start({ db });
      await payJob(e);
      const wallet = new GatewayWallet({ db, mints: [e.mintUrl], backgroundUnblinding: false });
      const repo = new WithdrawalsRepo(db);
      const id = 'wd:lost-melt';
      const keyset = await wallet.spender.prepareMint(e.mintUrl);
      const quote = await wallet.spender.meltQuote(e.mintUrl, createFakeInvoice(10));
      const prepared = await db.tx(async (sql) => {
        const rows = (await wallet.spender.spendable(sql, e.mintUrl, LOCKED_JOBS)).filter((r) => Number(r.amount) === 16);
        const p = await wallet.spender.planMelt(sql, id, e.mintUrl, keyset, rows, quote);
        await repo.open(sql, { id, account: 'provider:alice', kind: 'lightning', state: 'melting', mint: e.mintUrl, amount_sats: 10, hold_sats: 12, quote: quote.quote });
        return p;
      });
      const sent = await fetch(e.mintUrl + '/v1/melt/bolt11', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ quote: quote.quote, inputs: prepared.inputs.map((p) => ({ amount: Number(p.amount), id: p.keyset_id, secret: p.secret, C: p.c })), outputs: prepared.outputs.map((o) => o.message) }),
      });
      assert.equal(sent.status, 200);
      await sent.arrayBuffer();
      await wallet.close();
      assert.equal(await e.gw.services.get(ProvidersControlKey).reconcile(), 1);
      const w = ((await api(e, '/v1/provider/withdrawals', { key: ALICE })).body.data as Json[])[0]!;
      assert.equal(w.status, 'paid');
      assert.equal(w.debited_sats, 10);
      assert.equal((await balance(e, ALICE)).balance_sats, 17);
      await assertBooks(e);
    });
  });

  describe('node self-registration', () => {
    const regSim = async () => {
      const s = await startSimulator({ kind: 'ollama', tokens: 30, models: ['sim-reg'] });
      sims.push(s);
      return s;
    };

    it('a registered node joins after a health check, serves its model and earns for its provider', async () => {
      const e = await start();
      const node = await regSim();
      const r = await api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'ollama', maxConcurrent: 4 } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.provider, 'bob');
      assert.equal(r.body.healthy, true);
      assert.deepEqual(r.body.models, ['sim-reg:latest'], 'discovered from the node');
      const models = (await (await fetch(e.gw.url + '/v1/models')).json()) as { data: { id: string }[] };
      assert.ok(models.data.some((m) => m.id === 'sim-reg:latest'));
      const job = await payJob(e, 'sim-reg');
      assert.equal(job.status, 200);
      assert.equal(job.headers.get('x-cashu-cost-sats'), '30');
      assert.equal(node.requests.length, 1);
      assert.equal((await balance(e, BOB)).balance_sats, 27);
      assert.equal((await balance(e, ALICE)).balance_sats, 0);
      await assertBooks(e);
      const beat = await api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'ollama', maxConcurrent: 4 } });
      assert.equal(beat.status, 200, 'a heartbeat renews');
      const mine = (await api(e, '/v1/provider/nodes', { key: BOB })).body.data as Json[];
      assert.deepEqual(mine.map((n) => n.id), [r.body.id]);
    });

    it('a provider registers only for itself; a URL is one node; an unreachable node is not added', async () => {
      const e = await start();
      const node = await regSim();
      assert.equal((await api(e, '/v1/gateway/register', { body: { url: node.url, kind: 'ollama' } })).status, 401);
      const forAlice = await api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'ollama', provider: 'alice' } });
      assert.equal(forAlice.status, 401);
      assert.equal(code(forAlice), 'auth_invalid_key');
      assert.equal((await api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'ollama' } })).status, 201);
      const taken = await api(e, '/v1/gateway/register', { key: ALICE, body: { url: node.url, kind: 'ollama' } });
      assert.equal(taken.status, 422);
      assert.equal(code(taken), 'node_refused');
      const configured = await api(e, '/v1/gateway/register', { key: ALICE, body: { url: e.sim.url, kind: 'vllm' } });
      assert.equal(configured.status, 422, 'a configured backend cannot be re-registered');
      const down = await regSim();
      down.options = { ...down.options, healthy: false };
      const sick = await api(e, '/v1/gateway/register', { key: ALICE, body: { url: down.url, kind: 'ollama' } });
      assert.equal(sick.status, 422);
      assert.equal(code(sick), 'node_refused');
      assert.equal(e.gw.pool.all().filter((n) => n.source === 'registered').length, 1);
      assert.equal((await api(e, '/v1/gateway/register', { key: BOB, body: { url: 'ftp://x' } })).status, 400);
      assert.equal((await api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'tgi' } })).status, 400);
      const gone = await api(e, '/v1/gateway/register', { method: 'DELETE', key: BOB, body: { url: node.url } });
      assert.equal(gone.status, 204);
      assert.equal(e.gw.pool.all().filter((n) => n.source === 'registered').length, 0);
    });

    it('a silent node leaves after nodeTtlSeconds; heartbeats keep it', async () => {
      let clock = Date.now();
      const e = await start({ now: () => clock });
      const node = await regSim();
      const announce = () => api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'ollama', models: ['sim-reg'] } });
      assert.equal((await announce()).status, 201);
      const ttl = 90_000;
      clock += ttl - 1000;
      assert.equal((await announce()).status, 200);
      clock += ttl - 1000;
      await e.gw.services.get(ProvidersControlKey).refresh();
      assert.ok(e.gw.pool.get('bob/' + new URL(node.url).host), 'still there: it heartbeat');
      clock += 2000;
      await e.gw.services.get(ProvidersControlKey).refresh();
      assert.equal(e.gw.pool.all().filter((n) => n.source === 'registered').length, 0);
      const models = (await (await fetch(e.gw.url + '/v1/models')).json()) as { data: { id: string }[] };
      assert.ok(!models.data.some((m) => m.id.startsWith('sim-reg')));
      const token = await e.token(40);
      const res = await fetch(e.gw.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cashu': token },
        body: JSON.stringify({ model: 'sim-reg', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      assert.equal(res.status, 404);
      assert.equal(res.headers.get('x-cashu-change'), token, 'the untouched token comes back');
      await res.arrayBuffer();
      assert.equal((await api(e, '/v1/provider/nodes', { key: BOB })).body.data instanceof Array, true);
      assert.deepEqual((await api(e, '/v1/provider/nodes', { key: BOB })).body.data, []);
      await assertBooks(e);
    });

    it('registered nodes survive a gateway restart until their TTL runs out', async () => {
      const db = new SqliteDb(':memory:');
      const e = await start({ db });
      const node = await regSim();
      assert.equal((await api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'ollama' } })).status, 201);
      await e.gw.shutdown(0);
      e.gw = await startTestGateway(PaidEnv.config(e.sim, e.mintUrl, EXTRA), { db });
      const back = e.gw.pool.all().find((n) => n.source === 'registered');
      assert.ok(back, 'the registration was read back');
      assert.equal(back.healthy, true, 'health-checked at start');
      assert.equal(back.provider, 'bob');
      assert.equal((await payJob(e, 'sim-reg')).status, 200);
      assert.equal((await balance(e, BOB)).balance_sats, 27);
      await assertBooks(e);

      await e.gw.shutdown(0);
      const later = testConfig(PaidEnv.config(e.sim, e.mintUrl, EXTRA));
      e.gw = await startGateway(later, { db, log: createLogger(later.log.level), now: () => Date.now() + 91_000 });
      assert.equal(e.gw.pool.all().filter((n) => n.source === 'registered').length, 0, 'its TTL ran out while the gateway was down');
      await assertBooks(e);
    });
  });

  (TEST_POSTGRES_URL ? describe : describe.skip)('two replicas on one PostgreSQL store', () => {
    let admin: pg.Client;
    let name: string;
    const dbs: Db[] = [];
    let replica: Gateway | undefined;
    beforeEach(async () => {
      name = `owlrun_prov_${randomBytes(6).toString('hex')}`;
      admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
    });
    afterEach(async () => {
      await replica?.shutdown(0);
      replica = undefined;
      await env?.close();
      env = undefined;
      await Promise.all(dbs.splice(0).map((d) => d.close()));
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    });
    const open = async () => {
      const u = new URL(TEST_POSTGRES_URL!);
      u.pathname = `/${name}`;
      const db = await openDb(u.toString());
      dbs.push(db);
      return db;
    };

    it('concurrent withdrawals on both replicas never pay twice; a node registered on one is served by the other', async () => {
      const e = await start({ db: await open() });
      replica = await startTestGateway(PaidEnv.config(e.sim, e.mintUrl, EXTRA), { db: await open() });
      for (let i = 0; i < 3; i++) await payJob(e); // alice 81, gateway 9
      const urls = [e.gw.url, replica.url, e.gw.url, replica.url];
      const results = await Promise.all(urls.map((u, i) =>
        fetch(u + (i % 2 ? '/v1/provider/withdraw-lightning' : '/v1/provider/withdraw-ecash'), {
          method: 'POST',
          headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
          body: JSON.stringify(i % 2 ? { invoice: createFakeInvoice(30) } : { amount_sats: 30 }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json })),
      ));
      const paid = results.filter((r) => r.status === 200);
      // 81 sats pay two of them (30 as ecash, 30 + a 2-sat fee reserve over Lightning), never three
      assert.equal(paid.length, 2, JSON.stringify(results.map((r) => [r.status, code(r)])));
      assert.ok(results.filter((r) => r.status !== 200).every((r) => r.status === 409), JSON.stringify(results.map((r) => [r.status, code(r)])));
      const debited = paid.reduce((s, r) => s + (r.body.debited_sats as number), 0);
      assert.equal(debited, 60);
      assert.equal((await balance(e, ALICE)).balance_sats, 81 - debited);
      for (const r of paid) if (r.body.token) assert.equal(await e.redeem(r.body.token as string), 30);
      await assertBooks(e);

      const node = await startSimulator({ kind: 'ollama', tokens: 30, models: ['sim-reg'] });
      sims.push(node);
      assert.equal((await api(e, '/v1/gateway/register', { key: BOB, body: { url: node.url, kind: 'ollama' } })).status, 201);
      await replica.services.get(ProvidersControlKey).refresh();
      const seen = replica.pool.all().find((n) => n.source === 'registered');
      assert.ok(seen, 'the other replica routes to it too');
      await replica.pool.check(seen);
      const res = await fetch(replica.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-cashu': await e.token(100) },
        body: JSON.stringify({ model: 'sim-reg', messages: [{ role: 'user', content: 'Hello' }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.equal((await balance(e, BOB)).balance_sats, 27);
      await assertBooks(e);
    });
  });
});
