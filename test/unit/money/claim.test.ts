// A paid job's claim (src/money/claim.ts): two store transactions around one swap, and what a
// process killed at each boundary leaves — on SQLite, and on PostgreSQL when the test server is up.
import assert from 'node:assert/strict';
import { Wallet, type Proof } from '@cashu/cashu-ts';
import { Billing } from '../../../src/billing/billing.js';
import { FixedRate } from '../../../src/billing/rate.js';
import { ClaimInDoubtError } from '../../../src/cashu/mint-errors.js';
import type { PreparedClaim } from '../../../src/cashu/types.js';
import { GatewayWallet } from '../../../src/cashu/wallet.js';
import { createDevMint, mintToken, type DevMint } from '../../../src/devmint/index.js';
import { JobsRepo, type JobRow, type NewJob } from '../../../src/ledger/jobs.js';
import { completeClaim, openClaim } from '../../../src/money/claim.js';
import { settleOrphans } from '../../../src/money/recovery.js';
import type { MoneyServices } from '../../../src/money/services.js';
import type { Db, SqlExecutor, SqlValue } from '../../../src/store/db.js';
import { openDb } from '../../../src/store/open.js';
import { testConfig } from '../../helpers/gateway.js';
import { scratchDatabase, TEST_POSTGRES_URL } from '../../helpers/postgres.js';
import { createLogger } from '../../../src/log.js';

/**
 * A Db that counts what reaches the store: transactions, and statements run outside one. `failOn`
 * makes a statement matching it throw inside a transaction (that transaction rolls back).
 */
class CountingDb implements Db {
  txs = 0;
  outside = 0;
  failOn?: RegExp;
  constructor(private readonly inner: Db) {}
  get dialect() {
    return this.inner.dialect;
  }
  run(sql: string, params?: readonly SqlValue[]) {
    this.outside++;
    return this.inner.run(sql, params);
  }
  get<T extends Record<string, SqlValue>>(sql: string, params?: readonly SqlValue[]) {
    return this.inner.get<T>(sql, params);
  }
  all<T extends Record<string, SqlValue>>(sql: string, params?: readonly SqlValue[]) {
    return this.inner.all<T>(sql, params);
  }
  tx<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    this.txs++;
    return this.inner.tx((sql) => {
      const check = (s: string) => {
        if (this.failOn?.test(s)) throw new Error('injected store failure');
      };
      return fn({
        run: (s, p) => (check(s), sql.run(s, p)),
        get: (s, p) => sql.get(s, p),
        all: (s, p) => sql.all(s, p),
      });
    });
  }
  exclusive<T>(fn: (sql: SqlExecutor) => Promise<T>) {
    return this.inner.exclusive(fn);
  }
  exec(ddl: string) {
    return this.inner.exec(ddl);
  }
  close() {
    return this.inner.close();
  }
}

const STORES: { name: string; open(): Promise<{ db: Db; drop(): Promise<void> }> }[] = [
  { name: 'sqlite', open: async () => {
    const db = await openDb('sqlite::memory:');
    return { db, drop: () => db.close() };
  } },
];
if (TEST_POSTGRES_URL) {
  STORES.push({ name: 'postgres', open: async () => {
    const scratch = await scratchDatabase('owlrun_claim');
    const db = await openDb(scratch.url);
    return { db, drop: async () => {
      await db.close();
      await scratch.drop();
    } };
  } });
}

const newJob = (id: string, mint: string, sats: number): NewJob => ({
  id, model: 'm', route: 'openai_chat', mint, format: 'B', token_sats: sats, fee_sats: 0,
  price_in_pico: 0, price_out_pico: 0, rate_cents: 10_000_000, min_sats: 2, prompt_estimate: 5,
});

for (const store of STORES) {
  describe(`money/claim: a paid job's claim in two store transactions (${store.name})`, function () {
    this.timeout(60_000);
    let mint: DevMint;
    let mintDb: Db;
    let mintUrl: string;
    let client: Wallet;
    let raw: Db;
    let drop: () => Promise<void>;
    let db: CountingDb;
    let wallets: GatewayWallet[];

    const services = async (): Promise<MoneyServices> => {
      const wallet = new GatewayWallet({ db, mints: [mintUrl], backgroundUnblinding: false });
      wallets.push(wallet);
      const jobs = new JobsRepo(db, `owner-${wallets.length}`);
      await wallet.init();
      await jobs.init();
      const config = testConfig();
      return { wallet, jobs, billing: new Billing(config, new FixedRate(config.oracle.fixedRate)) };
    };
    const row = (id: string) => raw.get<JobRow>(`SELECT * FROM jobs WHERE id = ?`, [id]);
    const outputs = async (jobId: string) =>
      (await raw.all<{ state: string }>(`SELECT state FROM wallet_outputs WHERE job_id = ? ORDER BY state`, [jobId])).map((r) => r.state);
    const redeem = async (token: string): Promise<number> =>
      (await client.receive(token)).reduce((n: number, p: Proof) => n + p.amount.toNumber(), 0);
    /** A process started on the same store after this one was killed: start-up recovery. */
    const restart = async () => {
      const money = await services();
      await money.wallet.recoverPending();
      const left = await money.jobs.orphans(Date.now(), new Set(), 0);
      await settleOrphans(left, money, db, 3600, createLogger('silent'));
      return money;
    };
    /** Sends the prepared swap to the mint and loses the answer (the process is killed meanwhile). */
    const swapAndLoseAnswer = async (prepared: PreparedClaim) => {
      const res = await fetch(`${mintUrl}/v1/swap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(prepared.request) });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    };

    beforeEach(async () => {
      mintDb = await openDb('sqlite::memory:');
      mint = await createDevMint({ db: mintDb, log: () => undefined });
      mintUrl = await mint.listen(0);
      client = new Wallet(mintUrl, { unit: 'sat' });
      await client.loadMint();
      ({ db: raw, drop } = await store.open());
      db = new CountingDb(raw);
      wallets = [];
    });

    afterEach(async () => {
      for (const w of wallets) await w.close();
      await mint.close();
      await mintDb.close();
      await drop();
    });

    it('writes a claim in exactly two transactions and nothing outside them: row + pending outputs, then signatures + claimed', async () => {
      const money = await services();
      const ins = await money.wallet.inspect((await mintToken(mintUrl, 64, { wallet: client })).token);
      const plan = await money.wallet.planClaim('job-1', ins);
      const [txs, outside] = [db.txs, db.outside];

      const opened = await openClaim(db, money, newJob('job-1', ins.mint, 64), 'receipt-1', plan, Date.now());
      assert.ok(opened.created);
      assert.equal(db.txs - txs, 1, 'one transaction before the swap');
      assert.equal((await row('job-1'))?.state, 'claiming');
      assert.deepEqual(new Set(await outputs('job-1')), new Set(['pending']));
      assert.equal((await outputs('job-1')).length, opened.prepared.outputs.length);

      assert.deepEqual(await completeClaim(money, opened.prepared), { amount: 64, fee: 0 });
      assert.equal(db.txs - txs, 2, 'one transaction after the swap');
      assert.equal(db.outside - outside, 0, 'no write outside the two transactions');
      const claimed = await row('job-1');
      assert.deepEqual([claimed?.state, Number(claimed?.held_sats)], ['claimed', 64]);
      assert.deepEqual(new Set(await outputs('job-1')), new Set(['signed']));
      assert.equal(await money.wallet.heldByJob('job-1'), 64);
      assert.equal(mint.counters.get('POST /v1/swap'), 1);
    });

    it('a token that already paid writes nothing and sends nothing', async () => {
      const money = await services();
      const ins = await money.wallet.inspect((await mintToken(mintUrl, 16, { wallet: client })).token);
      const first = await openClaim(db, money, newJob('job-a', ins.mint, 16), 'same-receipt', await money.wallet.planClaim('job-a', ins), Date.now());
      assert.ok(first.created);
      await completeClaim(money, first.prepared);
      const again = await openClaim(db, money, newJob('job-b', ins.mint, 16), 'same-receipt', await money.wallet.planClaim('job-b', ins), Date.now());
      assert.equal(again.created, false);
      assert.equal(again.created === false && again.existing.id, 'job-a');
      assert.equal(await row('job-b'), undefined);
      assert.deepEqual(await outputs('job-b'), []);
      assert.equal(mint.counters.get('POST /v1/swap'), 1);
    });

    it('of 8 concurrent claims paying with one token, exactly one opens a job', async () => {
      const money = await services();
      const ins = await money.wallet.inspect((await mintToken(mintUrl, 16, { wallet: client })).token);
      const plans = await Promise.all(Array.from({ length: 8 }, (_, i) => money.wallet.planClaim(`job-${i}`, ins)));
      const results = await Promise.allSettled(plans.map((p, i) => openClaim(db, money, newJob(`job-${i}`, ins.mint, 16), 'one-token', p, Date.now())));
      const created = results.filter((r) => r.status === 'fulfilled' && r.value.created);
      assert.equal(created.length, 1, JSON.stringify(results.map((r) => (r.status === 'fulfilled' ? r.value.created : String(r.reason)))));
      assert.equal(Number((await raw.get<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs`))?.n), 1);
      assert.equal(Number((await raw.get<{ n: number }>(`SELECT COUNT(DISTINCT job_id) AS n FROM wallet_outputs`))?.n), 1, 'outputs of one job only');
    });

    it('transaction 1 is atomic: an output that cannot be stored leaves no job row, and the token is untouched', async () => {
      const money = await services();
      const t = (await mintToken(mintUrl, 32, { wallet: client })).token;
      const ins = await money.wallet.inspect(t);
      db.failOn = /INSERT INTO wallet_outputs/;
      await assert.rejects(openClaim(db, money, newJob('job-x', ins.mint, 32), 'receipt-x', await money.wallet.planClaim('job-x', ins), Date.now()), /injected/);
      db.failOn = undefined;
      assert.equal(await row('job-x'), undefined);
      assert.deepEqual(await outputs('job-x'), []);
      assert.equal(mint.counters.get('POST /v1/swap') ?? 0, 0);
      assert.equal(await redeem(t), 32);
    });

    it('killed after transaction 1, before the swap: recovery closes the job owing nothing; the token is untouched', async () => {
      const money = await services();
      const t = (await mintToken(mintUrl, 24, { wallet: client })).token;
      const ins = await money.wallet.inspect(t);
      const opened = await openClaim(db, money, newJob('job-k1', ins.mint, 24), 'receipt-k1', await money.wallet.planClaim('job-k1', ins), Date.now());
      assert.ok(opened.created);
      // killed here: the swap is never sent
      const next = await restart();
      const closed = await row('job-k1');
      assert.deepEqual([closed?.state, closed?.outcome, Number(closed?.held_sats)], ['settled', 'refused', 0]);
      assert.deepEqual(new Set(await outputs('job-k1')), new Set(['failed']));
      assert.equal(await next.wallet.heldBalance(), 0);
      assert.equal(await redeem(t), 24);
    });

    it('killed after the swap, before transaction 2: recovery restores the claimed sats and refunds them in full', async () => {
      const money = await services();
      const t = (await mintToken(mintUrl, 40, { wallet: client })).token;
      const ins = await money.wallet.inspect(t);
      const opened = await openClaim(db, money, newJob('job-k2', ins.mint, 40), 'receipt-k2', await money.wallet.planClaim('job-k2', ins), Date.now());
      assert.ok(opened.created);
      await swapAndLoseAnswer(opened.prepared); // killed here: the signatures never reach the store
      await assert.rejects(redeem(t), 'the mint did swap the client token');
      await restart();
      const settled = await row('job-k2');
      assert.deepEqual([settled?.state, settled?.outcome, Number(settled?.cost_sats), Number(settled?.change_sats)], ['settled', 'recovered', 0, 40]);
      assert.equal(await redeem(settled!.change_token!), 40, 'the refund redeems for every claimed sat');
    });

    it('transaction 2 is atomic: when the job cannot be marked claimed the signatures are not stored either; recovery refunds in full', async () => {
      const money = await services();
      const ins = await money.wallet.inspect((await mintToken(mintUrl, 20, { wallet: client })).token);
      const opened = await openClaim(db, money, newJob('job-t2', ins.mint, 20), 'receipt-t2', await money.wallet.planClaim('job-t2', ins), Date.now());
      assert.ok(opened.created);
      db.failOn = /UPDATE jobs SET state = 'claimed'/;
      await assert.rejects(completeClaim(money, opened.prepared), (err) => err instanceof ClaimInDoubtError);
      db.failOn = undefined;
      assert.equal((await row('job-t2'))?.state, 'claiming');
      assert.deepEqual(new Set(await outputs('job-t2')), new Set(['pending']), 'no signature stored without the claimed row');
      assert.equal(Number((await raw.get<{ n: number }>(`SELECT COUNT(*) AS n FROM wallet_signatures`))?.n), 0);
      await restart();
      const settled = await row('job-t2');
      assert.deepEqual([settled?.state, Number(settled?.change_sats)], ['settled', 20]);
      assert.equal(await redeem(settled!.change_token!), 20);
    });
  });
}
